"""Just enough of the OpenAI Responses API on 127.0.0.1 for ``codex exec`` to finish a turn.

``serving_responses_api()`` runs a :class:`ResponsesApi` (aiohttp, port 0, a background
thread's event loop) for the ``with`` block. It records every request's path and
headers and can refuse the first N model calls with 401.
``write_codex_config()`` writes a ``$CODEX_HOME/config.toml`` whose custom provider talks to
it and takes its bearer token from a command; ``run_codex_exec()`` runs one turn.
The shapes and settings were measured with Codex 0.171.0: see ``CODEX_PEER_NOTES.md``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from interop.peers.codex_peer import codex_env
from support.servers import serve_in_thread

WAIT = 30.0  # seconds any server start, stop or hook may take on a slow, shared machine
PROVIDER_ID = "loopback"
MODEL = "some-model"
RESPONSE_ID = "resp_loopback"
MESSAGE_ID = "msg_loopback"
MODEL_CALL = ("POST", "/v1/responses")
REFUSAL = {
    "error": {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it."""

    method: str
    path: str  # without the query string
    query: str
    authorization: str  # "" when the header was missing
    status: int  # what the server answered
    headers: tuple[tuple[str, str], ...] = ()  # every header, names lower-cased

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        found = [value for key, value in self.headers if key == name.lower()]
        return found[0] if found else None

    @property
    def bearer(self) -> str | None:
        """The token after ``Bearer ``; None without such a header."""
        scheme, _, token = self.authorization.partition(" ")
        return token if scheme == "Bearer" else None

    @property
    def is_model_call(self) -> bool:
        return (self.method, self.path) == MODEL_CALL


def response_events(text: str) -> list[dict[str, Any]]:
    """The three streamed events of one finished turn whose answer is ``text``.

    Codex 0.171 needs only ``response.output_item.done`` (the message) and
    ``response.completed`` with ``response.id``; ``response.created`` and ``usage`` are
    optional (with ``usage`` it prints ``tokens used``).
    """
    item = {
        "type": "message",
        "id": MESSAGE_ID,
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    usage = {
        "input_tokens": 1,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 1,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 2,
    }
    return [
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {"id": RESPONSE_ID, "object": "response", "status": "in_progress"},
        },
        {
            "type": "response.output_item.done",
            "sequence_number": 1,
            "output_index": 0,
            "item": item,
        },
        {
            "type": "response.completed",
            "sequence_number": 2,
            "response": {
                "id": RESPONSE_ID,
                "object": "response",
                "status": "completed",
                "model": MODEL,
                "output": [item],
                "usage": usage,
            },
        },
    ]


def sse(event: dict[str, Any]) -> bytes:
    """One Server-Sent Event: ``event: TYPE`` and ``data: JSON`` lines, a blank line."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class ResponsesApi:
    """A Responses API stand-in that records who called it.

    - ``POST /v1/responses``: 401 for the first ``refuse_first`` calls and for any call
      without an ``Authorization`` header (as the real API would); otherwise a
      ``text/event-stream`` of :func:`response_events`.
    - ``GET /v1/models``: ``{"models": []}`` (Codex's own catalogue shape; a 404 only
      costs an ERROR line on Codex's stderr).
    - anything else: 404 ``{}``.

    ``before_refusal`` runs (in a worker thread) before a refusal is sent, so a test can
    change the world between the caller's first attempt and its retry. Its exceptions are
    collected in ``failures`` and raised when the ``with`` block ends.
    """

    def __init__(
        self,
        *,
        text: str = "hi",
        refuse_first: int = 0,
        before_refusal: Callable[[SeenRequest], None] | None = None,
    ) -> None:
        self.text = text
        self.refuse_first = refuse_first
        self.before_refusal = before_refusal
        self.url = ""  # http://127.0.0.1:PORT, set once serving
        self.failures: list[BaseException] = []
        self._requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._model_calls = 0

    @property
    def base_url(self) -> str:
        """What a provider's ``base_url`` should be (the API lives under /v1)."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    def model_calls(self) -> list[SeenRequest]:
        return [request for request in self.requests if request.is_model_call]

    def bearers(self, *, model_calls_only: bool = False) -> list[str | None]:
        """The bearer token of each request (or each model call), in arrival order."""
        chosen = self.model_calls() if model_calls_only else self.requests
        return [request.bearer for request in chosen]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        return app

    async def _any(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        seen = SeenRequest(
            method=request.method,
            path=request.path,
            query=request.query_string,
            authorization=request.headers.get("Authorization", ""),
            status=0,
            headers=tuple((key.lower(), value) for key, value in request.headers.items()),
        )
        if seen.is_model_call:
            self._model_calls += 1
            if self._model_calls <= self.refuse_first or not seen.authorization:
                return await self._refuse(seen)
            self._record(seen, 200)
            return await self._stream(request)
        if (seen.method, seen.path) == ("GET", "/v1/models"):
            self._record(seen, 200)
            return web.json_response({"models": []})
        self._record(seen, 404)
        return web.json_response({}, status=404)

    async def _refuse(self, seen: SeenRequest) -> web.Response:
        self._record(seen, 401)
        if self.before_refusal is not None:
            try:
                await asyncio.wait_for(asyncio.to_thread(self.before_refusal, seen), WAIT)
            except Exception as exc:  # reported when the with block ends
                self.failures.append(exc)
        return web.json_response(REFUSAL, status=401)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        for event in response_events(self.text):
            await response.write(sse(event))
        await response.write_eof()
        return response

    def _record(self, seen: SeenRequest, status: int) -> None:
        with self._lock:
            self._requests.append(dataclasses.replace(seen, status=status))


@contextmanager
def serving_responses_api(api: ResponsesApi | None = None) -> Iterator[ResponsesApi]:
    """Serve ``api`` (a fresh one by default) on 127.0.0.1 until the block ends."""
    api = api if api is not None else ResponsesApi()
    with serve_in_thread(api.app(), name="responses-api") as url:
        api.url = url
        yield api
    if api.failures:
        raise AssertionError(f"the server's before_refusal hook failed: {api.failures!r}")


# --------------------------------------------------------------------------- Codex side


def _toml_string(value: str) -> str:
    # A JSON string with ASCII escapes is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=True)


def write_codex_config(
    codex_home: Path,
    api: ResponsesApi,
    auth_argv: Sequence[str],
    *,
    refresh_interval_ms: int | None = None,
    timeout_ms: int | None = None,
) -> Path:
    """Write ``$CODEX_HOME/config.toml``: a custom provider on ``api`` whose bearer token
    comes from running ``auth_argv`` (no shell; stdout trimmed).

    Also keeps ``codex exec`` on loopback and quick: ``chatgpt_base_url`` on the server,
    ``[features] plugins = false`` (else it syncs curated plugins from github.com,
    api.github.com and chatgpt.com), ``[analytics] enabled = false`` (else OTLP metrics
    go to ab.chatgpt.com), and no stream or request retries, so that a second 401 fails
    at once and any retry seen is Codex's one auth-recovery retry.
    """
    command, *args = auth_argv
    auth = [
        f"command = {_toml_string(command)}",
        f"args = [{', '.join(_toml_string(arg) for arg in args)}]",
    ]
    if refresh_interval_ms is not None:
        auth.append(f"refresh_interval_ms = {refresh_interval_ms}")
    if timeout_ms is not None:
        auth.append(f"timeout_ms = {timeout_ms}")
    return write_loopback_config(
        codex_home,
        provider_id=PROVIDER_ID,
        name="Loopback Responses API",
        chatgpt_base_url=api.url + "/backend-api",
        base_url=api.base_url,
        more=["", f"[model_providers.{PROVIDER_ID}.auth]", *auth],
    )


def write_loopback_config(
    codex_home: Path,
    *,
    provider_id: str,
    name: str,
    chatgpt_base_url: str,
    base_url: str,
    more: Sequence[str] = (),
) -> Path:
    """Write ``$CODEX_HOME/config.toml`` with the custom provider ``provider_id`` on
    ``base_url`` as the model provider, and Codex kept on loopback and quick (see
    ``write_codex_config``); ``more``: lines after the provider's table (its key or auth)."""
    lines = [
        f"model_provider = {_toml_string(provider_id)}",
        f"model = {_toml_string(MODEL)}",
        f"chatgpt_base_url = {_toml_string(chatgpt_base_url)}",
        "",
        "[features]",
        "plugins = false",
        "",
        "[analytics]",
        "enabled = false",
        "",
        f"[model_providers.{provider_id}]",
        f"name = {_toml_string(name)}",
        f"base_url = {_toml_string(base_url)}",
        'wire_api = "responses"',
        "stream_max_retries = 0",
        "request_max_retries = 0",
        *more,
        "",
    ]
    text = "\n".join(lines)
    tomllib.loads(text)  # fail here, not inside Codex, if the quoting went wrong
    path = codex_home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_codex_exec(
    binary: Path,
    codex_home: Path,
    workdir: Path,
    *,
    prompt: str = "say hi",
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``codex exec --skip-git-repo-check PROMPT < /dev/null`` in ``workdir``.

    The environment is :func:`codex_env`'s: PATH, a private HOME, CODEX_HOME and LANG,
    nothing of the caller's OPENAI_* or CODEX_* variables. The auth command inherits it
    (plus Codex's own PATH entry) and runs in ``workdir``, Codex's working directory.
    """
    return subprocess.run(
        [str(binary), "exec", "--skip-git-repo-check", prompt],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=workdir,
        env=codex_env(codex_home),
        timeout=timeout,
        check=False,
    )
