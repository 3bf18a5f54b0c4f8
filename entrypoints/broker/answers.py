"""The broker's failures as JSON answers (``http_answers``): a failure's status and code
from the one outcome table."""

from __future__ import annotations

from aiohttp import web

from codex_login.adapters import broker_protocol as protocol
from codex_login.domain.errors import CodexLoginError, NotLoggedIn
from codex_login.domain.outcomes import outcome_of
from codex_login.entrypoints.http_answers import json_response
from codex_login.entrypoints.remedies import on_the_host


def failure(exc: CodexLoginError) -> web.Response:
    """Status and code from the one table (``domain/outcomes.py``); the remedy, once,
    says to act on the host. A login the policy forbids is kept, but not handed out."""
    outcome = outcome_of(exc)
    # The host's "not logged in" may name the host's files: the sandbox hears only this.
    said = "the broker is not logged in" if isinstance(exc, NotLoggedIn) else str(exc)
    return json_response(
        outcome.http_status,
        error(outcome.error_code, on_the_host(said, exc)),
        retry_after=outcome.retry_after,
    )


def error(code: str, message: str) -> protocol.ErrorAnswer:
    return protocol.ErrorAnswer(code, message)
