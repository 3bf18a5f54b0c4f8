"""What codex-login's HTTP servers answer of their own, never cached (``NO_STORE``): the
callback server's pages, and the JSON answers of the broker and the proxy it mounts (a
token, a refusal, a failure) in one shape."""

from __future__ import annotations

from aiohttp import web

from codex_login.adapters import broker_protocol as protocol

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
RETRY_AFTER_SECONDS = 10


def json_response(
    status: int,
    answer: protocol.TokenAnswer | protocol.ErrorAnswer | protocol.Health,
    *,
    retry_after: bool = False,
) -> web.Response:
    """``answer`` written by the protocol's one converter; ``retry_after``: the failure
    passes, ask again in RETRY_AFTER_SECONDS."""
    headers = dict(NO_STORE)
    if retry_after:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return web.Response(
        status=status,
        text=protocol.dumps(answer),
        content_type="application/json",
        headers=headers,
    )
