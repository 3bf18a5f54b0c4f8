"""What every ChatGPT login does once the issuer has given tokens: one place, two flows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import attrs

from codex_login.application.accounts import AccountBook, commit_login
from codex_login.application.seam import off_loop
from codex_login.domain.claims import IdToken
from codex_login.domain.errors import CodexLoginError, TokenEndpointError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import IssuerConfig, provenance_of
from codex_login.domain.login import login_record, tokens_from_grant
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import TokenData, TokenGrant

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock, CredentialStore, TokenEndpoint

log = logging.getLogger(__name__)


@attrs.frozen(repr=False)
class LoginOutcome(FieldsRepr):
    """What a completed login stored, without secrets."""

    id_token: IdToken
    api_key_stored: bool
    parked: str | None = None  # the account the previous login is now kept as


@attrs.frozen(kw_only=True, repr=False)
class SignIn(FieldsRepr):
    """The ports and the issuer a login needs once the issuer answered."""

    endpoint: TokenEndpoint
    store: CredentialStore
    clock: Clock
    issuer: IssuerConfig
    book: AccountBook | None = None  # keeps another active account when this one logs in
    login_policy: LoginPolicy = attrs.Factory(LoginPolicy)

    async def store_grant(
        self, grant: TokenGrant, *, exchange_api_key: bool = True
    ) -> LoginOutcome:
        """Check the tokens, try the API-key exchange, commit, revoke what was replaced.

        The tokens are recorded with the issuer and client that issued them, so
        that they are only ever sent back there. A workspace the policy does not
        allow is refused first: nothing is asked, written or revoked.
        """
        tokens = attrs.evolve(tokens_from_grant(grant), provenance=self.issuer.provenance)
        self.login_policy.check_new_login(tokens.id_token.account_id)
        api_key = await self._api_key_for(tokens) if exchange_api_key else None
        superseded, parked = await off_loop(self._commit, tokens, api_key)
        for refresh_token in superseded:  # the replaced tokens stay here: no value carries one
            await self._revoke(refresh_token)
        return LoginOutcome(tokens.id_token, api_key_stored=api_key is not None, parked=parked)

    async def _api_key_for(self, tokens: TokenData) -> str | None:
        """The API-key exchange is a bonus: its failure does not fail the login."""
        try:
            return await self.endpoint.exchange_api_key(self.issuer, id_token=tokens.id_token.raw)
        except TokenEndpointError as exc:
            log.info("no API key from the issuer: %s", exc)
            return None

    def _commit(self, tokens: TokenData, api_key: str | None) -> tuple[list[str], str | None]:
        """Commit the login (another active account goes to its slot); return the
        replaced refresh tokens of this account that may be revoked here, and the name
        of the slot the other account went to."""
        committed = commit_login(
            self.store,
            self.book,
            lambda previous: login_record(tokens, api_key, self.clock.now(), previous),
        )
        revocable = [
            old for record in committed.replaced if (old := self._revocable(record, tokens))
        ]
        return revocable, committed.parked

    def _revocable(self, record: CredentialRecord, tokens: TokenData) -> str | None:
        old = record.tokens
        if old is None or old.refresh_token == tokens.refresh_token:
            return None
        if provenance_of(old, self.issuer.client_id) != self.issuer.provenance:
            return None  # another issuer's (or client's) token must not be sent to this one
        return old.refresh_token

    async def _revoke(self, refresh_token: str) -> None:
        """The replaced login's refresh token is of no use to anyone now: revoke it."""
        try:
            await self.endpoint.revoke(self.issuer, token=refresh_token, hint="refresh_token")
        except CodexLoginError as exc:
            log.info("could not revoke the replaced refresh token: %s", exc)
