"""What the stored credentials are, for `status` and for embedders."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.claims import token_expiry
from codex_login.domain.foreign import describe_foreign
from codex_login.domain.issuer import IssuerConfig, provenance_of
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import AuthMode, StoredMode, UnsupportedMode
from codex_login.domain.plans import plan_name
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.resolution import ApiKeyAuth, resolve

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock, CredentialStore

ENV_SOURCE = "OPENAI_API_KEY environment variable"
OVERRIDE_SOURCE = "CODEX_API_KEY environment variable"


@attrs.frozen
class Status:
    """A login, described without secrets."""

    mode: StoredMode  # an UnsupportedMode for a login of another tool (see ``foreign``)
    source: str
    masked_api_key: str | None = None
    email: str | None = None
    plan: str | None = None
    account_id: str | None = None
    last_refresh: datetime | None = None
    access_token_expires_at: datetime | None = None
    refresh_due: bool | None = None
    issuer: str | None = None
    client_id: str | None = None
    overridden_by: str | None = None  # an environment key handed out instead of this login
    foreign: str | None = None  # what a login this version cannot use is: "access token"…
    warnings: tuple[str, ...] = ()


def get_status(
    *,
    store: CredentialStore,
    clock: Clock,
    env_api_key: str | None,
    preferred: AuthMode,
    policy: RefreshPolicy,
    issuer: IssuerConfig | None = None,
    override_api_key: str | None = None,
    login_policy: LoginPolicy | None = None,
) -> Status | None:
    """The current login, or None when not logged in.

    With ``override_api_key`` (CODEX_API_KEY) the stored login is still described,
    marked as overridden; with nothing stored, the override is the login. Raises
    PolicyViolation when the credential `token` would hand out breaks ``login_policy``.
    """
    rules = login_policy or LoginPolicy()
    if override_api_key:
        rules.check_api_key(OVERRIDE_SOURCE)
    status = _stored_status(
        store=store,
        clock=clock,
        env_api_key=env_api_key,
        preferred=preferred,
        policy=policy,
        issuer=issuer,
        login_policy=None if override_api_key else rules,
    )
    if not override_api_key:
        return status
    if status is None:
        return Status(
            AuthMode.API_KEY, OVERRIDE_SOURCE, masked_api_key=mask_api_key(override_api_key)
        )
    return attrs.evolve(status, overridden_by=OVERRIDE_SOURCE)


def _stored_status(
    *,
    store: CredentialStore,
    clock: Clock,
    env_api_key: str | None,
    preferred: AuthMode,
    policy: RefreshPolicy,
    issuer: IssuerConfig | None,
    login_policy: LoginPolicy | None,
) -> Status | None:
    """``login_policy`` None: the stored login is only described, not handed out."""
    loaded = store.load()
    if loaded is None:
        if not env_api_key:
            return None
        if login_policy is not None:
            login_policy.check_credential(ApiKeyAuth(env_api_key), ENV_SOURCE)
        return Status(AuthMode.API_KEY, ENV_SOURCE, masked_api_key=mask_api_key(env_api_key))
    foreign = describe_foreign(loaded.record)
    if foreign is not None:  # described, never used: kept as written
        return Status(
            UnsupportedMode(foreign.mode),
            store.location,
            email=foreign.email,
            plan=foreign.plan,
            account_id=foreign.account_id,
            foreign=foreign.title,
            warnings=loaded.warnings,
        )
    auth = resolve(loaded.record, preferred, location=store.location)
    if auth is None:
        return None
    if login_policy is not None:
        login_policy.check_credential(auth, store.location)
    if isinstance(auth, ApiKeyAuth):
        return Status(
            AuthMode.API_KEY,
            store.location,
            masked_api_key=mask_api_key(auth.api_key),
            warnings=loaded.warnings,
        )
    record = loaded.record
    tokens, claims = auth.tokens, auth.tokens.id_token
    configured = issuer or IssuerConfig()
    provenance = provenance_of(tokens, configured.client_id) or configured.provenance
    return Status(
        AuthMode.CHATGPT,
        store.location,
        masked_api_key=mask_api_key(record.openai_api_key) if record.openai_api_key else None,
        email=claims.email,
        plan=plan_name(claims.plan) if claims.plan else None,
        account_id=tokens.account_id or claims.account_id,
        last_refresh=record.last_refresh,
        access_token_expires_at=token_expiry(tokens.access_token),
        refresh_due=policy.is_due(tokens, record.last_refresh, clock.now()),
        issuer=provenance.issuer,
        client_id=provenance.client_id,
        warnings=loaded.warnings,
    )
