"""The token endpoint as the application sees it: the HTTP stack loads on the first request.

Read-only work (``status``, a ``token`` that needs no refresh) never pays for
importing aiohttp and authlib; the first call that talks to an issuer does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codex_login.adapters.oauth.endpoint import HttpTokenEndpoint
    from codex_login.adapters.whoami import HttpAccountLookup
    from codex_login.domain.device import DeviceCode, DevicePending
    from codex_login.domain.issuer import IssuerConfig
    from codex_login.domain.login import AuthorizationRequest
    from codex_login.domain.tokens import TokenGrant
    from codex_login.domain.whoami import WhoAmI
    from codex_login.domain.workload_identity import WorkloadGrant, WorkloadIdentity


class LazyHttpTokenEndpoint:
    """A ``TokenEndpoint`` that builds the real ``HttpTokenEndpoint`` when first used."""

    def __init__(self, *, ca_file: str | None = None) -> None:
        self._ca_file = ca_file
        self._real: HttpTokenEndpoint | None = None

    @property
    def real(self) -> HttpTokenEndpoint:
        if self._real is None:
            from codex_login.adapters.oauth.endpoint import HttpTokenEndpoint  # noqa: PLC0415

            self._real = HttpTokenEndpoint(ca_file=self._ca_file)
        return self._real

    @property
    def sessions_made(self) -> int:
        """How many HTTP sessions the real endpoint made (none before its first request)."""
        return 0 if self._real is None else self._real.sessions_made

    async def aclose(self) -> None:
        """Close the real endpoint's HTTP session, if it made one."""
        if self._real is not None:
            await self._real.aclose()

    async def authorization_request(
        self, issuer: IssuerConfig, *, redirect_uri: str
    ) -> AuthorizationRequest:
        return await self.real.authorization_request(issuer, redirect_uri=redirect_uri)

    async def exchange_code(
        self, issuer: IssuerConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> TokenGrant:
        return await self.real.exchange_code(
            issuer, code=code, redirect_uri=redirect_uri, verifier=verifier
        )

    async def exchange_api_key(self, issuer: IssuerConfig, *, id_token: str) -> str:
        return await self.real.exchange_api_key(issuer, id_token=id_token)

    async def exchange_workload_identity(
        self, issuer: IssuerConfig, identity: WorkloadIdentity
    ) -> WorkloadGrant:
        return await self.real.exchange_workload_identity(issuer, identity)

    async def refresh(self, issuer: IssuerConfig, *, refresh_token: str) -> TokenGrant:
        return await self.real.refresh(issuer, refresh_token=refresh_token)

    async def revoke(self, issuer: IssuerConfig, *, token: str, hint: str) -> None:
        await self.real.revoke(issuer, token=token, hint=hint)

    async def start_device_authorization(self, issuer: IssuerConfig) -> DeviceCode:
        return await self.real.start_device_authorization(issuer)

    async def poll_device_authorization(
        self, issuer: IssuerConfig, device: DeviceCode
    ) -> TokenGrant | DevicePending:
        return await self.real.poll_device_authorization(issuer, device)


class LazyAccountLookup:
    """An ``AccountLookup`` that builds the real ``HttpAccountLookup`` when first asked: a
    command that never meets an access token loads nothing for it."""

    def __init__(self, *, base_url: str | None = None, ca_file: str | None = None) -> None:
        self._base_url = base_url
        self._ca_file = ca_file
        self._real: HttpAccountLookup | None = None

    async def whoami(self, token: str) -> WhoAmI:
        if self._real is None:
            from codex_login.adapters.whoami import HttpAccountLookup  # noqa: PLC0415

            self._real = HttpAccountLookup(base_url=self._base_url, ca_file=self._ca_file)
        return await self._real.whoami(token)

    async def aclose(self) -> None:
        """Close the real lookup's HTTP session, if it made one."""
        if self._real is not None:
            await self._real.aclose()
