"""Drive the real Codex CLI (npm ``@openai/codex``) as an interoperability peer.

Installed by ``.ci/install-codex.sh`` into a cache outside the repository. Every helper
runs the native binary with a minimal environment (no ``OPENAI_API_KEY``, ``HOME`` under
the test's directory) and every server here listens on 127.0.0.1 only.
See ``CODEX_PEER_NOTES.md`` beside this file for the measured behaviour.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from support.servers import serve_in_thread

CODEX_VERSION = "0.171.0"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
AUTH_CLAIM = "https://api.openai.com/auth"
PATH_ALIAS_WARNING = "WARNING: proceeding, even though we could not create PATH aliases"


# --------------------------------------------------------------------------- locate / run


def peers_dir() -> Path:
    """The cache the install script fills (``$CODEX_LOGIN_PEERS`` or ~/.cache/...)."""
    base = os.environ.get("CODEX_LOGIN_PEERS")
    return Path(base) if base else Path.home() / ".cache" / "codex-login-peers"


def find_codex() -> Path | None:
    """``$CODEX_BIN`` if set, else the native binary installed by install-codex.sh."""
    explicit = os.environ.get("CODEX_BIN")
    if explicit:
        path = Path(explicit)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    modules = peers_dir() / "codex" / "node_modules" / "@openai"
    preferred = modules / "codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex"
    candidates = [preferred, *sorted(modules.glob("codex-*/vendor/*/bin/codex"))]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def codex_env(codex_home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: PATH, a private HOME, CODEX_HOME, plus ``env``.

    HOME is ``codex_home.parent / "home"`` (created), so nothing touches the real home.
    No OPENAI_API_KEY, proxy or RUST_LOG variables leak in from the caller.
    """
    home = codex_home.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    base = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "LANG": "C.UTF-8",
    }
    base.update(env or {})
    return base


def run_codex(
    binary: Path,
    args: list[str],
    codex_home: Path,
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``codex ARGS`` to completion (``codex_home`` must exist)."""
    return subprocess.run(
        [str(binary), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=codex_env(codex_home, env),
        timeout=timeout,
        check=False,
    )


def start_codex(
    binary: Path,
    args: list[str],
    codex_home: Path,
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``codex ARGS`` in the background; stdout and stderr are pipes.

    With ``stdin`` text the child reads it and then end-of-file (``proc.stdin`` is
    None, so ``communicate()`` works); without it ``proc.stdin`` is an open pipe.
    """
    if stdin is None:
        return subprocess.Popen(
            [str(binary), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=codex_env(codex_home, env),
        )
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, stdin.encode())  # small inputs only: fits the pipe buffer
    finally:
        os.close(write_end)
    try:
        return subprocess.Popen(
            [str(binary), *args],
            stdin=read_end,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=codex_env(codex_home, env),
        )
    finally:
        os.close(read_end)


def start_api_key_login(
    binary: Path, codex_home: Path, key: str, *, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``codex login --with-api-key`` in the background, ``key`` on its stdin."""
    return start_codex(binary, ["login", "--with-api-key"], codex_home, stdin=key, env=env)


def clean_stderr(stderr: str) -> str:
    """Drop the harmless PATH-alias warning a CODEX_HOME under /tmp produces."""
    return "\n".join(ln for ln in stderr.splitlines() if not ln.startswith(PATH_ALIAS_WARNING))


# --------------------------------------------------------------------------- fixtures


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unsigned_jwt(payload: Mapping[str, Any]) -> str:
    """A JWT with header ``{"alg":"none","typ":"JWT"}`` and a dummy signature part."""
    header = _b64url(b'{"alg":"none","typ":"JWT"}')
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{header}.{body}.sig"


def chatgpt_id_token(
    *,
    email: str = "user@example.com",
    plan: str = "plus",
    account_id: str = "acct-123",
    user_id: str = "user-abc",
    **extra: Any,
) -> str:
    claims: dict[str, Any] = {
        "email": email,
        AUTH_CLAIM: {
            "chatgpt_plan_type": plan,
            "chatgpt_account_id": account_id,
            "chatgpt_user_id": user_id,
        },
    }
    claims.update(extra)
    return unsigned_jwt(claims)


def chatgpt_record(
    *,
    refresh_token: str = "rt-1",  # noqa: S107 - a test value
    access_exp: int | None = None,
    account_id: str | None = "acct-123",
    plan: str = "plus",
    last_refresh: str | None = "2026-01-01T00:00:00.000000000Z",
    auth_mode: str | None = "chatgpt",
) -> dict[str, Any]:
    """A ChatGPT auth.json record in the Codex CLI's key order."""
    exp = access_exp if access_exp is not None else int(time.time()) + 3600
    record: dict[str, Any] = {}
    if auth_mode is not None:
        record["auth_mode"] = auth_mode
    record["OPENAI_API_KEY"] = None
    record["tokens"] = {
        "id_token": chatgpt_id_token(plan=plan, account_id=account_id or "acct-123"),
        "access_token": unsigned_jwt({"exp": exp}),
        "refresh_token": refresh_token,
        "account_id": account_id,
    }
    if last_refresh is not None:
        record["last_refresh"] = last_refresh
    return record


def codex_json_bytes(record: Mapping[str, Any]) -> bytes:
    """Serialize like the Codex CLI: 2-space indent, raw UTF-8, no trailing newline."""
    return json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")


def write_auth_json(codex_home: Path, record: Mapping[str, Any] | bytes) -> Path:
    data = record if isinstance(record, bytes) else codex_json_bytes(record)
    path = codex_home / "auth.json"
    path.write_bytes(data)
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- locks / waiting


def flock_is_free(path: Path) -> bool:
    """True when no other open file description holds a flock on ``path``.

    Opens the file without creating it (a missing file counts as free) and tries a
    non-blocking exclusive lock, released at once.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    import fcntl  # noqa: PLC0415  (POSIX-only: imported when used)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the lock if we got it
    return True


@contextmanager
def hold_flock(path: Path) -> Iterator[int]:
    """Hold ``LOCK_EX`` on ``path`` (created 0600 if missing) for the ``with`` body."""
    import fcntl  # noqa: PLC0415  (POSIX-only: imported when used)

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- loopback HTTP


@dataclass
class RecordedRequest:
    method: str
    path: str  # with query string
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def route(self) -> str:
        return f"{self.method} {self.path.split('?', 1)[0]}"

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any]  # (status, JSON-serializable body or str)
Route = Reply | Callable[[RecordedRequest], Reply]


class LoopbackServer:
    """A tiny threaded HTTP server on 127.0.0.1 that records requests.

    ``routes`` maps ``"METHOD /path"`` (no query) to a reply or a callable returning one;
    unknown routes answer 404 ``{}``. Assign ``server.routes[...]`` at any time.
    """

    def __init__(self, routes: Mapping[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[RecordedRequest] = []
        self._cond = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._serving = contextlib.ExitStack()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> LoopbackServer:
        self._serving.enter_context(serve_in_thread(self._httpd, name="codex-peer-loopback"))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._serving.close()

    def matching(self, route: str) -> list[RecordedRequest]:
        with self._cond:
            return [r for r in self.requests if r.route == route]

    def wait_for_request(self, route: str, count: int = 1, timeout: float = 30) -> RecordedRequest:
        """Block until ``count`` requests for ``route`` arrived; return the last one."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self._matching(route)) >= count, timeout)
            if not ok:
                raise TimeoutError(f"no request #{count} for {route} within {timeout}s")
            return self._matching(route)[count - 1]

    def _matching(self, route: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route == route]

    def _answer(self, req: RecordedRequest) -> Reply:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
            route = self.routes.get(req.route)
        if route is None:
            return 404, {}
        return route(req) if callable(route) else route

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = server._answer(
                    RecordedRequest(self.command, self.path, headers, body)
                )
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._any()

            def do_POST(self) -> None:
                self._any()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def chatgpt_backend_routes(account_id: str = "acct-123") -> dict[str, Route]:
    """Minimal answers that keep ``codex app-server`` happy on ``chatgpt_base_url``.

    ``account/read`` fails unless ``/api/codex/accounts/check`` lists the selected
    account with an HTTPS backend origin (never contacted by account/read).
    """
    check = {
        "accounts": [
            {
                "id": account_id,
                "workspace_backend_origin": "https://chatgpt.invalid",
                "account_routing_override": "NO_CONSTRAINT",
            }
        ]
    }
    return {
        "GET /api/codex/accounts/check": (200, check),
        "GET /models": (200, {"models": []}),
        "GET /ps/plugins/installed": (200, {"plugins": []}),
    }


# --------------------------------------------------------------------------- app-server


class AppServerError(RuntimeError):
    """A JSON-RPC error, an early exit or a time-out; the message includes stderr."""


class AppServer:
    """``codex app-server`` over stdio (newline-delimited JSON-RPC 2.0)."""

    def __init__(
        self,
        binary: Path,
        codex_home: Path,
        *,
        base_url: str,
        refresh_url: str | None = None,
        env: Mapping[str, str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        extra: dict[str, str] = {}
        if refresh_url is not None:
            extra["CODEX_REFRESH_TOKEN_URL_OVERRIDE"] = refresh_url
        extra.update(env or {})
        args = [
            "app-server",
            "-c",
            f"chatgpt_base_url={base_url}",
            "-c",
            f"openai_base_url={base_url}",
            *(extra_args or []),
        ]
        self.proc = start_codex(binary, args, codex_home, env=extra)
        self.notifications: list[dict[str, Any]] = []
        self._stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._next_id = 1
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        out, err = self.proc.stdout, self.proc.stderr
        self._readers = [
            threading.Thread(target=self._pump, args=(out, self._lines), daemon=True),
            threading.Thread(target=self._collect, args=(err,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: IO[str], out: queue.Queue[str | None]) -> None:
        for line in stream:
            out.put(line)
        out.put(None)

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return clean_stderr("".join(self._stderr))

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        self.proc.stdin.flush()

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = dict(params)
        self._send(message)

    def request(
        self, method: str, params: Mapping[str, Any] | None = None, timeout: float = 30
    ) -> Any:
        """Send a request and return its ``result``; notifications are collected."""
        rid = self._next_id
        self._next_id += 1
        self._send({"id": rid, "method": method, "params": dict(params or {})})
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AppServerError(f"{method}: no answer in {timeout}s\n{self.stderr}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AppServerError(f"{method}: app-server exited\n{self.stderr}")
            message = json.loads(line)
            if "id" in message and "method" not in message and message["id"] == rid:
                if "error" in message:
                    raise AppServerError(f"{method}: {message['error']}\n{self.stderr}")
                return message.get("result")
            if "method" in message and "id" not in message:
                self.notifications.append(message)

    def initialize(self, name: str = "codex-login-tests", timeout: float = 30) -> Any:
        result = self.request(
            "initialize", {"clientInfo": {"name": name, "version": "0.0.0"}}, timeout
        )
        self.notify("initialized")
        return result

    def close(self, timeout: float = 10) -> int:
        """Close stdin (the server then exits); kill it if it lingers."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for reader in self._readers:
            reader.join(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def __enter__(self) -> AppServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def refresh_with_app_server(
    binary: Path,
    codex_home: Path,
    *,
    refresh_url: str,
    base_url: str,
    timeout: float = 30,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Make the Codex CLI refresh its ChatGPT tokens now, with no model call.

    ``initialize`` → ``initialized`` → ``account/read {"refreshToken": true}``. The
    refresh is posted to ``refresh_url``; ``base_url`` must answer like
    :func:`chatgpt_backend_routes`. Returns the account/read result; raises
    :class:`AppServerError` (with stderr) on a JSON-RPC error or time-out. ``env`` is
    added to the minimal environment (a D-Bus session bus for the keyring, say).
    """
    with AppServer(
        binary, codex_home, base_url=base_url, refresh_url=refresh_url, env=env
    ) as server:
        server.initialize(timeout=timeout)
        result = server.request("account/read", {"refreshToken": True}, timeout)
        if not isinstance(result, dict):
            raise AppServerError(f"account/read: unexpected result {result!r}\n{server.stderr}")
        return result
