"""Access tokens (Business and Enterprise): the Codex CLI's ``personal_access_token`` login.

Measured with Codex 0.171 and read in codex-rs (``login/src/auth/personal_access_token.rs``):

- a token that starts with ``at-`` is an access token; any other value given as one
  (``CODEX_ACCESS_TOKEN``) is an agent-identity token, which signs each request itself;
- ``codex login --with-access-token`` checks it at ``GET {authapi}/v1/user-auth-credential/whoami``
  (the token as bearer; ``authapi`` is ``CODEX_AUTHAPI_BASE_URL``, default
  ``https://auth.openai.com/api/accounts``), then writes auth.json as
  ``{"OPENAI_API_KEY": null, "personal_access_token": "at-…"}``, with no ``auth_mode``;
- the login counts as a ChatGPT login for the login policy; its workspace is whoami's
  ``chatgpt_account_id``, which every model request carries as ``ChatGPT-Account-ID``.

The token is kept in the record's unknown fields, where it was read: such a record is
never rewritten, and the one codex-login writes is the Codex CLI's, byte for byte.
"""

from __future__ import annotations

from codex_login.domain.errors import EmptyAccessToken
from codex_login.domain.masking import one_line_secret
from codex_login.domain.modes import KINDS, AuthMode, UnsupportedMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.tokens import AccessToken

PREFIX = "at-"
FIELD = "personal_access_token"  # the auth.json key
STORED_MODE = "personalAccessToken"  # Codex's auth_mode for it (it writes none)
VARIABLE = "CODEX_ACCESS_TOKEN"
VARIABLE_SOURCE = f"{VARIABLE} environment variable"
DEFAULT_AUTHAPI_BASE_URL = "https://auth.openai.com/api/accounts"
WHOAMI_PATH = "/v1/user-auth-credential/whoami"
TITLE = "personal access token"  # `codex login status`: "Logged in using personal access token"
MODE = AuthMode.CHATGPT  # where its requests go: the ChatGPT model API (Codex's backend)
# The auth_mode Codex reports for an agent-identity token (domain/foreign.py's name).
AGENT_IDENTITY = "agentIdentity"


def is_access_token(token: str) -> bool:
    """Codex's rule: an ``at-`` prefix makes an access token, anything else an agent's."""
    return token.startswith(PREFIX)


def kind_of(token: AccessToken) -> str:
    """The kind of login a handed-out token is (a broker's answer), in the Codex CLI's
    words: ``API key``, ``personal access token`` or ``ChatGPT``."""
    if token.mode is AuthMode.CHATGPT and is_access_token(token.token):
        return TITLE
    return KINDS[token.mode]


def workspace_unknown(token: AccessToken) -> bool:
    """Whether ``token`` is an access token whose workspace whoami has not named yet."""
    return token.mode is MODE and token.account_id is None and is_access_token(token.token)


def stored_access_token(record: CredentialRecord) -> str | None:
    """The access token of a record with a ``personal_access_token`` and no ``auth_mode``
    (what Codex writes) or ``personalAccessToken`` (Codex's name for the mode); None for
    any other record."""
    mode = record.auth_mode
    if mode is not None and not (isinstance(mode, UnsupportedMode) and mode.name == STORED_MODE):
        return None
    token = record.extra.get(FIELD)
    return token if isinstance(token, str) and token else None


def access_token_record(token: str) -> CredentialRecord:
    """The record the Codex CLI writes for an access-token login: no mode, a null key."""
    return CredentialRecord(extra={FIELD: token})


def validate_access_token(raw: str) -> str:
    """Trim surrounding whitespace; refuse an empty token and one with inner whitespace
    (the refusals of an API key, worded for a token)."""
    return one_line_secret(raw, what="the access token", one="token", empty=EmptyAccessToken)


def whoami_url(base_url: str) -> str:
    """Whoami under ``base_url`` (trailing slashes dropped, as Codex does)."""
    return base_url.strip().rstrip("/") + WHOAMI_PATH
