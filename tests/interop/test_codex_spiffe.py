"""Workload identity from SPIFFE: the real Codex CLI and codex-login ask the same fake
Workload API the same thing.

The Codex CLI 0.171 posts the exchange to auth.openai.com only (no override variable),
so it is run until that post: with a proxy that nothing listens on, it fetches the
JWT-SVID from the testing kit's fake Workload API and then fails with "the workload
identity token exchange is unavailable". What it sent to the Workload API is recorded
and codex-login, which exchanges at the fake issuer, must send the same; the answers
Codex refuses, codex-login refuses. CODEX_PEER_NOTES.md (j) has the measurements.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codex_login.domain.workload_identity import JwtSvid
from codex_login.testing.issuer.values import JWT_BEARER_GRANT, WorkloadRule
from codex_login.testing.spiffe import FakeWorkloadApi, FetchRequest, running_workload_api
from codex_login.testing.tokens import make_jwt
from interop.peers.codex_peer import clean_stderr, run_codex
from support.cli import clean_env, run_cli
from support.fake_issuer import FakeIssuer, running_issuer

pytestmark = pytest.mark.interop

RULE = "idpm_rule_spiffe"
AUDIENCE = "https://auth.openai.com"
CI_ID = "spiffe://example.org/ci"
OTHER_ID = "spiffe://example.org/other"
NO_PROXY_LISTENS = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback
CODEX_EXCHANGE_FAILED = "the workload identity token exchange is unavailable"


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with running_issuer(FakeIssuer()) as running:
        running.trust_workload(RULE, WorkloadRule(subject=CI_ID))
        yield running


@pytest.fixture
def api() -> Iterator[FakeWorkloadApi]:
    with running_workload_api(FakeWorkloadApi(spiffe_ids=[CI_ID])) as api:
        yield api


def spiffe_variables(api: FakeWorkloadApi, **more: str) -> dict[str, str]:
    return {
        "OPENAI_FEDERATION_RULE_ID": RULE,
        "OPENAI_IDENTITY_TOKEN_SOURCE": "spiffe",
        "SPIFFE_ENDPOINT_SOCKET": api.endpoint,
        "OPENAI_SPIFFE_AUDIENCE": AUDIENCE,
        **more,
    }


def codex_says(codex: Path, home: Path, api: FakeWorkloadApi, **more: str) -> str:
    """Codex's one error line for `codex login status` (it always fails: see above)."""
    home.mkdir(exist_ok=True)
    env = {
        **spiffe_variables(api, **more),
        "HTTPS_PROXY": NO_PROXY_LISTENS,
        "HTTP_PROXY": NO_PROXY_LISTENS,
        "ALL_PROXY": NO_PROXY_LISTENS,
    }
    env = {name: value for name, value in env.items() if value}
    done = run_codex(codex, ["login", "status"], home, env=env)
    assert done.returncode == 1, done
    (line,) = clean_stderr(done.stderr).splitlines()
    return line.removeprefix("Error checking login status: ")


def ours(home: Path, issuer: FakeIssuer, api: FakeWorkloadApi, **more: str) -> tuple[int, str]:
    env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.url, **spiffe_variables(api, **more))
    env = {name: value for name, value in env.items() if value}
    done = run_cli("token", env=env)
    return done.returncode, done.stderr


def sent(request: FetchRequest) -> tuple[tuple[str, ...], str, str | None]:
    """What a client chose to send (not its user-agent)."""
    return request.audience, request.spiffe_id, request.security_header


@pytest.mark.parametrize("more", [{}, {"OPENAI_SPIFFE_ID": CI_ID}])
def test_codex_login_asks_the_workload_api_what_codex_asks(
    codex: Path, tmp_path: Path, issuer: FakeIssuer, api: FakeWorkloadApi, more: dict[str, str]
) -> None:
    assert codex_says(codex, tmp_path / "codex", api, **more) == CODEX_EXCHANGE_FAILED
    (theirs,) = api.requests
    assert sent(theirs) == ((AUDIENCE,), more.get("OPENAI_SPIFFE_ID", ""), "true")
    api.requests.clear()

    code, said = ours(tmp_path / "ours", issuer, api, **more)
    assert code == 0, said
    (mine,) = api.requests
    assert sent(mine) == sent(theirs)
    (post,) = issuer.posts(JWT_BEARER_GRANT)
    assert post.form["assertion"] == api.issued[-1]


def test_both_send_the_audience_trimmed(
    codex: Path, tmp_path: Path, issuer: FakeIssuer, api: FakeWorkloadApi
) -> None:
    padded = f" {AUDIENCE} "
    codex_says(codex, tmp_path / "codex", api, OPENAI_SPIFFE_AUDIENCE=padded)
    assert ours(tmp_path / "ours", issuer, api, OPENAI_SPIFFE_AUDIENCE=padded)[0] == 0
    assert [request.audience for request in api.requests] == [(AUDIENCE,), (AUDIENCE,)]


def svid(subject: str, audience: object = (AUDIENCE,)) -> JwtSvid:
    claims = {"sub": subject, "aud": list(audience) if isinstance(audience, tuple) else audience}
    return JwtSvid(subject, make_jwt({**claims, "exp": int(time.time()) + 300}))


@pytest.mark.parametrize(
    "case",
    [
        (
            [svid(CI_ID), svid(OTHER_ID)],
            {},
            "returned multiple JWT-SVIDs; configure an explicit SPIFFE ID",
            "returned 2 JWT-SVIDs; set OPENAI_SPIFFE_ID",
        ),
        (
            [svid(CI_ID), svid(OTHER_ID)],
            {"OPENAI_SPIFFE_ID": CI_ID},
            "returned multiple JWT-SVIDs",
            "returned 2 JWT-SVIDs",
        ),
        ([], {}, "the workload identity assertion is invalid", "returned no JWT-SVID"),
        (
            [svid(OTHER_ID)],
            {"OPENAI_SPIFFE_ID": CI_ID},
            "the workload identity assertion is invalid",
            "is invalid: it is spiffe://example.org/other's",
        ),
        (
            [svid(CI_ID, ("another-audience",))],
            {},
            "the workload identity assertion is invalid",
            "its aud does not hold",
        ),
        (
            [svid("repo:acme/app")],
            {},
            "the workload identity assertion is invalid",
            "its sub is not a SPIFFE ID",
        ),
    ],
)
def test_what_codex_refuses_in_an_answer_codex_login_refuses(
    codex: Path,
    tmp_path: Path,
    issuer: FakeIssuer,
    api: FakeWorkloadApi,
    case: tuple[list[JwtSvid], dict[str, str], str, str],
) -> None:
    api.answer, more, codex_error, our_error = case
    assert codex_error in codex_says(codex, tmp_path / "codex", api, **more)
    code, said = ours(tmp_path / "ours", issuer, api, **more)
    (line,) = said.splitlines()
    assert code == 1
    assert our_error in line
    assert issuer.posts(JWT_BEARER_GRANT) == []


@pytest.mark.parametrize(
    "case",
    [
        (
            {"SPIFFE_ENDPOINT_SOCKET": ""},
            "workload identity requires SPIFFE_ENDPOINT_SOCKET",
            "workload identity requires SPIFFE_ENDPOINT_SOCKET",
        ),
        (
            {"OPENAI_SPIFFE_AUDIENCE": ""},
            "workload identity requires OPENAI_SPIFFE_AUDIENCE",
            "workload identity requires OPENAI_SPIFFE_AUDIENCE",
        ),
        (
            {"OPENAI_IDENTITY_TOKEN_FILE": "/run/identity/token"},
            "SPIFFE authentication cannot also set OPENAI_IDENTITY_TOKEN_FILE",
            "SPIFFE authentication cannot also set OPENAI_IDENTITY_TOKEN_FILE",
        ),
        (
            {"OPENAI_IDENTITY_TOKEN_SOURCE": "", "OPENAI_IDENTITY_TOKEN_FILE": "/run/identity/t"},
            "SPIFFE settings require OPENAI_IDENTITY_TOKEN_SOURCE=spiffe",
            "SPIFFE settings require OPENAI_IDENTITY_TOKEN_SOURCE=spiffe",
        ),
        (
            {"SPIFFE_ENDPOINT_SOCKET": "unix:agent.sock"},
            "the SPIFFE Workload API endpoint must be an absolute unix: socket URI",
            "SPIFFE_ENDPOINT_SOCKET must be an absolute unix: socket URI",
        ),
        (
            {"OPENAI_SPIFFE_ID": "spiffe://example.org/ci?query"},
            "the requested SPIFFE ID is invalid",
            "OPENAI_SPIFFE_ID is not a SPIFFE ID",
        ),
    ],
)
def test_a_partial_configuration_fails_in_both_before_any_fetch(
    codex: Path,
    tmp_path: Path,
    issuer: FakeIssuer,
    api: FakeWorkloadApi,
    case: tuple[dict[str, str], str, str],
) -> None:
    more, codex_error, our_error = case
    assert codex_says(codex, tmp_path / "codex", api, **more) == codex_error
    code, said = ours(tmp_path / "ours", issuer, api, **more)
    (line,) = said.splitlines()
    assert code == 1
    assert our_error in line
    assert api.requests == []
