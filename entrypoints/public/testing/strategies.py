"""Hypothesis strategies for codex-login's values: property-test your own rules with them.

Needs hypothesis (``pip install 'codex-login[testing]'``); the rest of the testing kit
does not. Every strategy is a function taking keyword-only options and returning a
``SearchStrategy``:

- ``auth_json_files()``: an auth.json of any kind the Codex CLI writes, as an
  ``AuthJsonFile``: ``.record`` (the ``CredentialRecord`` codex-login reads from it)
  and ``.text`` (the file, byte for byte as the Codex CLI writes it: key order, nulls,
  2-space indent, raw UTF-8, no trailing newline). ``credential_records()`` and
  ``auth_json_texts()`` give one side of it. ``kinds`` picks among ``"apikey"``
  (``codex login --with-api-key``), ``"chatgpt"`` (a browser or device login: its
  ``auth_mode`` is what the plan policy chose, with or without the exchanged API key,
  with or without ``oauth_provenance``), ``"legacy"`` (files of older releases, without
  ``auth_mode``) and ``"foreign"`` (newer kinds codex-login keeps but does not use:
  ``agentIdentity``, ``personalAccessToken``...). ``unknown_fields`` adds fields other
  tools wrote, at the top level and inside ``tokens`` (they survive every rewrite).
  ``expired`` says whether the ChatGPT access token has expired at ``now``
  (``exp <= now``) or not (no refresh is due under ``policy`` at ``now``).
- ``token_data()``: the ``tokens`` of a ChatGPT login, with the same options.
- ``id_token_claims()``, ``access_token_claims()``: JWT payloads shaped like the OpenAI
  issuer's, ``https://api.openai.com/auth`` claims included (``chatgpt_plan_type``,
  ``chatgpt_account_id``, ``chatgpt_user_id``...); ``id_tokens()``, ``access_tokens()``:
  the same as unsigned JWTs (``codex_login.testing.tokens.make_jwt``).
- ``plans()`` (every ``KnownPlan`` and unknown spellings, kept as ``UnknownPlan``),
  ``plan_names()`` (the claim's string), ``workspace_ids()``, ``api_keys()``.
- ``login_policies()`` (``LoginPolicy``: methods and workspaces, restrictions included)
  and ``refresh_policies()`` (``RefreshPolicy``).

``now`` defaults to ``codex_login.testing.clock.START``, where a ``SettableClock()``
starts, so a record drawn with ``expired=False`` is fresh for a ``CodexAuth`` given
``clock=SettableClock()``.

One difference from the files of a real Codex CLI: ``last_refresh`` is drawn to the
microsecond, which is what codex-login keeps. The Codex CLI writes nanoseconds (nine
digits); codex-login reads them to the microsecond and rewrites six, so only such a
file's ``text`` would not come back byte for byte.
"""

from __future__ import annotations

import functools
import json
import math
import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import attrs

from codex_login._lazy import MissingExtra
from codex_login.domain.fields_repr import FieldsRepr

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise MissingExtra(
        "codex_login.testing.strategies needs hypothesis, in the testing extra: "
        "pip install 'codex-login[testing]' (from a checkout: pip install '.[testing]')",
        name="hypothesis",
    ) from exc

from codex_login.adapters.auth_json import RECORD_FIELDS, TOKEN_ORDER
from codex_login.domain.claims import AUTH_CLAIM, parse_id_token
from codex_login.domain.foreign import AGENT_IDENTITY
from codex_login.domain.foreign import KINDS as FOREIGN_KINDS
from codex_login.domain.issuer import DEFAULT_CLIENT_ID, DEFAULT_ISSUER
from codex_login.domain.login import mode_for_new_login
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.domain.modes import AuthMode, StoredMode, mode_name, parse_mode
from codex_login.domain.plans import KnownPlan, Plan, UnknownPlan, plan_name
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh_policy import SEED_MAX_TOKEN_AGE, RefreshPolicy
from codex_login.domain.timestamps import format_timestamp
from codex_login.domain.tokens import Provenance, TokenData
from codex_login.testing.clock import START
from codex_login.testing.tokens import make_jwt

__all__ = [
    "KINDS",
    "AuthJsonFile",
    "Kind",
    "access_token_claims",
    "access_tokens",
    "api_keys",
    "auth_json_files",
    "auth_json_texts",
    "credential_records",
    "id_token_claims",
    "id_tokens",
    "login_policies",
    "plan_names",
    "plans",
    "refresh_policies",
    "token_data",
    "unknown_fields",
    "workspace_ids",
]

Kind = Literal["apikey", "chatgpt", "legacy", "foreign"]
KINDS: tuple[Kind, ...] = ("apikey", "chatgpt", "legacy", "foreign")

SearchStrategy = st.SearchStrategy
JsonValue = Any  # None | bool | int | float | str | list[JsonValue] | dict[str, JsonValue]

# A few fixed workspaces, so that a policy's workspaces and a login's often meet.
WORKSPACES = (
    "8f2c1c3e-5d1a-4b7e-9a51-2c0f4f7b6e10",
    "0b6d3a52-77e4-4c36-b0f1-a8e3d9c4f221",
    "c9a4e7f0-1b2d-4e8f-a6c5-3d7b9e0f1a32",
)
# Claims codex-login reads: an unknown claim never takes one of these names.
ID_CLAIMS = ("iss", "aud", "azp", "sub", "email", "email_verified", "exp", "iat", AUTH_CLAIM)
AUTH_CLAIMS = (
    "chatgpt_plan_type",
    "chatgpt_account_id",
    "chatgpt_user_id",
    "user_id",
    "organization_id",
    "project_id",
    "completed_platform_onboarding",
    "is_org_owner",
)
_URLSAFE = string.ascii_letters + string.digits + "-_"
_MAX_EXTRA_AGE = timedelta(days=40)
_MAX_LIFETIME = 30 * 86400
_MAX_INT = 2**63 - 1
# The builders that draws call again and again are cached (functools): hypothesis checks
# each new strategy object on its first draw, which cost more than drawing from it. The
# same strategies come back, so the same examples are drawn.


@attrs.frozen(repr=False)
class AuthJsonFile(FieldsRepr):
    """One auth.json: the record codex-login reads from it and its text as the Codex CLI
    writes it (``text``, or ``data`` as bytes). ``kind`` is the kind of login it holds."""

    kind: Kind
    record: CredentialRecord
    text: str = attrs.field(repr=False)

    @property
    def data(self) -> bytes:
        """The file's bytes (UTF-8)."""
        return self.text.encode()


# -- small values ------------------------------------------------------------------------


def plans(*, known: bool = True, unknown: bool = True) -> SearchStrategy[Plan]:
    """ChatGPT plans: every ``KnownPlan`` and unknown spellings (``UnknownPlan``), such as
    other casings, plans newer than this release, blanks and arbitrary text."""
    choices: list[SearchStrategy[Plan]] = []
    if known:
        choices.append(st.sampled_from(list(KnownPlan)))
    if unknown:
        choices.append(st.builds(UnknownPlan, _unknown_plan_names()))
    if not choices:
        raise ValueError("plans() needs known=True or unknown=True")
    return st.one_of(choices)


@functools.cache
def _unknown_plan_names() -> SearchStrategy[str]:
    known = {plan.value for plan in KnownPlan}
    spellings = {
        variant
        for name in known
        for variant in (name.upper(), name.title(), f" {name}", f"{name} ", f"{name}_v2")
    }
    newer = {"go", "free_workspace", "education", "k12", "quorum", "edu_seat", ""}
    return st.sampled_from(sorted(spellings | newer)) | st.text(max_size=20).filter(
        lambda name: name not in known
    )


def plan_names() -> SearchStrategy[str]:
    """The ``chatgpt_plan_type`` claim's strings: known plans and unknown spellings."""
    return plans().map(plan_name)


def workspace_ids() -> SearchStrategy[str]:
    """ChatGPT workspace (account) ids, the ``chatgpt_account_id`` claim: UUIDs, a few of
    them drawn often so that a login's workspace and a policy's list meet."""
    return st.sampled_from(WORKSPACES) | st.uuids().map(str)


def api_keys() -> SearchStrategy[str]:
    """OpenAI API keys as ``codex login --with-api-key`` accepts them (no blanks):
    ``sk-proj-...``, ``sk-svcacct-...``, ``sk-...``, and short odd ones."""
    return _api_keys()


@functools.cache
def _api_keys() -> SearchStrategy[str]:
    body = st.text(_URLSAFE, min_size=1, max_size=64)
    prefix = st.sampled_from(["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-", ""])
    return st.builds(str.__add__, prefix, body)


def unknown_fields(
    known: Iterable[str] = (), *, min_size: int = 0, max_size: int = 3
) -> SearchStrategy[dict[str, JsonValue]]:
    """JSON fields another tool wrote, named none of ``known``: any JSON value (text in
    UTF-8, integers of 64 bits, finite floats), nested a little."""
    return _unknown_fields(frozenset(known), min_size, max_size)


@functools.lru_cache(maxsize=64)
def _unknown_fields(
    taken: frozenset[str], min_size: int, max_size: int
) -> SearchStrategy[dict[str, JsonValue]]:
    return st.dictionaries(
        st.text(st.characters(codec="utf-8"), max_size=12).filter(lambda key: key not in taken),
        _json_values(),
        min_size=min_size,
        max_size=max_size,
    )


@functools.cache
def _json_values() -> SearchStrategy[JsonValue]:
    text = st.text(st.characters(codec="utf-8"), max_size=12)
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-_MAX_INT - 1, _MAX_INT)
        | st.floats(allow_nan=False, allow_infinity=False)
        | text
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=6,
    )


# -- claims and tokens ----------------------------------------------------------------


def id_token_claims(
    *,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    emails: SearchStrategy[str | None] | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
    unknown_claims: bool | None = None,
) -> SearchStrategy[dict[str, JsonValue]]:
    """ID token payloads as the OpenAI issuer shapes them: ``iss``, ``aud``, ``sub``,
    ``email``, and the ``https://api.openai.com/auth`` object (``chatgpt_plan_type``,
    ``chatgpt_account_id``, ``chatgpt_user_id``, ``user_id``, organisation facts).

    ``plans`` and ``workspaces`` give the plan and workspace claims (None in a draw: the
    claim is absent); ``emails`` the ``email`` claim; ``unknown_claims`` adds claims this
    release does not read (None: sometimes).
    """
    return _id_claims(
        plans=plans if plans is not None else st.none() | _plans(),
        workspaces=workspaces if workspaces is not None else st.none() | workspace_ids(),
        emails=emails if emails is not None else st.none() | _emails() | st.text(max_size=20),
        issuer=issuer,
        client_id=client_id,
        unknown_claims=unknown_claims,
    )


def _plans() -> SearchStrategy[Plan | None]:
    """``plans()``, under a name the ``plans=`` options do not hide."""
    return plans()


@st.composite
def _id_claims(
    draw: st.DrawFn,
    *,
    plans: SearchStrategy[Plan | None],
    workspaces: SearchStrategy[str | None],
    emails: SearchStrategy[str | None],
    issuer: str,
    client_id: str,
    unknown_claims: bool | None,
) -> dict[str, JsonValue]:
    user = draw(_user_ids())
    auth: dict[str, JsonValue] = {"chatgpt_user_id": user, "user_id": user}
    plan, workspace = draw(plans), draw(workspaces)
    if plan is not None:
        auth["chatgpt_plan_type"] = plan_name(plan)
    if workspace is not None:
        auth["chatgpt_account_id"] = workspace
    auth |= draw(_organisation_claims())
    payload: dict[str, JsonValue] = {"iss": issuer, "aud": [client_id], "sub": user}
    email = draw(emails)
    if email is not None:
        payload["email"] = email
        payload["email_verified"] = draw(st.booleans())
    payload[AUTH_CLAIM] = auth
    if _wanted(draw, unknown_claims):
        auth |= draw(unknown_fields(AUTH_CLAIMS, min_size=1))
        payload |= draw(unknown_fields(ID_CLAIMS))
    return payload


@functools.cache
def _organisation_claims() -> SearchStrategy[dict[str, JsonValue]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "organization_id": st.builds(str.__add__, st.just("org-"), _opaque(24)),
            "project_id": st.builds(str.__add__, st.just("proj_"), _opaque(24)),
            "completed_platform_onboarding": st.booleans(),
            "is_org_owner": st.booleans(),
        },
    )


@functools.cache
def _emails() -> SearchStrategy[str]:
    """Addresses as issuers write them (cheaper to draw than ``st.emails()``)."""
    local = st.text(string.ascii_lowercase + string.digits + "._+-", min_size=1, max_size=16)
    domain = st.sampled_from(["example.com", "openai.example", "xn--bcher-kva.example"])
    return st.builds("{}@{}".format, local, domain)


@functools.cache
def _user_ids() -> SearchStrategy[str]:
    return st.builds(str.__add__, st.just("user-"), _opaque(24))


@functools.cache
def _opaque(size: int) -> SearchStrategy[str]:
    return st.text(_URLSAFE, min_size=1, max_size=size)


def id_tokens(
    *,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    emails: SearchStrategy[str | None] | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
    unknown_claims: bool | None = None,
) -> SearchStrategy[str]:
    """ID tokens: ``id_token_claims()`` (same options) as unsigned JWTs."""
    return id_token_claims(
        plans=plans,
        workspaces=workspaces,
        emails=emails,
        issuer=issuer,
        client_id=client_id,
        unknown_claims=unknown_claims,
    ).map(make_jwt)


def access_token_claims(
    *,
    now: datetime = START,
    expired: bool | None = None,
    policy: RefreshPolicy | None = None,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
) -> SearchStrategy[dict[str, JsonValue]]:
    """Access token payloads as the OpenAI issuer shapes them: ``exp``, usually ``iat``,
    ``aud``, ``scp``, and the ``https://api.openai.com/auth`` object.

    ``expired=True``: ``exp`` is at or before ``now``. ``expired=False``: ``exp`` is
    later than ``now`` by more than ``policy``'s expiry margin (default
    ``RefreshPolicy()``), so no refresh is due at ``now``. None: either.
    """
    return _access_claims(
        now=_utc(now),
        expired=expired,
        policy=policy or RefreshPolicy(),
        plans=plans if plans is not None else st.none() | _plans(),
        workspaces=workspaces if workspaces is not None else st.none() | workspace_ids(),
        issuer=issuer,
        client_id=client_id,
    )


@st.composite
def _access_claims(
    draw: st.DrawFn,
    *,
    now: datetime,
    expired: bool | None,
    policy: RefreshPolicy,
    plans: SearchStrategy[Plan | None],
    workspaces: SearchStrategy[str | None],
    issuer: str,
    client_id: str,
) -> dict[str, JsonValue]:
    issued_at, expires_at = draw(_token_times(now, expired, policy))
    user = draw(_user_ids())
    auth: dict[str, JsonValue] = {"chatgpt_user_id": user, "user_id": user}
    plan, workspace = draw(plans), draw(workspaces)
    if plan is not None:
        auth["chatgpt_plan_type"] = plan_name(plan)
    if workspace is not None:
        auth["chatgpt_account_id"] = workspace
    payload: dict[str, JsonValue] = {
        "iss": issuer,
        "aud": ["https://api.openai.com/v1"],
        "client_id": client_id,
        "sub": user,
        "scp": ["openid", "profile", "email", "offline_access"],
        "jti": draw(_opaque(16)),
        "exp": expires_at,
    }
    if issued_at is not None:
        payload["iat"] = issued_at
    payload[AUTH_CLAIM] = auth
    return payload


@st.composite
def _token_times(
    draw: st.DrawFn, now: datetime, expired: bool | None, policy: RefreshPolicy
) -> tuple[int | None, int]:
    """``iat`` (or None) and ``exp``, whole seconds, on the requested side of ``now``."""
    if expired is None:
        expired = draw(st.booleans())
    if expired:
        latest = math.floor(now.timestamp())
        expires_at = latest - draw(st.integers(0, 30 * 86400))
    else:
        earliest = math.floor((now + policy.expiry_margin).timestamp()) + 1
        expires_at = earliest + draw(st.integers(0, 10 * 86400))
    lifetime = draw(st.none() | st.integers(1, _MAX_LIFETIME))
    return (None if lifetime is None else expires_at - lifetime), expires_at


def access_tokens(
    *,
    now: datetime = START,
    expired: bool | None = None,
    policy: RefreshPolicy | None = None,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
) -> SearchStrategy[str]:
    """Access tokens: ``access_token_claims()`` (same options) as unsigned JWTs."""
    return access_token_claims(
        now=now,
        expired=expired,
        policy=policy,
        plans=plans,
        workspaces=workspaces,
        issuer=issuer,
        client_id=client_id,
    ).map(make_jwt)


# -- records and files -----------------------------------------------------------------


@attrs.frozen(repr=False)
class _Options(FieldsRepr):
    """What the record strategies were asked for, checked once."""

    plans: SearchStrategy[Plan | None]
    workspaces: SearchStrategy[str | None]
    api_key: bool | None
    unknown_fields: bool | None
    now: datetime
    expired: bool | None
    policy: RefreshPolicy
    issuer: str
    client_id: str


def token_data(
    *,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    unknown_fields: bool | None = None,
    now: datetime = START,
    expired: bool | None = None,
    policy: RefreshPolicy | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
) -> SearchStrategy[TokenData]:
    """The ``tokens`` of a ChatGPT login (``TokenData``); options as ``auth_json_files``."""
    options = _options(
        plans=plans,
        workspaces=workspaces,
        api_key=None,
        unknown_fields=unknown_fields,
        now=now,
        expired=expired,
        policy=policy,
        issuer=issuer,
        client_id=client_id,
    )
    return _tokens(options, provenance=None).map(lambda drawn: drawn[0])


def auth_json_files(
    *,
    kinds: Iterable[Kind] = KINDS,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    api_key: bool | None = None,
    unknown_fields: bool | None = None,
    now: datetime = START,
    expired: bool | None = None,
    policy: RefreshPolicy | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
) -> SearchStrategy[AuthJsonFile]:
    """auth.json files of the given ``kinds``, as the Codex CLI writes them.

    - ``plans``, ``workspaces``: the ID token's plan and workspace (None in a draw: the
      claim is absent); ``tokens.account_id`` is the workspace, as the Codex CLI writes it.
    - ``api_key``: whether a ChatGPT login also stores the API key its login exchanged
      (None: either). An ``apikey`` file always holds one.
    - ``unknown_fields``: True, fields other tools wrote at the top level and, when there
      are tokens, inside ``tokens``; False, none; None, either.
    - ``now``, ``expired``, ``policy``: the access token has expired at ``now`` (True),
      or no refresh is due at ``now`` under ``policy`` (False: ``exp`` is a JWT claim
      past the expiry margin), or either, opaque access tokens included (None).
      ``last_refresh`` is at or before ``now``.
    - ``issuer``, ``client_id``: where the tokens came from (``iss``, ``aud``, and
      ``oauth_provenance`` when written).
    """
    wanted = tuple(dict.fromkeys(kinds))
    unknown = [kind for kind in wanted if kind not in KINDS]
    if not wanted or unknown:
        raise ValueError(f"kinds must be some of {', '.join(KINDS)}, not {wanted!r}")
    options = _options(
        plans=plans,
        workspaces=workspaces,
        api_key=api_key,
        unknown_fields=unknown_fields,
        now=now,
        expired=expired,
        policy=policy,
        issuer=issuer,
        client_id=client_id,
    )
    makers = {"apikey": _api_key_file, "chatgpt": _chatgpt_file, "legacy": _legacy_file}
    return st.one_of(
        [_foreign_file(options) if kind == "foreign" else makers[kind](options) for kind in wanted]
    )


def credential_records(
    *,
    kinds: Iterable[Kind] = KINDS,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    api_key: bool | None = None,
    unknown_fields: bool | None = None,
    now: datetime = START,
    expired: bool | None = None,
    policy: RefreshPolicy | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
) -> SearchStrategy[CredentialRecord]:
    """The ``CredentialRecord`` of ``auth_json_files()`` (same options)."""
    return auth_json_files(
        kinds=kinds,
        plans=plans,
        workspaces=workspaces,
        api_key=api_key,
        unknown_fields=unknown_fields,
        now=now,
        expired=expired,
        policy=policy,
        issuer=issuer,
        client_id=client_id,
    ).map(lambda file: file.record)


def auth_json_texts(
    *,
    kinds: Iterable[Kind] = KINDS,
    plans: SearchStrategy[Plan | None] | None = None,
    workspaces: SearchStrategy[str | None] | None = None,
    api_key: bool | None = None,
    unknown_fields: bool | None = None,
    now: datetime = START,
    expired: bool | None = None,
    policy: RefreshPolicy | None = None,
    issuer: str = DEFAULT_ISSUER,
    client_id: str = DEFAULT_CLIENT_ID,
) -> SearchStrategy[str]:
    """The text of ``auth_json_files()`` (same options), byte for byte as the Codex CLI
    writes it."""
    return auth_json_files(
        kinds=kinds,
        plans=plans,
        workspaces=workspaces,
        api_key=api_key,
        unknown_fields=unknown_fields,
        now=now,
        expired=expired,
        policy=policy,
        issuer=issuer,
        client_id=client_id,
    ).map(lambda file: file.text)


def _options(
    *,
    plans: SearchStrategy[Plan | None] | None,
    workspaces: SearchStrategy[str | None] | None,
    api_key: bool | None,
    unknown_fields: bool | None,
    now: datetime,
    expired: bool | None,
    policy: RefreshPolicy | None,
    issuer: str,
    client_id: str,
) -> _Options:
    return _Options(
        plans=plans if plans is not None else st.none() | _plans(),
        workspaces=workspaces if workspaces is not None else st.none() | workspace_ids(),
        api_key=api_key,
        unknown_fields=unknown_fields,
        now=_utc(now),
        expired=expired,
        policy=policy or RefreshPolicy(),
        issuer=issuer,
        client_id=client_id,
    )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, not {moment!r}")
    return moment.astimezone(UTC)


@attrs.frozen(repr=False)
class _Top(FieldsRepr):
    """A file's top level, before it is written both ways."""

    mode: StoredMode | None
    api_key: str | None
    tokens: tuple[TokenData, dict[str, JsonValue]] | None = None
    last_refresh: datetime | None = None
    extra: dict[str, JsonValue] = attrs.field(factory=dict)


def _written(kind: Kind, top: _Top) -> AuthJsonFile:
    """The record and the Codex CLI's text of one file (unknown fields after known ones)."""
    document: dict[str, JsonValue] = {}
    if top.mode is not None:
        document["auth_mode"] = mode_name(top.mode)
    document["OPENAI_API_KEY"] = top.api_key
    if top.tokens is not None:
        document["tokens"] = top.tokens[1]
    if top.last_refresh is not None:
        document["last_refresh"] = format_timestamp(top.last_refresh)
    document |= top.extra
    record = CredentialRecord(
        auth_mode=top.mode,
        openai_api_key=top.api_key,
        tokens=top.tokens[0] if top.tokens is not None else None,
        last_refresh=top.last_refresh,
        extra=top.extra,
    )
    return AuthJsonFile(kind, record, json.dumps(document, indent=2, ensure_ascii=False))


def _wanted(draw: st.DrawFn, choice: bool | None) -> bool:
    return draw(st.booleans()) if choice is None else choice


def _extra(draw: st.DrawFn, options: _Options, known: Iterable[str]) -> dict[str, JsonValue]:
    if not _wanted(draw, options.unknown_fields):
        return {}
    return draw(unknown_fields(known, min_size=1))


@st.composite
def _api_key_file(draw: st.DrawFn, options: _Options) -> AuthJsonFile:
    top = _Top(AuthMode.API_KEY, draw(api_keys()), extra=_extra(draw, options, RECORD_FIELDS))
    return _written("apikey", top)


@st.composite
def _chatgpt_file(draw: st.DrawFn, options: _Options) -> AuthJsonFile:
    provenance = draw(st.none() | st.just(Provenance(options.issuer, options.client_id)))
    tokens = draw(_tokens(options, provenance=provenance))
    key = draw(api_keys()) if _wanted(draw, options.api_key) else None
    top = _Top(
        mode_for_new_login(tokens[0], key),
        key,
        tokens,
        draw(_last_refresh(options)),
        _extra(draw, options, RECORD_FIELDS),
    )
    return _written("chatgpt", top)


@st.composite
def _legacy_file(draw: st.DrawFn, options: _Options) -> AuthJsonFile:
    """Files of releases before ``auth_mode``: a key, tokens, or both."""
    extra = _extra(draw, options, RECORD_FIELDS)
    if options.api_key is not False and draw(st.booleans()):
        return _written("legacy", _Top(None, draw(api_keys()), extra=extra))
    key = draw(api_keys()) if _wanted(draw, options.api_key) else None
    tokens = draw(_tokens(options, provenance=None))
    last_refresh = draw(st.none() | _last_refresh(options))
    return _written("legacy", _Top(None, key, tokens, last_refresh, extra))


@st.composite
def _foreign_file(draw: st.DrawFn, options: _Options) -> AuthJsonFile:
    """Kinds newer Codex releases write; codex-login keeps them verbatim."""
    newer = st.text(string.ascii_letters, min_size=1, max_size=16).filter(
        lambda name: name not in {mode.value for mode in AuthMode}
    )
    name = draw(st.sampled_from(sorted(FOREIGN_KINDS)) | newer)
    extra: dict[str, JsonValue] = {}
    if name == AGENT_IDENTITY:
        extra["agent_identity"] = make_jwt(draw(_agent_claims(options)))
    extra |= _extra(draw, options, (*RECORD_FIELDS, *extra))
    return _written("foreign", _Top(parse_mode(name), None, extra=extra))


@st.composite
def _agent_claims(draw: st.DrawFn, options: _Options) -> dict[str, JsonValue]:
    """The claims of an ``agent_identity`` JWT (``codex login --with-access-token``)."""
    claims: dict[str, JsonValue] = {
        "agent_runtime_id": draw(_opaque(24)),
        "agent_private_key": draw(_opaque(64)),
        "chatgpt_user_id": draw(_user_ids()),
    }
    workspace, plan = draw(options.workspaces), draw(options.plans)
    if workspace is not None:
        claims["account_id"] = workspace
    if plan is not None:
        claims["plan_type"] = plan_name(plan)
    return claims | draw(st.fixed_dictionaries({}, optional={"email": _emails()}))


@functools.lru_cache(maxsize=64)
def _last_refresh(options: _Options) -> SearchStrategy[datetime]:
    return st.timedeltas(timedelta(0), _MAX_EXTRA_AGE).map(lambda age: options.now - age)


@st.composite
def _tokens(
    draw: st.DrawFn, options: _Options, *, provenance: Provenance | None
) -> tuple[TokenData, dict[str, JsonValue]]:
    """ChatGPT tokens and their ``tokens`` object, in the Codex CLI's key order."""
    workspace = draw(options.workspaces)
    id_claims = draw(
        _id_claims(
            plans=options.plans,
            workspaces=st.just(workspace),
            emails=st.none() | _emails(),
            issuer=options.issuer,
            client_id=options.client_id,
            unknown_claims=options.unknown_fields,
        )
    )
    raw_id = make_jwt(id_claims)
    access = draw(_access_token(options, workspace))
    refresh = draw(st.builds(str.__add__, st.just("rt_"), _opaque(64)))
    document: dict[str, JsonValue] = {
        "id_token": raw_id,
        "access_token": access,
        "refresh_token": refresh,
    }
    if provenance is not None:
        document["oauth_provenance"] = {
            "issuer": provenance.issuer,
            "client_id": provenance.client_id,
        }
    kept: dict[str, JsonValue] = {}
    if provenance is not None and draw(st.booleans()):
        kept["login_owner_id"] = draw(_user_ids())  # 0.171 keeps it, before account_id
    document |= kept
    document["account_id"] = workspace
    unknown = _extra(draw, options, TOKEN_ORDER)
    document |= unknown
    kept |= unknown
    tokens = TokenData(
        id_token=parse_id_token(raw_id),
        access_token=access,
        refresh_token=refresh,
        account_id=workspace,
        provenance=provenance,
        extra=kept,
    )
    return tokens, document


def _access_token(options: _Options, workspace: str | None) -> SearchStrategy[str]:
    jwt = access_tokens(
        now=options.now,
        expired=options.expired,
        policy=options.policy,
        plans=options.plans,
        workspaces=st.just(workspace),
        issuer=options.issuer,
        client_id=options.client_id,
    )
    if options.expired is not None:
        return jwt
    return jwt | _opaque(64)  # an opaque token: its expiry is judged by last_refresh


# -- policies ---------------------------------------------------------------------------


def login_policies(*, workspaces: SearchStrategy[str] | None = None) -> SearchStrategy[LoginPolicy]:
    """``LoginPolicy`` values: any set of methods (none included), and no workspace
    restriction, an empty one (no ChatGPT login) or a list drawn from ``workspaces``
    (default ``workspace_ids()``), repeats kept as Codex's lists may have them."""
    members = workspaces if workspaces is not None else workspace_ids()
    return st.builds(
        LoginPolicy,
        methods=st.frozensets(st.sampled_from(list(LoginMethod))),
        workspaces=st.none() | st.lists(members, max_size=4).map(tuple),
    )


def refresh_policies() -> SearchStrategy[RefreshPolicy]:
    """``RefreshPolicy`` values: the default, the seed's 28 days, and any margins (an
    expiry margin up to an hour, a maximum age from an hour to 60 days, a forced-refresh
    window up to a minute)."""
    return st.sampled_from(
        [RefreshPolicy(), RefreshPolicy(max_age=SEED_MAX_TOKEN_AGE)]
    ) | st.builds(
        RefreshPolicy,
        expiry_margin=st.timedeltas(timedelta(0), timedelta(hours=1)),
        max_age=st.timedeltas(timedelta(hours=1), timedelta(days=60)),
        min_token_age_for_forced_refresh=st.timedeltas(timedelta(0), timedelta(minutes=1)),
    )
