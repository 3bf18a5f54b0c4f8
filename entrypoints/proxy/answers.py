"""The answers the proxy gives of its own: a refusal or an upstream failure, as the
broker's JSON error, never cached; and ending a stream the client must see unfinished."""

from __future__ import annotations

from aiohttp import web

from codex_login.adapters import broker_protocol as protocol
from codex_login.entrypoints.http_answers import json_response


def error_answer(status: int, code: str, message: str) -> web.Response:
    return json_response(status, protocol.ErrorAnswer(code, message))


def closing(answer: web.Response) -> web.Response:
    answer.force_close()  # the rest of the body is never read
    return answer


def too_large(limit: int) -> web.Response:
    return error_answer(
        413, "request_entity_too_large", f"the body is over {limit // (1 << 20)} MiB"
    )


def too_slow_body() -> web.Response:
    return error_answer(408, "request_timeout", "the body came too slowly")


def unreachable(host: str) -> web.Response:
    return error_answer(502, "upstream_unreachable", f"cannot reach the upstream {host}")


def broke_off(host: str) -> web.Response:
    return error_answer(502, "upstream_broke_off", f"the upstream {host} broke off")


def too_slow(host: str, what: str) -> web.Response:
    return error_answer(504, "upstream_timeout", f"the upstream {host} did not {what} in time")


def cut_short(request: web.Request, answer: web.StreamResponse) -> None:
    """End a stream that did not finish so that the client sees it unfinished (no last
    chunk): the connection is closed."""
    answer.force_close()
    transport = request.transport
    if transport is not None:
        transport.close()
