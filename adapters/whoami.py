"""Whoami over HTTP: ``GET {CODEX_AUTHAPI_BASE_URL}/v1/user-auth-credential/whoami``.

The HTTP stack (aiohttp, through the token endpoint's transport: its size limit, TLS and
error translation) loads on the first request, so a command that never meets an access
token never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codex_login.domain.access_tokens import DEFAULT_AUTHAPI_BASE_URL, whoami_url
from codex_login.domain.errors import (
    AccessTokenRefused,
    ConfigurationError,
    TransientTokenError,
)
from codex_login.domain.model_api import base_url_problem
from codex_login.domain.whoami import WhoAmI

if TYPE_CHECKING:
    from codex_login.adapters.oauth.transport import Transport

WHAT = "the access token's whoami"
# Refusals that end the token (revoked, expired, not an access token): sign in again.
REFUSED = frozenset({401, 403})


class HttpAccountLookup:
    """An ``AccountLookup`` at ``base_url`` (None: auth.openai.com's)."""

    def __init__(
        self, *, base_url: str | None = None, ca_file: str | None = None, timeout: float = 30.0
    ) -> None:
        self._base_url = (base_url or "").strip().rstrip("/") or DEFAULT_AUTHAPI_BASE_URL
        self._ca_file = ca_file
        self._timeout = timeout
        self._transport: Transport | None = None

    @property
    def url(self) -> str:
        return whoami_url(self._base_url)

    async def whoami(self, token: str) -> WhoAmI:
        problem = base_url_problem(self._base_url)
        if problem is not None:
            raise ConfigurationError(f"CODEX_AUTHAPI_BASE_URL={self._base_url!r} {problem}")
        answer = await self._http().request("GET", self.url, what=WHAT, bearer=token)
        if answer.status in REFUSED:
            raise AccessTokenRefused(
                f"{WHAT} refused the access token (HTTP {answer.status} {answer.reason}): "
                "it is revoked, expired or unknown",
                status=answer.status,
            )
        return _who(answer.success(WHAT))

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    def _http(self) -> Transport:
        if self._transport is None:
            from codex_login.adapters.oauth.transport import Transport  # noqa: PLC0415

            self._transport = Transport(ca_file=self._ca_file, timeout=self._timeout)
        return self._transport


def _who(document: dict[str, Any]) -> WhoAmI:
    """Codex's fields: every one required but ``email`` (which may be null)."""
    email = document.get("email")
    fields = {
        name: document.get(name)
        for name in ("chatgpt_account_id", "chatgpt_user_id", "chatgpt_plan_type")
    }
    fedramp = document.get("chatgpt_account_is_fedramp")
    bad = [name for name, value in fields.items() if not isinstance(value, str) or not value]
    if not isinstance(fedramp, bool):
        bad.append("chatgpt_account_is_fedramp")
        fedramp = False
    if email is not None and not isinstance(email, str):
        bad.append("email")
    if bad:
        raise TransientTokenError(f"{WHAT} answered without a usable {', '.join(bad)}")
    return WhoAmI(
        account_id=str(fields["chatgpt_account_id"]),
        user_id=str(fields["chatgpt_user_id"]),
        plan=str(fields["chatgpt_plan_type"]),
        fedramp=fedramp,
        email=email or None,
    )
