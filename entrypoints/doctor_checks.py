"""`doctor`'s checks: why a login works or not, each a pure function over what the
adapters read (the stores, the environment, the files of CODEX_HOME), never changing it.
They live at the edge because each fix names a codex-login command.

Each check answers one question as a ``Check``: its ``name``, ``ok``, what it found
(``said``) and, when not ok, what to do (``fix``). No value of a secret is ever said:
API keys are masked, an access token is only "set".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from codex_login.adapters.codex_config import CODEX_STORES
from codex_login.domain.choice import choose_credential
from codex_login.domain.claims import token_times
from codex_login.domain.errors import CodexLoginError, IssuerMismatch, NotLoggedIn
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import IssuerConfig, check_issuer
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import AuthMode
from codex_login.domain.record import CredentialRecord

# An `iat` this far ahead of our clock is a skewed clock, not rounding.
CLOCK_TOLERANCE = timedelta(minutes=5)
_COMMAND = re.compile(r"`([^`]+)`")  # the commands a file problem names, as its fix


@attrs.frozen(repr=False)
class Check(FieldsRepr):
    """One line of `doctor`: ✓ or ✗, what was found and, for a ✗, what to do."""

    name: str
    ok: bool
    said: str
    fix: str | None = None


@attrs.frozen(repr=False)
class StoreChoice(FieldsRepr):
    """The store each tool uses for this CODEX_HOME, and why (``kind`` None: unknown)."""

    ours: str
    ours_why: str
    codex: str
    codex_why: str


@attrs.frozen(repr=False)
class Held(FieldsRepr):
    """What one store holds: a record, nothing, or why it could not be read."""

    location: str
    record: CredentialRecord | None = attrs.field(default=None, repr=False)
    problem: str | None = None
    fix: str = ""  # what to do about the problem, when the error's kind says


@attrs.frozen(repr=False)
class Environment(FieldsRepr):
    """The credentials in the environment (values kept out of repr, never said)."""

    codex_api_key: str | None = attrs.field(default=None, repr=False)
    codex_access_token: bool = False
    openai_api_key: str | None = attrs.field(default=None, repr=False)
    workload_identity: bool = False
    workload_problem: str | None = None


def store_check(choice: StoreChoice) -> Check:
    said = (
        f"codex-login uses {choice.ours} ({choice.ours_why}); "
        f"the Codex CLI uses {choice.codex} ({choice.codex_why})"
    )
    codex_name = CODEX_NAMES.get(choice.ours, choice.ours)
    if codex_name not in CODEX_STORES:  # codex-login's own (redis): shared on purpose
        said += f"; the Codex CLI cannot read a {choice.ours} store: {OWN_STORE_FOR_CODEX}"
        return Check("store", True, said)
    if codex_name == choice.codex:
        return Check("store", True, said)
    return Check(
        "store",
        False,
        said,
        f'use one store for both: set cli_auth_credentials_store = "{codex_name}" in '
        "config.toml, or unset CODEX_LOGIN_STORE",
    )


# Our store's name -> the Codex CLI's for the same store, where they differ.
CODEX_NAMES = {"memory": "ephemeral"}
OWN_STORE_FOR_CODEX = "on these machines it gets tokens through `codex-login token` or the broker"


def holdings_check(held: Sequence[Held], environment: Environment) -> Check:
    """What each store holds, and whether two hold different logins."""
    unreadable = [h for h in held if h.problem]
    said = "; ".join(_holding(h) for h in held)
    if unreadable:
        fix = unreadable[0].fix or "fix what the line names, then run `codex-login doctor` again"
        return Check("stored logins", False, said, fix)
    logins = {_identity(h.record): h.location for h in held if h.record is not None}
    if len(logins) > 1:
        return Check(
            "stored logins",
            False,
            said,
            "the stores hold different logins and the Codex CLI may read another one than "
            "codex-login: keep one (`codex-login logout`, then `codex-login login`)",
        )
    if not logins and not _environment_login(environment):
        return Check("stored logins", False, said, "log in: `codex-login login`")
    return Check("stored logins", True, said)


def _holding(held: Held) -> str:
    if held.problem:
        # The store's message names the place again: say it once.
        for verb in ("cannot use", "cannot read"):
            reason = held.problem.removeprefix(f"{verb} {held.location}: ")
            if reason != held.problem:
                return f"{held.location} cannot be read: {reason}"
        return f"{held.location} cannot be read: {held.problem}"
    if held.record is None:
        return f"{held.location} holds nothing"
    return f"{held.location} holds {describe(held.record)}"


def describe(record: CredentialRecord) -> str:
    """A login in words, without a secret."""
    if record.tokens is not None:
        claims = record.tokens.id_token
        who = claims.email or record.tokens.account_id or claims.account_id or "an account"
        return f"a ChatGPT login of {who}"
    if record.openai_api_key:
        return f"an API key ({mask_api_key(record.openai_api_key)})"
    return "no credential"


def _identity(record: CredentialRecord) -> tuple[str | None, ...]:
    if record.tokens is not None:
        claims = record.tokens.id_token
        return ("chatgpt", record.tokens.account_id or claims.account_id, claims.user_id)
    return ("apikey", record.openai_api_key)


def _environment_login(environment: Environment) -> bool:
    return bool(
        environment.codex_api_key
        or environment.codex_access_token
        or environment.openai_api_key
        or environment.workload_identity
    )


def environment_check(environment: Environment, *, stored: bool) -> Check:
    """The credentials in the environment, in the order they win."""
    if environment.workload_problem:
        return Check(
            "environment",
            False,
            f"workload identity is set but unusable: {environment.workload_problem}",
            "set both OPENAI_FEDERATION_RULE_ID and OPENAI_IDENTITY_TOKEN_FILE (or, for "
            "SPIFFE, OPENAI_IDENTITY_TOKEN_SOURCE=spiffe, SPIFFE_ENDPOINT_SOCKET and "
            "OPENAI_SPIFFE_AUDIENCE), or none",
        )
    found = _in_precedence(environment)
    if not found:
        return Check("environment", True, "no credential in the environment")
    shown = [text for _, text in found]
    said = f"{shown[0]} is set" if len(found) == 1 else "in effect, in order: " + ", ".join(shown)
    winner = found[0][0]
    if stored and winner != "OPENAI_API_KEY":
        used = "it is" if len(found) == 1 else f"{shown[0].split(' (')[0]} is"
        return Check(
            "environment",
            False,
            f"{said}; {used} used instead of the stored login",
            f"unset {winner} to use the stored login",
        )
    if stored:
        said += " (unused: OPENAI_API_KEY counts only when nothing is stored)"
    return Check("environment", True, said)


def _in_precedence(environment: Environment) -> list[tuple[str, str]]:
    """The credentials set, first the one that wins: what to unset, and how to show it."""
    found = []
    if environment.workload_identity:
        found.append(
            (
                "OPENAI_FEDERATION_RULE_ID and OPENAI_IDENTITY_TOKEN_FILE",
                "workload identity (OPENAI_FEDERATION_RULE_ID)",
            )
        )
    if environment.codex_api_key:
        masked = mask_api_key(environment.codex_api_key)
        found.append(("CODEX_API_KEY", f"CODEX_API_KEY ({masked})"))
    if environment.codex_access_token:
        found.append(("CODEX_ACCESS_TOKEN", "CODEX_ACCESS_TOKEN"))
    if environment.openai_api_key:
        masked = mask_api_key(environment.openai_api_key)
        found.append(("OPENAI_API_KEY", f"OPENAI_API_KEY ({masked})"))
    return found


def issuer_check(record: CredentialRecord | None, configured: IssuerConfig) -> Check:
    """The issuer the stored login is bound to, against the configured one."""
    if record is None or record.tokens is None:
        return Check("issuer", True, "no ChatGPT login stored: no issuer binding")
    try:
        provenance = check_issuer(record.tokens, configured)
    except IssuerMismatch as exc:
        return Check(
            "issuer",
            False,
            str(exc),
            f"unset CODEX_LOGIN_ISSUER (or set it to {exc.stored}), or log in again with "
            f"`codex-login login --issuer {configured.issuer}`",
        )
    bound = provenance.issuer if provenance else configured.issuer
    return Check("issuer", True, f"the login is bound to {bound}")


def policy_check(
    record: CredentialRecord | None,
    environment: Environment,
    policy: LoginPolicy,
    location: str,
) -> Check:
    """The login policy's verdict on the credential `token` would hand out."""
    try:
        choice = choose_credential(
            override=environment.codex_api_key,
            record=record,
            env_key=environment.openai_api_key,
            preferred=AuthMode.CHATGPT,
            policy=policy,
            location=location,
        )
    except CodexLoginError as exc:
        return Check("login policy", False, str(exc), "log in again: `codex-login login`")
    if choice.refusal is None or isinstance(choice.refusal, NotLoggedIn):
        verdict = "no restriction" if policy.unrestricted else "the login is allowed"
        return Check("login policy", True, verdict)
    return Check(
        "login policy",
        False,
        str(choice.refusal),
        "log in with a method and workspace the policy allows, or change "
        "forced_login_method / forced_chatgpt_workspace_id (config.toml, requirements.toml)",
    )


def expiry_check(record: CredentialRecord | None, now: datetime) -> Check:
    """The access token's expiry, and the clock: an ``iat`` in the future is a skewed clock."""
    if record is None or record.tokens is None:
        return Check("access token", True, "no ChatGPT login stored")
    issued, expires = token_times(record.tokens.access_token)
    if issued is not None and issued > now + CLOCK_TOLERANCE:
        ahead = int((issued - now).total_seconds() // 60)
        return Check(
            "access token",
            False,
            f"issued {ahead} min in the future: this machine's clock is behind",
            "set the clock right (e.g. `sudo timedatectl set-ntp true`)",
        )
    if expires is None:
        return Check("access token", True, "its expiry cannot be read (not a JWT)")
    if expires <= now:
        return Check("access token", True, "expired; refreshed on next use")
    left = int((expires - now).total_seconds() // 60)
    return Check("access token", True, f"expires in {left} min")


def home_check(problem: str) -> Check:
    """A credential directory that cannot be one (a file, one we may not enter)."""
    said, _, fix = problem.rpartition("; ")  # the fix says no "; " of its own
    return Check("credential directory", False, said, fix)


def files_check(problems: Sequence[str], *, home_exists: bool = True) -> Check:
    """Modes and owners of CODEX_HOME and its credential files (``problems`` say the fix)."""
    if not problems:
        if not home_exists:
            return Check("file modes", True, "CODEX_HOME does not exist yet (made 0700 when used)")
        return Check("file modes", True, "CODEX_HOME and its files are yours and private")
    commands = [command for problem in problems for command in _COMMAND.findall(problem)]
    fix = "; ".join(commands) or "make CODEX_HOME and its files yours and private"
    return Check("file modes", False, "; ".join(problems), fix)


def temp_files_check(leftovers: Sequence[str]) -> Check:
    """``.auth-*`` files a killed writer left, holding secrets."""
    if not leftovers:
        return Check("temp files", True, "no leftover .auth-* temp file")
    listed = " ".join(leftovers)
    said = f"leftover temp files (they may hold secrets): {listed}"
    return Check("temp files", False, said, f"when no login or refresh runs: `rm {listed}`")


def locks_check(held: Sequence[tuple[str, str | None]]) -> Check:
    """Locks held now (path, holder or None when the OS does not say)."""
    if not held:
        return Check("locks", True, "no lock held")
    said = "; ".join(f"{path} held by {who or 'an unknown process'}" for path, who in held)
    fix = "wait for it to finish; if it is stuck, end that process (`kill PID`)"
    return Check("locks", False, said, fix)


def broker_check(address: str | None, problem: str | None) -> Check:
    if address is None:
        return Check("broker", True, "no broker configured (CODEX_LOGIN_BROKER)")
    if problem is None:
        return Check("broker", True, f"the broker at {address} answers")
    fix = "start the broker (`codex-login serve`), or unset CODEX_LOGIN_BROKER"
    return Check("broker", False, problem, fix)


def metadata_check(issuer: str, problem: str | None) -> Check:
    if problem is None:
        return Check("issuer metadata", True, f"{issuer} answers")
    fix = "check the network, HTTPS_PROXY and CODEX_CA_CERTIFICATE"
    return Check("issuer metadata", False, problem, fix)
