"""What the stored credentials are, for `status` and for embedders."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from codex_login.application.options import AuthOptions
from codex_login.domain.access_tokens import TITLE as ACCESS_TOKEN_TITLE
from codex_login.domain.choice import ENV_SOURCE, OVERRIDE_SOURCE
from codex_login.domain.claims import token_expiry
from codex_login.domain.errors import CodexLoginError, NotLoggedIn
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.foreign import ForeignLogin, describe_foreign
from codex_login.domain.issuer import check_issuer
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import (
    KINDS,
    WORKLOAD_IDENTITY,
    AuthMode,
    StoredMode,
    UnsupportedMode,
)
from codex_login.domain.plans import parse_plan, plan_name
from codex_login.domain.record import Loaded
from codex_login.domain.resolution import AccessTokenAuth, ApiKeyAuth, ResolvedAuth, resolve

if TYPE_CHECKING:
    from collections.abc import Callable

    from codex_login.domain.ports import Clock, CredentialStore
    from codex_login.domain.whoami import WhoAmI

__all__ = ["ENV_SOURCE", "OVERRIDE_SOURCE", "Status", "get_status"]


@attrs.frozen(repr=False)
class Status(FieldsRepr):
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
    access_token: bool = False  # an access token (at-…): who it is comes from whoami
    warnings: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """The kind of login in the Codex CLI's words, as the first line of `status`
        names it: ``ChatGPT``, ``API key``, ``personal access token``, ``workload
        identity``, or another tool's kind (``foreign``)."""
        if self.foreign:
            return self.foreign
        if self.source.startswith(WORKLOAD_IDENTITY):
            return WORKLOAD_IDENTITY
        if self.access_token:
            return ACCESS_TOKEN_TITLE
        if self.masked_api_key is not None and self.mode is AuthMode.API_KEY:
            return KINDS[AuthMode.API_KEY]
        return KINDS[AuthMode.CHATGPT]


def get_status(
    *,
    store: CredentialStore,
    clock: Clock,
    options: AuthOptions | None = None,
    whoami: Callable[[str], WhoAmI] | None = None,
) -> Status | None:
    """The current login, or None when not logged in.

    The credential described is the one `token` hands out (``choose_credential``).
    With ``options.override_api_key`` (CODEX_API_KEY) the stored login is still
    described, marked as overridden (or, when it cannot be read, named in a warning);
    with nothing stored, the override is the login. Raises PolicyViolation when the
    credential `token` would hand out breaks ``options.login_policy``, and
    IssuerMismatch when an explicitly configured issuer is not the stored login's
    (`token` refuses it too). An access token is described from ``whoami`` (asked, as
    the Codex CLI's status does; its workspace is checked against the policy).
    """
    options = options or AuthOptions()
    if options.override_api_key:
        return _overridden(store=store, clock=clock, options=options)
    loaded = store.load()
    if loaded is not None:
        foreign = describe_foreign(loaded.record)
        if foreign is not None:  # described, never used: kept as written
            return _foreign_status(foreign, store.location, loaded.warnings)
    choice = options.choose(loaded.record if loaded else None, location=store.location)
    if isinstance(choice.refusal, NotLoggedIn):
        return None
    if choice.refusal is not None:
        raise choice.refusal
    assert choice.auth is not None  # noqa: S101  (no refusal)
    assert choice.source is not None  # noqa: S101
    if isinstance(choice.auth, AccessTokenAuth):
        return _access_token_status(choice.auth, choice.source, loaded, options, whoami)
    return _described(
        auth=choice.auth,
        source=choice.source,
        loaded=loaded,
        clock=clock,
        options=options,
    )


def _overridden(*, store: CredentialStore, clock: Clock, options: AuthOptions) -> Status:
    """The override is handed out; the stored login is only described, without the policy."""
    override = options.override_api_key
    assert override  # noqa: S101  (the caller checked)
    choice = options.choose(None, location=store.location)  # the override wins
    if choice.refusal is not None:
        raise choice.refusal
    own = Status(AuthMode.API_KEY, OVERRIDE_SOURCE, masked_api_key=mask_api_key(override))
    try:
        stored = _stored_status(store=store, clock=clock, options=options)
    except CodexLoginError as exc:  # `token` sends the override whatever is stored
        return attrs.evolve(own, warnings=(f"the stored login is not used: {exc}",))
    if stored is None:
        return own
    return attrs.evolve(stored, overridden_by=OVERRIDE_SOURCE)


def _stored_status(*, store: CredentialStore, clock: Clock, options: AuthOptions) -> Status | None:
    """The stored login, described whatever the login policy says (never handed out)."""
    loaded = store.load()
    if loaded is None:
        return None
    foreign = describe_foreign(loaded.record)
    if foreign is not None:
        return _foreign_status(foreign, store.location, loaded.warnings)
    auth = resolve(loaded.record, options.preferred, location=store.location)
    if auth is None:
        return None
    return _described(auth=auth, source=store.location, loaded=loaded, clock=clock, options=options)


def _foreign_status(foreign: ForeignLogin, location: str, warnings: tuple[str, ...]) -> Status:
    return Status(
        UnsupportedMode(foreign.mode),
        location,
        email=foreign.email,
        plan=foreign.plan,
        account_id=foreign.account_id,
        foreign=foreign.title,
        warnings=warnings,
    )


def _access_token_status(
    auth: AccessTokenAuth,
    source: str,
    loaded: Loaded | None,
    options: AuthOptions,
    whoami: Callable[[str], WhoAmI] | None,
) -> Status:
    described = Status(
        AuthMode.CHATGPT,
        source,
        access_token=True,
        warnings=loaded.warnings if loaded else (),
    )
    if whoami is None:  # nothing to ask: described without an account
        return described
    who = whoami(auth.token)
    options.login_policy.check_access_token_workspace(who.account_id, source)
    return attrs.evolve(
        described,
        email=who.email,
        plan=plan_name(parse_plan(who.plan)),
        account_id=who.account_id,
    )


def _described(
    *,
    auth: ResolvedAuth,
    source: str,
    loaded: Loaded | None,
    clock: Clock,
    options: AuthOptions,
) -> Status:
    warnings = loaded.warnings if loaded else ()
    if isinstance(auth, AccessTokenAuth):
        return Status(AuthMode.CHATGPT, source, access_token=True, warnings=warnings)
    if isinstance(auth, ApiKeyAuth):
        return Status(
            AuthMode.API_KEY, source, masked_api_key=mask_api_key(auth.api_key), warnings=warnings
        )
    assert loaded is not None  # noqa: S101  (ChatGPT tokens are only ever stored)
    record = loaded.record
    tokens, claims = auth.tokens, auth.tokens.id_token
    configured = options.issuer
    provenance = check_issuer(tokens, configured) or configured.provenance
    return Status(
        AuthMode.CHATGPT,
        source,
        masked_api_key=mask_api_key(record.openai_api_key) if record.openai_api_key else None,
        email=claims.email,
        plan=plan_name(claims.plan) if claims.plan else None,
        account_id=tokens.account_id or claims.account_id,
        last_refresh=record.last_refresh,
        access_token_expires_at=token_expiry(tokens.access_token),
        refresh_due=options.policy.is_due(tokens, record.last_refresh, clock.now()),
        issuer=provenance.issuer,
        client_id=provenance.client_id,
        warnings=warnings,
    )
