"""An HTTP server on 127.0.0.1 that records every header of every request: what a client
signed by a Codex login sends, compared header by header.

Every path answers 200 with its JSON in ``answers`` (default ``{}``), except for a
bearer token told to ``refuse``: 401, as an API refusing an expired token does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from support.servers import serve_in_thread


class RecordingApi:
    """Records ``(path, headers)`` of each request; header names lower-cased."""

    def __init__(self) -> None:
        self.url = ""  # http://127.0.0.1:PORT, set once serving
        self.refused: set[str] = set()
        self.answers: dict[str, Any] = {}  # by path
        self._seen: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def refuse(self, token: str) -> None:
        self.refused.add(token)

    @property
    def seen(self) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return list(self._seen)

    def headers(self, *names: str) -> list[dict[str, str]]:
        """Of each request in arrival order, the headers named (those it carried)."""
        wanted = [name.lower() for name in names]
        return [
            {name: headers[name] for name in wanted if name in headers} for _, headers in self.seen
        ]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    async def _any(self, request: web.Request) -> web.Response:
        await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            self._seen.append((request.path, headers))
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.refused:
            return web.json_response({"error": {"code": "invalid_api_key"}}, status=401)
        return web.json_response(self.answers.get(request.path, {}))


@contextmanager
def recording_api() -> Iterator[RecordingApi]:
    """A fresh :class:`RecordingApi`, served until the block ends."""
    api = RecordingApi()
    with serve_in_thread(api.app(), name="recording-api") as url:
        api.url = url
        yield api
