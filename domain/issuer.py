"""Which OAuth issuer to talk to, and where its endpoints are."""

from __future__ import annotations

import enum

import attrs

from codex_login.domain.errors import (
    ClientIdRequired,
    ConfigurationError,
    ForeignEndpoint,
    ForeignOverride,
    IssuerMismatch,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.origins import origin_of, parse_origins, same_origin
from codex_login.domain.tokens import Provenance, TokenData

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# The origins a user trusts with an issuer's endpoints besides the issuer's own.
TRUSTED_ORIGINS_VARIABLE = "CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS"
REFRESH_OVERRIDE_VARIABLE = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"
REVOKE_OVERRIDE_VARIABLE = "CODEX_REVOKE_TOKEN_URL_OVERRIDE"


class IssuerProfile(enum.Enum):
    """How the issuer speaks: the OpenAI issuer (JSON refresh) or any RFC 6749 server."""

    OPENAI = "openai"
    STANDARD = "standard"


@attrs.frozen(repr=False)
class IssuerEndpoints(FieldsRepr):
    """Where an issuer's endpoints are: fixed paths, or read from its metadata."""

    issuer: str
    authorize: str
    token: str
    revocation: str | None = None
    device_authorization: str | None = None
    # The metadata says the issuer sends ``iss`` with its authorization responses (RFC 9207).
    iss_parameter_supported: bool = False


def profile_for(issuer: str) -> IssuerProfile:
    """The default issuer speaks OpenAI's dialect; any other is a standard OAuth server."""
    return IssuerProfile.OPENAI if issuer == DEFAULT_ISSUER else IssuerProfile.STANDARD


@attrs.frozen(repr=False)
class IssuerConfig(FieldsRepr):
    """The issuer, the client id, and the URL overrides the Codex CLI honours.

    ``explicit`` says the issuer was named by the user (``--issuer``,
    ``CODEX_LOGIN_ISSUER``); ``forced_profile`` that the profile was
    (``CODEX_LOGIN_ISSUER_PROFILE``); ``client_named`` that the client id was
    (``--client-id``, ``CODEX_LOGIN_CLIENT_ID``). ``trusted_origins`` are the
    origins besides the issuer's own where its metadata may put endpoints
    (``CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS``).

    Against an OAuth mix-up (RFC 9700 §4.4), for a client whose one redirect URI
    every issuer shares: a login at another issuer than the default needs its own
    client id (``check_login_client``); its endpoints stay on its origin
    (``check_endpoint``); its authorization response must carry ``iss``
    (``requires_iss``); and the URL overrides apply only on the issuer's origin
    (``check_overrides``).
    """

    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    profile: IssuerProfile = IssuerProfile.OPENAI
    refresh_url_override: str | None = None
    revoke_url_override: str | None = None
    explicit: bool = False
    forced_profile: IssuerProfile | None = None
    client_named: bool = False
    trusted_origins: frozenset[str] = frozenset()

    @property
    def is_default(self) -> bool:
        return self.issuer == DEFAULT_ISSUER

    def check_login_client(self) -> None:
        """Refuse a new login at another issuer with OpenAI's client id, unless named.

        With that client id and the one shared redirect URI, another issuer could
        send the browser to OpenAI's sign-in page and collect the code.
        """
        if self.is_default or self.client_named or self.client_id != DEFAULT_CLIENT_ID:
            return
        raise ClientIdRequired(self.issuer, DEFAULT_ISSUER)

    def requires_iss(self, advertised: bool) -> bool:
        """Whether the authorization response must name its issuer (RFC 9207 ``iss``).

        Always at another issuer than the default (the shared redirect URI cannot
        tell issuers apart), and wherever the metadata promises it.
        """
        return advertised or not self.is_default

    def check_endpoint(self, url: str, what: str) -> str:
        """``url``, when it is on the issuer's origin or one the user trusts."""
        origin = origin_of(check_url(url, what))  # check_url refused a URL without one
        if same_origin(url, self.issuer) or origin in self.trusted_origins:
            return url
        raise ForeignEndpoint(
            issuer=self.issuer,
            what=what,
            url=url,
            origin=origin,
            setting=TRUSTED_ORIGINS_VARIABLE,
        )

    def check_overrides(self) -> IssuerConfig:
        """This configuration, when its URL overrides stay on the issuer's origin.

        The Codex CLI uses them to move an endpoint within its issuer; one on
        another origin would send that host a token of this issuer.
        """
        for variable, url in (
            (REFRESH_OVERRIDE_VARIABLE, self.refresh_url_override),
            (REVOKE_OVERRIDE_VARIABLE, self.revoke_url_override),
        ):
            if url is not None and not same_origin(url, self.issuer):
                raise ForeignOverride(variable=variable, url=url, issuer=self.issuer)
        return self

    @property
    def provenance(self) -> Provenance:
        """What a login through this issuer records with its tokens."""
        return Provenance(self.issuer, self.client_id)

    def bound_to(self, provenance: Provenance) -> IssuerConfig:
        """This configuration, talking to the issuer and client that issued a login."""
        issuer = check_url(provenance.issuer, "stored issuer").rstrip("/")
        return attrs.evolve(
            self,
            issuer=issuer,
            client_id=provenance.client_id,
            profile=self.forced_profile or profile_for(issuer),
        )

    def openai_endpoints(self) -> IssuerEndpoints:
        """The OpenAI issuer's fixed paths (profile ``openai``)."""
        return IssuerEndpoints(
            issuer=self.issuer,
            authorize=f"{self.issuer}/oauth/authorize",
            token=f"{self.issuer}/oauth/token",
            revocation=f"{self.issuer}/oauth/revoke",
        )

    @property
    def device_usercode_url(self) -> str:
        return f"{self.issuer}/api/accounts/deviceauth/usercode"

    @property
    def device_token_url(self) -> str:
        return f"{self.issuer}/api/accounts/deviceauth/token"

    @property
    def device_verification_url(self) -> str:
        return f"{self.issuer}/codex/device"

    @property
    def device_redirect_uri(self) -> str:
        return f"{self.issuer}/deviceauth/callback"

    @property
    def discovery_urls(self) -> tuple[str, str]:
        """Where a standard issuer describes itself: OpenID Connect discovery, then RFC 8414.

        RFC 8414 §3.1 puts the well-known segment before an issuer's path.
        """
        from urllib.parse import urlsplit  # noqa: PLC0415  (only standard issuers pay for it)

        parts = urlsplit(self.issuer)
        origin = f"{parts.scheme}://{parts.netloc}"
        return (
            f"{self.issuer}/.well-known/openid-configuration",
            f"{origin}/.well-known/oauth-authorization-server{parts.path.rstrip('/')}",
        )

    @property
    def platform_url(self) -> str:
        """Where org owners finish setting up their API organization."""
        if self.issuer == DEFAULT_ISSUER:
            return "https://platform.openai.com"
        return "https://platform.api.openai.org"


def issuer_config(
    *,
    issuer: str | None = None,
    client_id: str | None = None,
    profile: str | None = None,
    refresh_url: str | None = None,
    revoke_url: str | None = None,
    trusted_origins: str | None = None,
) -> IssuerConfig:
    """Validate settings; the profile is ``openai`` for the default issuer, else ``standard``.

    ``trusted_origins`` lists the origins (commas or spaces between them) where an
    issuer's metadata may put endpoints besides its own.
    """
    base = check_url(issuer, "issuer").rstrip("/") if issuer else DEFAULT_ISSUER
    forced = None
    if profile:
        try:
            forced = IssuerProfile(profile)
        except ValueError as exc:
            raise ConfigurationError(
                f"issuer profile {profile!r} is unknown; use 'openai' or 'standard'"
            ) from exc
    return IssuerConfig(
        issuer=base,
        client_id=client_id or DEFAULT_CLIENT_ID,
        profile=forced or profile_for(base),
        refresh_url_override=check_url(refresh_url, "refresh URL") if refresh_url else None,
        revoke_url_override=check_url(revoke_url, "revoke URL") if revoke_url else None,
        explicit=bool(issuer),
        forced_profile=forced,
        client_named=bool(client_id),
        trusted_origins=parse_origins(trusted_origins or "", TRUSTED_ORIGINS_VARIABLE),
    )


def provenance_of(tokens: TokenData, fallback_client_id: str) -> Provenance | None:
    """Where a login's tokens came from: the recorded provenance, else the ID token's claims.

    ``None`` when neither names an issuer (an ID token without ``iss``). The
    client is the ID token's ``azp``, else its audience when that names one client
    (or includes ``fallback_client_id``).
    """
    if tokens.provenance is not None:
        return tokens.provenance
    claims = tokens.id_token
    if not claims.issuer:
        return None
    client = claims.authorized_party
    if client is None:
        audience = claims.audience
        if fallback_client_id in audience or len(audience) != 1:
            client = fallback_client_id
        else:
            client = audience[0]
    return Provenance(claims.issuer.rstrip("/"), client)


def bind(tokens: TokenData, configured: IssuerConfig) -> IssuerConfig:
    """The issuer configuration a stored login's tokens may be sent to.

    The tokens go to the issuer and client that issued them, whatever the
    environment says; an explicitly configured issuer that differs is refused
    before anything is sent. Without any record of the issuer (an old file whose
    ID token has no ``iss``) the configured issuer is used. Either way a URL
    override that leads off that issuer's origin is refused (``ForeignOverride``).
    """
    provenance = check_issuer(tokens, configured)
    if provenance is None:
        return configured.check_overrides()
    return configured.bound_to(provenance).check_overrides()


def check_issuer(tokens: TokenData, configured: IssuerConfig) -> Provenance | None:
    """Where the tokens came from; raises IssuerMismatch when an explicitly configured
    issuer is another one. Asked by every use of a stored login, at once, not only when
    a refresh falls due: a setting that will refuse the login refuses it now."""
    provenance = provenance_of(tokens, configured.client_id)
    if provenance is None:
        return None
    stored = provenance.issuer.rstrip("/")
    if configured.explicit and stored != configured.issuer:
        raise IssuerMismatch(stored=stored, configured=configured.issuer)
    return provenance


def check_url(url: str, what: str) -> str:
    """An https URL, or http to a loopback host (local test servers), with a plain host.

    A host with user info (``https://auth.openai.com@evil``), spaces or escapes
    is refused: a browser and this program might not go to the same place.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415  (only custom issuers pay for it)

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not (
        (parts.scheme == "https" and host) or (parts.scheme == "http" and host in LOOPBACK_HOSTS)
    ):
        raise ConfigurationError(
            f"the {what} {url!r} must be an https:// URL (http:// only for localhost)"
        )
    try:
        origin_of(url)
    except ValueError as exc:
        raise ConfigurationError(
            f"the {what} {url!r} has user info, spaces or escapes in its host; give the plain URL"
        ) from exc
    return url
