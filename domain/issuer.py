"""Which OAuth issuer to talk to, and where its endpoints are."""

from __future__ import annotations

import enum

import attrs

from codex_login.domain.errors import ConfigurationError, IssuerMismatch
from codex_login.domain.tokens import Provenance, TokenData

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class IssuerProfile(enum.Enum):
    """How the issuer speaks: the OpenAI issuer (JSON refresh) or any RFC 6749 server."""

    OPENAI = "openai"
    STANDARD = "standard"


@attrs.frozen
class IssuerEndpoints:
    """Where an issuer's endpoints are: fixed paths, or read from its metadata."""

    issuer: str
    authorize: str
    token: str
    revocation: str | None = None
    device_authorization: str | None = None


def profile_for(issuer: str) -> IssuerProfile:
    """The default issuer speaks OpenAI's dialect; any other is a standard OAuth server."""
    return IssuerProfile.OPENAI if issuer == DEFAULT_ISSUER else IssuerProfile.STANDARD


@attrs.frozen
class IssuerConfig:
    """The issuer, the client id, and the URL overrides the Codex CLI honours.

    ``explicit`` says the issuer was named by the user (``--issuer``,
    ``CODEX_LOGIN_ISSUER``); ``forced_profile`` that the profile was
    (``CODEX_LOGIN_ISSUER_PROFILE``).
    """

    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    profile: IssuerProfile = IssuerProfile.OPENAI
    refresh_url_override: str | None = None
    revoke_url_override: str | None = None
    explicit: bool = False
    forced_profile: IssuerProfile | None = None

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
) -> IssuerConfig:
    """Validate settings; the profile is ``openai`` for the default issuer, else ``standard``."""
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
    ID token has no ``iss``) the configured issuer is used.
    """
    provenance = provenance_of(tokens, configured.client_id)
    if provenance is None:
        return configured
    stored = provenance.issuer.rstrip("/")
    if configured.explicit and stored != configured.issuer:
        raise IssuerMismatch(stored=stored, configured=configured.issuer)
    return configured.bound_to(provenance)


def check_url(url: str, what: str) -> str:
    """An https URL, or http to a loopback host (local test servers)."""
    from urllib.parse import urlsplit  # noqa: PLC0415  (only custom issuers pay for it)

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and host in LOOPBACK_HOSTS:
        return url
    raise ConfigurationError(
        f"the {what} {url!r} must be an https:// URL (http:// only for localhost)"
    )
