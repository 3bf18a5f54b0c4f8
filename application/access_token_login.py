"""Signing in with an access token (``at-…``), as ``codex login --with-access-token`` does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from codex_login.application.accounts import AccountBook, commit_login
from codex_login.domain.access_tokens import (
    VARIABLE,
    access_token_record,
    is_access_token,
    validate_access_token,
)
from codex_login.domain.errors import InvalidApiKey
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.whoami import WhoAmI

if TYPE_CHECKING:
    from collections.abc import Callable

    from codex_login.domain.ports import CredentialStore


@attrs.frozen(repr=False)
class AccessTokenLogin(FieldsRepr):
    """What an access-token login did: who the token acts for (whoami's answer), and the
    account the previous login of another account is now kept as, if any."""

    who: WhoAmI
    parked: str | None = None


def login_with_access_token(
    *,
    store: CredentialStore,
    raw_token: str,
    whoami: Callable[[str], WhoAmI],
    book: AccountBook | None = None,
    login_policy: LoginPolicy | None = None,
) -> AccessTokenLogin:
    """Check the token at whoami, then store it as the Codex CLI does (no ``auth_mode``, a
    null ``OPENAI_API_KEY``, the token in ``personal_access_token``; nothing else kept).

    Refused, before whoami is asked: an empty token, one not on one line, one that is
    not an access token (an agent's identity), a policy that disables ChatGPT logins.
    After it: a workspace the policy does not allow. Another account that was active
    goes to its slot when there is a ``book``, else it is replaced.
    """
    token = validate_access_token(raw_token)
    if not is_access_token(token):
        raise InvalidApiKey(
            "this is not an access token (those start with at-); the Codex CLI takes any "
            "other value for an agent-identity token, which signs each request itself and "
            f"which codex-login cannot use (nor can it through {VARIABLE})"
        )
    policy = login_policy or LoginPolicy()
    policy.check_method(LoginMethod.CHATGPT)
    who = whoami(token)
    policy.check_new_login(who.account_id)  # Codex: the workspace whoami names
    committed = commit_login(store, book, lambda _previous: access_token_record(token))
    return AccessTokenLogin(who, committed.parked)
