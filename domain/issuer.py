"""Which OAuth issuer to talk to, and where its endpoints are."""

from __future__ import annotations

import enum

import attrs

from codex_login.domain.errors import ConfigurationError

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class IssuerProfile(enum.Enum):
    """How the issuer speaks: the OpenAI issuer (JSON refresh) or any RFC 6749 server."""

    OPENAI = "openai"
    STANDARD = "standard"


@attrs.frozen
class IssuerConfig:
    """The issuer, the client id, and the URL overrides the Codex CLI honours."""

    issuer: str = DEFAULT_ISSUER
    client_id: str = DEFAULT_CLIENT_ID
    profile: IssuerProfile = IssuerProfile.OPENAI
    refresh_url_override: str | None = None
    revoke_url_override: str | None = None

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/oauth/token"

    @property
    def refresh_url(self) -> str:
        return self.refresh_url_override or self.token_url

    @property
    def revoke_url(self) -> str:
        return self.revoke_url_override or f"{self.issuer}/oauth/revoke"

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
        """Where a standard issuer describes itself (OpenID Connect, then RFC 8414)."""
        return (
            f"{self.issuer}/.well-known/openid-configuration",
            f"{self.issuer}/.well-known/oauth-authorization-server",
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
    if profile:
        try:
            chosen = IssuerProfile(profile)
        except ValueError:
            raise ConfigurationError(
                f"issuer profile {profile!r} is unknown; use 'openai' or 'standard'"
            ) from None
    else:
        chosen = IssuerProfile.OPENAI if base == DEFAULT_ISSUER else IssuerProfile.STANDARD
    return IssuerConfig(
        issuer=base,
        client_id=client_id or DEFAULT_CLIENT_ID,
        profile=chosen,
        refresh_url_override=check_url(refresh_url, "refresh URL") if refresh_url else None,
        revoke_url_override=check_url(revoke_url, "revoke URL") if revoke_url else None,
    )


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
