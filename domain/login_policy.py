"""Which logins are allowed: the Codex CLI's login-method and workspace restrictions.

Two layers say it, and each can only narrow what the other allows (intersection):
the user's ``config.toml`` (``forced_login_method``, ``forced_chatgpt_workspace_id``)
and the managed ``requirements.toml`` (``allowed_login_methods``,
``allowed_chatgpt_workspaces``). Measured on Codex 0.171:

- a workspace restriction that narrows to nothing disables ChatGPT login;
- when no method is left, nothing works at all (a configuration error);
- an API key is never bound to a workspace;
- a stored login's workspace is ``tokens.account_id``, else its ID token's claim;
  a new login's is the ID token's ``chatgpt_account_id`` claim.

The sentences quoted from the Codex CLI are kept word for word.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from urllib.parse import urlencode

import attrs

from codex_login.domain.errors import ConfigurationError, PolicyViolation, WorkspaceRefused
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.resolution import AccessTokenAuth, ApiKeyAuth, ResolvedAuth


class LoginMethod(enum.Enum):
    """The values of ``forced_login_method`` and ``allowed_login_methods``."""

    CHATGPT = "chatgpt"
    API = "api"


ALL_METHODS = frozenset(LoginMethod)
DISABLED = {
    LoginMethod.API: "API key login is disabled. Use ChatGPT login instead.",
    LoginMethod.CHATGPT: "ChatGPT login is disabled. Use API key login instead.",
}
MISSING_CLAIM = (
    "Login is restricted to a specific workspace, but the token did not include an "
    "chatgpt_account_id claim."
)
NO_USABLE_METHOD = "authentication requirements do not permit any usable login method"


def workspace_ids(values: Iterable[str]) -> tuple[str, ...]:
    """Items trimmed, blanks dropped, order and repeats kept (as the Codex CLI sends them)."""
    return tuple(item.strip() for item in values if item.strip())


@attrs.frozen(repr=False)
class LoginPolicy(FieldsRepr):
    """The allowed login methods and ChatGPT workspaces; the default allows everything.

    ``workspaces`` None means any workspace; an empty tuple means none (so no
    ChatGPT login at all).
    """

    methods: frozenset[LoginMethod] = ALL_METHODS
    workspaces: tuple[str, ...] | None = None

    def narrow(self, other: LoginPolicy) -> LoginPolicy:
        """What both allow. Workspaces keep this policy's order (the user's list first)."""
        if other.workspaces is None:
            workspaces = self.workspaces
        elif self.workspaces is None:
            workspaces = other.workspaces
        else:
            workspaces = tuple(w for w in self.workspaces if w in other.workspaces)
        return LoginPolicy(self.methods & other.methods, workspaces)

    @property
    def unrestricted(self) -> bool:
        return self == LoginPolicy()

    def allows(self, method: LoginMethod) -> bool:
        if method not in self.methods:
            return False
        return method is LoginMethod.API or self.workspaces != ()

    def require_usable(self) -> LoginPolicy:
        """Itself, or a ConfigurationError when it leaves no way to log in."""
        if not any(self.allows(method) for method in LoginMethod):
            raise ConfigurationError(NO_USABLE_METHOD)
        return self

    # -- a new login -------------------------------------------------------------

    def check_method(self, method: LoginMethod) -> None:
        """Before a login starts: refused with the Codex CLI's sentence."""
        if not self.allows(method):
            raise PolicyViolation(DISABLED[method])

    def check_new_login(self, account_id: str | None) -> None:
        """After the code exchange, before anything is written: the ID token's workspace."""
        self.check_method(LoginMethod.CHATGPT)
        if self.workspaces is None:
            return
        if account_id is None:
            raise PolicyViolation(MISSING_CLAIM)
        if account_id not in self.workspaces:
            raise PolicyViolation(self._restricted())

    def authorize_url(self, url: str) -> str:
        """The authorization URL with ``allowed_workspace_id=a,b`` last, when restricted."""
        if not self.workspaces:
            return url
        separator = "&" if "?" in url else "?"
        return url + separator + urlencode([("allowed_workspace_id", ",".join(self.workspaces))])

    # -- a credential about to be used ----------------------------------------------

    def check_credential(self, auth: ResolvedAuth, source: str) -> None:
        """A stored (or environment) credential the policy forbids is refused, with why.

        ``source`` names where it came from (the store's location, an environment
        variable). Nothing is deleted: the policy may change back.
        """
        if isinstance(auth, ApiKeyAuth):
            if not self.allows(LoginMethod.API):
                raise PolicyViolation(f"{source} holds an API key: {DISABLED[LoginMethod.API]}")
            return
        if isinstance(auth, AccessTokenAuth):
            # A ChatGPT login to Codex (its requests go to Codex's backend); its workspace
            # is whoami's answer: ``check_access_token_workspace`` once it is known.
            if not self.allows(LoginMethod.CHATGPT):
                raise PolicyViolation(
                    f"{source} holds an access token: {DISABLED[LoginMethod.CHATGPT]}"
                )
            return
        if not self.allows(LoginMethod.CHATGPT):
            raise PolicyViolation(
                f"{source} holds a ChatGPT login: {DISABLED[LoginMethod.CHATGPT]}"
            )
        if self.workspaces is None:
            return
        account = auth.tokens.account_id or auth.tokens.id_token.account_id
        if account is None:
            raise WorkspaceRefused(
                f"the ChatGPT login in {source} names no workspace: {self._restricted()}"
            )
        if account not in self.workspaces:
            raise WorkspaceRefused(
                f"the ChatGPT login in {source} belongs to workspace {account}: "
                f"{self._restricted()}"
            )

    def check_access_token_workspace(self, account_id: str, source: str) -> None:
        """The workspace whoami named for an access token from ``source`` (Codex checks it
        at login and at every load)."""
        if self.workspaces is not None and account_id not in self.workspaces:
            raise WorkspaceRefused(
                f"the access token in {source} belongs to workspace {account_id}: "
                f"{self._restricted()}"
            )

    def check_api_key(self, source: str) -> None:
        """An API key from ``source`` (CODEX_API_KEY) about to be handed out."""
        if not self.allows(LoginMethod.API):
            raise PolicyViolation(f"{source} is set: {DISABLED[LoginMethod.API]}")

    def _restricted(self) -> str:
        return f"Login is restricted to workspace id(s) {', '.join(self.workspaces or ())}."
