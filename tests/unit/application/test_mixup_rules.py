"""The rules against an OAuth mix-up and against overrides that leave the issuer
(SPEC §3; RFC 9700 §4.4): origins, endpoints, client ids, overrides, and the
callback's ``iss`` (which a pasted redirect goes through too)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from codex_login.application.browser_login import BrowserLogin, CallbackAnswer, Failed, Ignored
from codex_login.application.signin import SignIn
from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import (
    ClientIdRequired,
    ConfigurationError,
    ForeignEndpoint,
    ForeignOverride,
    IssuerMismatch,
    TokenEndpointError,
)
from codex_login.domain.issuer import (
    DEFAULT_CLIENT_ID,
    DEFAULT_ISSUER,
    IssuerConfig,
    bind,
    issuer_config,
)
from codex_login.domain.login import AuthorizationRequest
from codex_login.domain.origins import origin_of, parse_origins, same_origin
from codex_login.domain.tokens import Provenance, TokenData, TokenGrant
from codex_login.stores import MemoryCredentialStore
from codex_login.testing.clock import SettableClock
from support.fakes import FakeTokenEndpoint
from support.tokens import make_jwt

HONEST = "https://auth.openai.com"
EVIL = "https://evil.example"

labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
hosts = st.lists(labels, min_size=1, max_size=3).map(lambda parts: ".".join([*parts, "test"]))
paths = st.sampled_from(["", "/", "/oauth/token", "/a/b?x=1", "/#frag"])


def stored(provenance: Provenance | None, claims: dict[str, object] | None = None) -> TokenData:
    return TokenData(
        id_token=parse_id_token(make_jwt(claims or {})),
        access_token="at",
        refresh_token="rt",
        provenance=provenance,
    )


# -- origins ------------------------------------------------------------------------


@given(host=hosts, path=paths, explicit_port=st.booleans(), upper=st.booleans())
def test_default_ports_case_and_paths_do_not_change_an_origin(
    host: str, path: str, explicit_port: bool, upper: bool
) -> None:
    written = f"{'HTTPS' if upper else 'https'}://{host.upper() if upper else host}"
    written += ":443" if explicit_port else ""
    assert origin_of(written + path) == f"https://{host}"
    assert same_origin(written + path, f"https://{host}/")


@given(host=hosts, other=hosts, port=st.integers(1, 65535), path=paths)
def test_another_host_port_or_scheme_is_another_origin(
    host: str, other: str, port: int, path: str
) -> None:
    assume(host != other)
    assert not same_origin(f"https://{other}{path}", f"https://{host}")
    assert not same_origin(f"http://{host}{path}", f"https://{host}")
    assume(port != 443)
    assert not same_origin(f"https://{host}:{port}{path}", f"https://{host}")


@given(host=hosts, trick=st.sampled_from(["{h}@{e}", "{e}\\@{h}", "{h}:443@{e}", "{h}%2f@{e}"]))
def test_a_host_a_browser_may_read_differently_has_no_origin(host: str, trick: str) -> None:
    url = "https://" + trick.format(h="auth.openai.com", e=host) + "/oauth/authorize"
    with pytest.raises(ValueError, match="no plain host"):
        origin_of(url)
    assert not same_origin(url, HONEST)
    assert not same_origin(url, f"https://{host}")


@pytest.mark.parametrize(
    "url", ["ftp://auth.openai.com", "https://", "https://:443", "https://h.test:99999"]
)
def test_urls_without_an_origin_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"not an http\(s\) URL|no host|no plain host|[Pp]ort"):
        origin_of(url)


def test_trusted_origins_are_read_with_commas_or_spaces_and_normalised() -> None:
    listed = parse_origins("https://A.test:443/, http://127.0.0.1:8080  https://b.test", "VAR")
    assert listed == {"https://a.test", "http://127.0.0.1:8080", "https://b.test"}


@pytest.mark.parametrize(
    "entry", ["https://a.test/oauth", "a.test", "https://u@a.test", "https://a.test?x=1"]
)
def test_a_trusted_origin_with_more_than_an_origin_is_refused(entry: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^VAR: .* is not an origin") as caught:
        parse_origins(entry, "VAR")
    assert "\n" not in str(caught.value)


# -- endpoints an issuer names ----------------------------------------------------------


@given(path=paths, explicit_port=st.booleans())
def test_an_endpoint_on_the_issuers_origin_is_accepted(path: str, explicit_port: bool) -> None:
    config = issuer_config(issuer=EVIL + "/tenant", client_id="app_evil")
    url = EVIL + (":443" if explicit_port else "") + (path or "/") + ""
    assert config.check_endpoint(url, "token endpoint") == url


@pytest.mark.parametrize(
    "url",
    [
        HONEST + "/oauth/authorize",
        "https://evil.example:8443/token",
        "http://localhost:443/token",
        "https://sub.evil.example/token",
    ],
)
def test_an_endpoint_on_another_origin_is_refused_naming_it(url: str) -> None:
    config = issuer_config(issuer=EVIL, client_id="app_evil")
    with pytest.raises(ForeignEndpoint) as caught:
        config.check_endpoint(url, "authorization endpoint")
    message = str(caught.value)
    assert url in message
    assert origin_of(url) in message
    assert "CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS" in message
    assert "\n" not in message


def test_an_origin_the_user_names_is_trusted() -> None:
    config = issuer_config(issuer=EVIL, client_id="app", trusted_origins="https://oauth2.idp.test")
    assert config.check_endpoint("https://OAUTH2.idp.test/token", "token endpoint")
    with pytest.raises(ForeignEndpoint):
        config.check_endpoint("https://other.idp.test/token", "token endpoint")


def test_an_endpoint_with_user_info_is_refused_even_on_the_issuers_host() -> None:
    config = issuer_config(issuer=EVIL, client_id="app")
    with pytest.raises(ConfigurationError, match="user info"):
        config.check_endpoint("https://auth.openai.com@evil.example/token", "token endpoint")


def test_an_issuer_with_user_info_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="user info"):
        issuer_config(issuer="https://auth.openai.com@evil.example")


# -- the client id and iss ------------------------------------------------------------------


def test_openais_client_id_is_not_lent_to_another_issuer() -> None:
    with pytest.raises(ClientIdRequired, match="needs that issuer's own client id") as caught:
        issuer_config(issuer=EVIL).check_login_client()
    assert "\n" not in str(caught.value)
    assert "--client-id" not in str(caught.value)  # a flag is the CLI's to name
    assert caught.value.issuer == EVIL


@pytest.mark.parametrize(
    "config",
    [
        issuer_config(),
        issuer_config(issuer=HONEST),
        issuer_config(issuer=EVIL, client_id="app_evil"),
        issuer_config(issuer=EVIL, client_id=DEFAULT_CLIENT_ID),  # named: the user's choice
        IssuerConfig(issuer=EVIL, client_id="app_evil"),
    ],
)
def test_a_login_with_a_client_id_of_its_own_may_start(config: IssuerConfig) -> None:
    config.check_login_client()


def test_iss_is_required_at_every_issuer_but_the_default_and_where_promised() -> None:
    assert issuer_config(issuer=EVIL, client_id="a").requires_iss(advertised=False)
    assert not issuer_config().requires_iss(advertised=False)
    assert issuer_config().requires_iss(advertised=True)


# -- URL overrides ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "settings"),
    [
        ("CODEX_REFRESH_TOKEN_URL_OVERRIDE", {"refresh_url": "http://127.0.0.1:9/oauth/token"}),
        ("CODEX_REVOKE_TOKEN_URL_OVERRIDE", {"revoke_url": EVIL + "/oauth/revoke"}),
    ],
)
def test_an_override_off_the_stored_issuers_origin_is_refused(
    variable: str, settings: dict[str, str]
) -> None:
    login = stored(Provenance(DEFAULT_ISSUER, DEFAULT_CLIENT_ID))
    with pytest.raises(ForeignOverride) as caught:
        bind(login, issuer_config(**settings))
    assert isinstance(caught.value, IssuerMismatch)  # refused as a mismatch is
    message = str(caught.value)
    assert variable in message
    assert next(iter(settings.values())) in message
    assert "nothing was sent" in message
    assert "\n" not in message


def test_an_override_is_checked_against_the_issuer_of_a_file_without_provenance() -> None:
    login = stored(None, {"iss": HONEST, "aud": [DEFAULT_CLIENT_ID]})
    with pytest.raises(ForeignOverride):
        bind(login, issuer_config(refresh_url=EVIL + "/oauth/token"))
    unrecorded = stored(None, {"aud": [DEFAULT_CLIENT_ID]})  # no iss: the configured issuer's
    with pytest.raises(ForeignOverride):
        bind(unrecorded, issuer_config(refresh_url=EVIL + "/oauth/token"))


def test_an_override_on_the_stored_issuers_origin_is_kept() -> None:
    local = "http://127.0.0.1:4444"
    login = stored(Provenance(local, "app_local"))
    bound = bind(
        login,
        issuer_config(refresh_url=local + "/v1/refresh", revoke_url="http://127.0.0.1:4444/r"),
    )
    assert bound.refresh_url_override == local + "/v1/refresh"
    assert bound.revoke_url_override == "http://127.0.0.1:4444/r"


# -- the callback's iss rule (the browser and the pasted redirect share it) ----------------------


class RecordingExchange(FakeTokenEndpoint):
    """Records each code exchange it is asked for, and refuses it."""

    def __init__(self) -> None:
        super().__init__(SettableClock())
        self.codes: list[str] = []

    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        self.codes.append(code)
        raise TokenEndpointError("not in this test")


def answer_to(
    config: IssuerConfig, advertised: bool, query: dict[str, str]
) -> tuple[CallbackAnswer, list[str]]:
    endpoint = RecordingExchange()
    signin = SignIn(
        endpoint=endpoint, store=MemoryCredentialStore(), clock=SettableClock(), issuer=config
    )
    request = AuthorizationRequest(
        url="https://x.invalid", redirect_uri="http://localhost:1455/auth/callback",
        state="s", verifier="v", iss_advertised=advertised,
    )  # fmt: skip
    login = BrowserLogin(request=request, signin=signin)
    params = {name: [value] for name, value in {"state": "s", **query}.items()}
    return asyncio.run(login.callback(params)), endpoint.codes


OTHER = issuer_config(issuer=EVIL, client_id="app_evil")


@pytest.mark.parametrize(
    ("config", "advertised", "query"),
    [
        (OTHER, False, {"code": "c"}),
        (OTHER, True, {"code": "c"}),
        (issuer_config(), True, {"code": "c"}),
        (OTHER, False, {"error": "access_denied"}),
    ],
)
def test_a_response_without_iss_is_refused_where_iss_is_required(
    config: IssuerConfig, advertised: bool, query: dict[str, str]
) -> None:
    answer, exchanged = answer_to(config, advertised, query)
    assert isinstance(answer, Failed)
    assert answer.status == 400
    assert "(no iss)" in str(answer.error)
    assert "\n" not in str(answer.error)
    assert exchanged == []


@pytest.mark.parametrize(
    ("config", "query"),
    [
        (issuer_config(), {"code": "c"}),  # the default issuer, which promises nothing
        (OTHER, {"code": "c", "iss": EVIL}),
        (OTHER, {"code": "c", "iss": EVIL + "/"}),
    ],
)
def test_a_response_that_may_or_does_name_its_issuer_is_exchanged(
    config: IssuerConfig, query: dict[str, str]
) -> None:
    _, exchanged = answer_to(config, False, query)
    assert exchanged == ["c"]


def test_a_response_naming_no_code_and_no_error_stays_an_incomplete_one() -> None:
    answer, exchanged = answer_to(OTHER, True, {})
    assert isinstance(answer, Ignored)
    assert exchanged == []
