"""Several logins, one active: who each one is, what it is called, how to pick one.

The active login is the one in auth.json (what the Codex CLI uses). The others are
parked in slots, one per account, in the same wire format. Two records are the same
account when they have the same identity: for ChatGPT the issuer, the workspace
(``chatgpt_account_id``) and the user; for an API key, the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from codex_login.domain.access_tokens import MODE as ACCESS_TOKEN_MODE
from codex_login.domain.access_tokens import TITLE as ACCESS_TOKEN_TITLE
from codex_login.domain.access_tokens import stored_access_token
from codex_login.domain.errors import AccountNotFound, AmbiguousAccount, ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.foreign import ForeignLogin, describe_foreign
from codex_login.domain.issuer import provenance_of
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import KINDS, AuthMode, mode_name
from codex_login.domain.plans import plan_name
from codex_login.domain.record import CredentialRecord

# An access-token login's identity kind and base name.
ACCESS_TOKEN = "access-token"  # noqa: S105  (a name, not a secret)
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@attrs.frozen(repr=False)
class Identity(FieldsRepr):
    """What makes two records the same account."""

    kind: str
    issuer: str | None = None
    workspace: str | None = None
    user: str | None = attrs.field(default=None, repr=False)


@attrs.frozen(repr=False)
class Account(FieldsRepr):
    """One login, described without secrets (an API key only masked)."""

    name: str
    identity: Identity = attrs.field(repr=False)
    mode: str
    email: str | None = None
    plan: str | None = None
    workspace: str | None = None
    issuer: str | None = None
    active: bool = False
    masked_api_key: str | None = None  # an API-key login's key, as `status` shows it
    # An access-token login's token, masked as a key is: whoami knows more, offline not.
    masked_access_token: str | None = None

    @property
    def kind(self) -> str:
        """The kind of login in the Codex CLI's words: ``ChatGPT``, ``API key``,
        ``personal access token``…"""
        if self.masked_access_token is not None:
            return ACCESS_TOKEN_TITLE
        if self.mode in (AuthMode.API_KEY.value, AuthMode.CHATGPT.value):
            return KINDS[AuthMode(self.mode)]
        return ForeignLogin(self.mode).title


def identity_of(record: CredentialRecord) -> Identity:
    tokens = record.tokens
    if tokens is not None and record.auth_mode is not AuthMode.API_KEY:
        claims = tokens.id_token
        provenance = provenance_of(tokens, "")
        return Identity(
            "chatgpt",
            issuer=provenance.issuer if provenance else None,
            workspace=tokens.account_id or claims.account_id,
            user=claims.user_id or claims.email,
        )
    if record.openai_api_key:
        digest = hashlib.sha256(record.openai_api_key.encode()).hexdigest()
        return Identity("apikey", user=digest)
    token = stored_access_token(record)
    if token is not None:  # whoami would name the account; offline, the token does
        return Identity(ACCESS_TOKEN, user=hashlib.sha256(token.encode()).hexdigest())
    mode = mode_name(record.auth_mode) if record.auth_mode is not None else "empty"
    return Identity(mode, user=_digest_of(record))


def describe(name: str, record: CredentialRecord, *, active: bool = False) -> Account:
    """The account a record holds, under ``name``."""
    identity = identity_of(record)
    foreign = describe_foreign(record)
    if foreign is not None:
        return Account(
            name, identity, foreign.mode, foreign.email, foreign.plan, foreign.account_id,
            active=active,
        )  # fmt: skip
    if identity.kind == "apikey":
        key = mask_api_key(record.openai_api_key or "")
        return Account(name, identity, AuthMode.API_KEY.value, active=active, masked_api_key=key)
    if identity.kind == ACCESS_TOKEN:
        token = mask_api_key(stored_access_token(record) or "")
        return Account(
            name, identity, ACCESS_TOKEN_MODE.value, active=active, masked_access_token=token
        )
    claims = record.tokens.id_token if record.tokens else None
    return Account(
        name,
        identity,
        AuthMode.CHATGPT.value,
        email=claims.email if claims else None,
        plan=plan_name(claims.plan) if claims and claims.plan else None,
        workspace=identity.workspace,
        issuer=identity.issuer,
        active=active,
    )


def base_name(record: CredentialRecord) -> str:
    """A short, readable name: the email's local part, else the workspace, else the mode."""
    account = describe("x", record)
    if account.email:
        seed = account.email.split("@", 1)[0]
    elif account.workspace:
        seed = account.workspace
    elif account.mode == AuthMode.API_KEY.value:
        seed = "api-key"
    elif account.masked_access_token is not None:
        seed = ACCESS_TOKEN
    else:
        seed = account.mode
    slug = _UNSAFE.sub("-", seed.lower()).strip("-._")[:48]
    return slug or "account"


def name_for(record: CredentialRecord, taken: Mapping[str, Identity]) -> str:
    """The slot name for ``record``: the one already holding its identity, else its base
    name, numbered when another account has it (``alice``, ``alice-2``…)."""
    identity = identity_of(record)
    for name, other in taken.items():
        if other == identity:
            return name
    base = base_name(record)
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f"{name!r} is not an account name; use lowercase letters, digits, '.', '-' or '_'"
        )
    return name


def select(accounts: Sequence[Account], wanted: str) -> Account:
    """The account named ``wanted``: by name, else by email, else by workspace id."""
    for matches in (
        [a for a in accounts if a.name == wanted],
        [a for a in accounts if a.email and a.email.lower() == wanted.lower()],
        [a for a in accounts if a.workspace == wanted],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AmbiguousAccount(
                f"{wanted!r} matches several accounts ({_names(matches)}); use one of those names"
            )
    if not accounts:
        raise AccountNotFound(f"no account {wanted!r}: no login is stored")
    raise AccountNotFound(f"no account {wanted!r}; choose one of: {_names(accounts)}")


def _names(accounts: Iterable[Account]) -> str:
    return ", ".join(a.name for a in accounts)


def _digest_of(record: CredentialRecord) -> str:
    return hashlib.sha256(repr(sorted(record.extra.items())).encode()).hexdigest()
