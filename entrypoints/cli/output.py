"""Printing helpers the commands share: detail lines, plans, expiries, scrubbed errors."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TYPE_CHECKING

from codex_login.domain.errors import CodexLoginError
from codex_login.domain.masking import scrub
from codex_login.domain.printable import printable
from codex_login.domain.timestamps import format_timestamp
from codex_login.entrypoints.cli.errors import StdoutClosed, StdoutUnwritable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from codex_login.application.service import AuthService
    from codex_login.entrypoints.cli.io import IO


def say_field(io: IO, label: str, value: object) -> None:
    """One indented ``label: value`` detail line; nothing for a missing value."""
    if isinstance(value, bool):
        io.say(f"  {label}: {'yes' if value else 'no'}")
    elif value is not None:
        io.say(printable(f"  {label}: {value}"))


def plan_title(plan: str) -> str:
    """``pro`` -> ``Pro``: a plan as people write it (an unknown one as the issuer did)."""
    return plan[:1].upper() + plan[1:]


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def expiry_in_words(expires_at: datetime | None, now: datetime) -> str | None:
    """``expires in 42 min``, ``expires in 3 h``, ``expired 2 days ago``; None when unknown.

    Minutes below two hours, hours below two days, then days, always rounded down (an
    expiry in 59 s is "under 1 min" away, never "1 min").
    """
    if expires_at is None:
        return None
    seconds = (expires_at - now).total_seconds()
    if seconds > 0:
        return f"expires in {_span(seconds)}"
    if seconds > -60:
        return "expired just now"
    return f"expired {_span(-seconds)} ago"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under 1 min"
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def stored_secrets(service: AuthService | None) -> list[str]:
    """The secrets a message must not show: the stored record's, best effort, and the env key."""
    if service is None:
        return []
    secrets = [service.options.env_api_key or ""]
    try:
        loaded = service.store.load()
    except CodexLoginError:  # unreadable: it gave us no secrets to hide either
        loaded = None
    if loaded is not None:
        record, tokens = loaded.record, loaded.record.tokens
        secrets.append(record.openai_api_key or "")
        if tokens is not None:
            secrets += [tokens.access_token, tokens.refresh_token, tokens.id_token.raw]
    return [secret for secret in secrets if secret]


def say_scrubbed(io: IO, message: str, service: AuthService | None) -> None:
    """Say a one-line message that may quote the issuer or a stored field, without the
    secrets and without control characters."""
    io.say(printable(scrub(message, stored_secrets(service))))


def emit_error(
    io: IO,
    error: CodexLoginError,
    service: AuthService | None,
    *,
    login: str = "codex-login login",
    brokered: bool = False,
    own: Mapping[type[CodexLoginError], str] | None = None,
) -> None:
    """Under ``--json``: the error document on stdout (docs/json.md), its code the error
    kind's (``domain/outcomes.py``), its action the CLI's remedy; secrets scrubbed."""
    from codex_login.domain.outcomes import outcome_of  # noqa: PLC0415  (only on failure)
    from codex_login.entrypoints import documents  # noqa: PLC0415  (--json only: cattrs)
    from codex_login.entrypoints.remedies import remedy, table_for  # noqa: PLC0415

    secrets = stored_secrets(service)
    action = remedy(error, login=login, table=table_for(brokered, own))
    if action.startswith("(") and action.endswith(")"):  # parentheses belong to the line
        action = action[1:-1]
    document = documents.error_document(
        outcome_of(error).code, scrub(str(error), secrets), scrub(action, secrets)
    )
    # The reader went, or stdout cannot be written: the exit code and stderr still tell.
    with contextlib.suppress(StdoutClosed, StdoutUnwritable):
        io.emit(documents.dumps(document))


def say_kept_accounts(io: IO, service: AuthService) -> None:
    """With no active login: the other accounts still stored, and how to make one active."""
    try:
        names = service.kept_names()
    except CodexLoginError:  # a hint only: the shelf's trouble is said where it is used
        return
    if not names:
        return
    which = names[0] if len(names) == 1 else "NAME"
    io.say(
        printable(
            f"  other accounts are kept: {', '.join(names)}; "
            f"`codex-login switch {which}` makes {'it' if len(names) == 1 else 'one'} active"
        )
    )


def saved_since(service: AuthService, before: object) -> bool:
    """Whether a record was committed since the store showed ``before``: its
    fingerprint, the one answer to "did a commit happen?", tells."""
    from codex_login.application.credentials import record_or_none  # noqa: PLC0415

    try:
        return service.store.fingerprint() != before and record_or_none(service.store) is not None
    except CodexLoginError:
        return False  # the store cannot tell now: claim nothing
