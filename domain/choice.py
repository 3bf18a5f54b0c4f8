"""Which credential is handed out: the one rule `token`, `status` and embedders share.

In order: ``CODEX_API_KEY`` (the override, used before anything stored, as the
Codex CLI's exec does), then ``CODEX_ACCESS_TOKEN`` (an ``at-`` access token; Codex
reads it before the store too), then the stored record, then ``OPENAI_API_KEY`` (only
when nothing is stored: a stored login that cannot be used never falls back to
it, which would silently switch a ChatGPT user to an API key). The login policy
decides whether the chosen credential may be handed out; a refused one is kept.
"""

from __future__ import annotations

import attrs

from codex_login.domain.access_tokens import (
    AGENT_IDENTITY,
    VARIABLE,
    VARIABLE_SOURCE,
    is_access_token,
)
from codex_login.domain.errors import (
    CodexLoginError,
    NotLoggedIn,
    PolicyViolation,
    SigningTokenInEnvironment,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.resolution import AccessTokenAuth, ApiKeyAuth, ResolvedAuth, resolve

OVERRIDE_VARIABLE = "CODEX_API_KEY"
ENV_VARIABLE = "OPENAI_API_KEY"
OVERRIDE_SOURCE = f"{OVERRIDE_VARIABLE} environment variable"
ENV_SOURCE = f"{ENV_VARIABLE} environment variable"


@attrs.frozen(repr=False)
class Choice(FieldsRepr):
    """The credential to hand out and where it came from, or why there is none.

    ``refusal`` is set exactly when ``auth`` is not to be handed out: NotLoggedIn
    (nothing anywhere; its message names the sources tried, in order) or the
    PolicyViolation of the chosen credential (then ``auth`` is the refused one).
    """

    source: str | None
    auth: ResolvedAuth | None = attrs.field(default=None, repr=False)
    refusal: CodexLoginError | None = None

    @property
    def usable(self) -> ResolvedAuth | None:
        return None if self.refusal is not None else self.auth


def choose_credential(
    *,
    override: str | None,
    record: CredentialRecord | None,
    env_key: str | None,
    preferred: AuthMode,
    policy: LoginPolicy,
    location: str,
    access_token: str | None = None,
) -> Choice:
    """The credential to hand out, from the override, the access token of the environment,
    the stored record at ``location`` and the environment key, in that order; the record
    is not read when an override is set. Raises what ``resolve`` raises for a stored
    record that cannot be used, and SignsRequests for a CODEX_ACCESS_TOKEN that is not an
    access token (an agent's identity)."""
    if override:
        return _checked(ApiKeyAuth(override), OVERRIDE_SOURCE, policy, api_key=True)
    if access_token:
        if not is_access_token(access_token):
            # Codex takes any other value for an agent-identity token: it signs each request
            # with a key of its own, so there is no bearer to hand out.
            raise SigningTokenInEnvironment(AGENT_IDENTITY, "agent-identity token", VARIABLE)
        return _checked(AccessTokenAuth(access_token), VARIABLE_SOURCE, policy)
    if record is not None:
        auth = resolve(record, preferred, location=location)
        if auth is None:
            return Choice(None, refusal=not_logged_in(location, stored=True))
        return _checked(auth, location, policy)
    if env_key:
        return _checked(ApiKeyAuth(env_key), ENV_SOURCE, policy)
    return Choice(None, refusal=not_logged_in(location, stored=False))


def not_logged_in(location: str, *, stored: bool) -> NotLoggedIn:
    """Where a credential was looked for, in order (the environment key counts only when
    nothing is stored)."""
    if stored:
        return NotLoggedIn(
            f"not logged in: looked for {OVERRIDE_VARIABLE}, then {location}, "
            f"which holds no credential ({ENV_VARIABLE} counts only when nothing is stored)"
        )
    return NotLoggedIn(f"not logged in: {looked_for(location)}")


def looked_for(location: str) -> str:
    """The sources of a credential, in the order they are tried."""
    return f"looked for {OVERRIDE_VARIABLE}, {location}, {ENV_VARIABLE}"


def _checked(
    auth: ResolvedAuth, source: str, policy: LoginPolicy, *, api_key: bool = False
) -> Choice:
    try:
        if api_key:
            policy.check_api_key(source)
        else:
            policy.check_credential(auth, source)
    except PolicyViolation as exc:
        return Choice(source, auth, exc)
    return Choice(source, auth)
