"""The tokens of a workload identity: exchanged when due, held in memory, one at a time.

The same face as the auth manager (``fresh``, ``auth``, ``refresh``), so that ``token``,
the broker, its proxy and embedders serve it unchanged. Nothing is written to a store:
the ChatGPT access token lives in this object, and a new process exchanges again.

Inside one process one exchange runs at a time (a lock every thread takes): N callers
that find the token due cause one exchange; the others get its token. Every exchange
reads the identity token file again. The first exchange fixes the subject (user,
workspace, membership); a later one that names another is refused
(WorkloadIdentityChanged) and its token is never handed out.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from codex_login.application.seam import Seam, off_loop
from codex_login.domain.claims import parse_id_token
from codex_login.domain.errors import (
    InvalidJwt,
    TokenEndpointError,
    WorkloadIdentityChanged,
    WorkloadIdentityRefused,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken
from codex_login.domain.workload_identity import (
    RULE_VARIABLE,
    SOURCE,
    Subject,
    WorkloadGrant,
    WorkloadIdentity,
    WorkloadIdentityEndpoint,
    exchange_due_at,
)

if TYPE_CHECKING:
    from codex_login.application.status import Status
    from codex_login.domain.issuer import IssuerConfig
    from codex_login.domain.ports import Clock
    from codex_login.domain.refresh_policy import RefreshPolicy


@attrs.frozen(repr=False)
class _Held(FieldsRepr):
    token: AccessToken
    issued_at: datetime
    due_at: datetime
    plan_type: str | None


class WorkloadIdentityTokens:
    """Hands out the access token of ``identity``, exchanging it first when due."""

    def __init__(
        self,
        *,
        identity: WorkloadIdentity,
        endpoint: WorkloadIdentityEndpoint,
        issuer: IssuerConfig,
        clock: Clock,
        policy: RefreshPolicy,
        login_policy: LoginPolicy,
        seam: Seam,
    ) -> None:
        self.identity = identity
        self._endpoint = endpoint
        self._issuer = issuer
        self._clock = clock
        self._policy = policy
        self._login_policy = login_policy
        self._seam = seam
        self._lock = threading.Lock()
        self._held: _Held | None = None
        self._subject: Subject | None = None
        self.exchanges = 0  # how many exchanges this process made (for tests and metrics)

    @property
    def plan_type(self) -> str | None:
        held = self._held
        return held.plan_type if held else None

    def fresh(self) -> AccessToken | None:
        """The held token while no exchange is due, else None; never waits."""
        check_method(self._login_policy)
        held = self._held
        if held is not None and self._clock.now() < held.due_at:
            return held.token
        return None

    async def get_token(self) -> str:
        return (await self.auth()).token

    async def auth(self) -> AccessToken:
        """The held token, exchanged first when due (one exchange for all callers)."""
        held = self.fresh()
        if held is not None:
            return held
        return await off_loop(self._exchange, None)

    async def refresh(self, *, stale: str | None = None) -> AccessToken:
        """Exchange now (a server refused the token). With ``stale``, only when that is
        still the held token; a token younger than the policy's window is answered as it
        is, so a burst of refusals costs one exchange."""
        return await off_loop(self._exchange, stale or "")

    def _exchange(self, stale: str | None) -> AccessToken:
        """Under the lock: another thread may have exchanged while this one waited."""
        with self._lock:
            held = self._held
            if held is not None and self._answers(held, stale):
                return held.token
            grant = self._seam.run(
                self._endpoint.exchange_workload_identity(self._issuer, self.identity)
            )
            self.exchanges += 1
            self._held = self._accepted(grant)
            return self._held.token

    def _answers(self, held: _Held, stale: str | None) -> bool:
        now = self._clock.now()
        if stale is None:  # due or not
            return now < held.due_at
        if stale and held.token.token != stale:  # exchanged meanwhile
            return True
        return abs(now - held.issued_at) < self._policy.min_token_age_for_forced_refresh

    def _accepted(self, grant: WorkloadGrant) -> _Held:
        subject = grant.subject
        try:
            claimed = parse_id_token(grant.access_token).user_id
        except InvalidJwt as exc:
            raise TokenEndpointError(
                "the workload identity exchange answered with an access token that is not a JWT",
                status=200,
            ) from exc
        if claimed != subject.user_id:
            raise TokenEndpointError(
                "the workload identity exchange answered with an access token of another "
                "user than its user_id",
                status=200,
            )
        if self._subject is not None and subject != self._subject:
            raise WorkloadIdentityChanged(
                f"the workload identity exchange signed in another identity (workspace "
                f"{subject.account_id}) than this process's (workspace "
                f"{self._subject.account_id}); its token is not used"
            )
        check_workspace(self._login_policy, subject.account_id)
        self._subject = subject
        now = self._clock.now()
        token = AccessToken(
            AuthMode.CHATGPT,
            grant.access_token,
            now + timedelta(seconds=grant.expires_in),
            subject.account_id,
        )
        return _Held(
            token, now, exchange_due_at(self._policy, now, grant.expires_in), grant.plan_type
        )


def check_method(policy: LoginPolicy) -> None:
    """Before any exchange: the login policy must allow ChatGPT logins (the Codex CLI's
    rule: a workload identity is a ChatGPT login)."""
    if not policy.allows(LoginMethod.CHATGPT):
        raise WorkloadIdentityRefused(
            "workload identity requires a login policy that permits ChatGPT authentication"
        )


def check_workspace(policy: LoginPolicy, account_id: str) -> None:
    """After an exchange: its workspace must be one the policy allows."""
    check_method(policy)
    if policy.workspaces is not None and account_id not in policy.workspaces:
        raise WorkloadIdentityRefused(
            f"the {SOURCE} signs in to workspace {account_id}: Login is restricted to "
            f"workspace id(s) {', '.join(policy.workspaces)}."
        )


def workload_identity_status(tokens: WorkloadIdentityTokens, current: AccessToken) -> Status:
    """What `status` says of a workload identity: after an exchange, whom it signs in."""
    from codex_login.application.status import Status  # noqa: PLC0415

    return Status(
        mode=AuthMode.CHATGPT,
        source=f"{SOURCE} ({RULE_VARIABLE}={tokens.identity.rule_id}), held in memory",
        plan=tokens.plan_type,
        account_id=current.account_id,
        access_token_expires_at=current.expires_at,
        refresh_due=False,
    )
