"""Asking a token broker (``codex-login serve``) for an access token.

A broker is reached over a Unix socket (a path) or loopback TCP (an
``http://`` URL, with the broker's secret). Plain ``http.client`` keeps a
``codex-login token --broker`` call as light as reading a file: no event loop,
no aiohttp.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from codex_login.domain.errors import (
    BrokerUnreachable,
    CodexLoginError,
    ConfigurationError,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.modes import AuthMode
from codex_login.domain.outcomes import failure_for
from codex_login.domain.tokens import AccessToken

MAX_ANSWER = 64 * 1024
MODES = {"chatgpt": AuthMode.CHATGPT, "api_key": AuthMode.API_KEY}


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        # A Unix socket whose backlog is full refuses at once (EAGAIN) instead of
        # queueing the caller as TCP does: wait a little and try again.
        deadline = time.monotonic() + (self.timeout or 10.0)
        pause = 0.005
        while True:
            try:
                self.sock.connect(self._path)
                return
            except BlockingIOError:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)


class BrokerClient:
    """The ``TokenBroker`` port over HTTP: one short request per call."""

    def __init__(self, address: str, *, secret: str | None = None, timeout: float = 30.0) -> None:
        self.address = address
        self._secret = secret
        self._timeout = timeout
        url = urlsplit(address)
        if url.scheme in ("http", "https"):
            if url.scheme != "http" or url.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise ConfigurationError(
                    f"the broker address {address!r} must be a socket path or "
                    "http://127.0.0.1:PORT (brokers listen on loopback only)"
                )
            if not secret:
                raise ConfigurationError(
                    f"the broker at {address} needs its secret: set "
                    "CODEX_LOGIN_BROKER_SECRET_FILE to the file the broker was started with"
                )
            self._tcp: tuple[str, int] | None = (url.hostname, url.port or 80)
        else:
            self._tcp = None

    @property
    def location(self) -> str:
        return f"the broker at {self.address}"

    def __repr__(self) -> str:
        return f"BrokerClient({self.address!r})"

    def fetch(self, *, stale: str | None = None) -> AccessToken:
        """The broker's current token; with ``stale`` (a refused token), a refreshed one."""
        if stale is None:
            status, document = self._request("GET", "/v1/token", None)
        else:
            body = json.dumps({"stale": stale}).encode()
            status, document = self._request("POST", "/v1/token/refresh", body)
        if status == 200:
            return _token(document, self.address)
        raise self._failure(status, document)

    # -- plumbing -------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._tcp is not None:
            return http.client.HTTPConnection(*self._tcp, timeout=self._timeout)
        return _UnixConnection(self.address, self._timeout)

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, dict[str, Any]]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret}"
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_ANSWER + 1)
        except FileNotFoundError as exc:
            raise BrokerUnreachable(
                f"no broker is listening at {self.address} (no such socket)"
            ) from exc
        except ConnectionRefusedError as exc:
            raise BrokerUnreachable(
                f"the broker at {self.address} is not running (connection refused)"
            ) from exc
        except TimeoutError as exc:
            raise TransientTokenError(
                f"the broker at {self.address} did not answer within {self._timeout:g} s"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise TransientTokenError(
                f"cannot talk to the broker at {self.address}: {exc or type(exc).__name__}"
            ) from exc
        finally:
            connection.close()
        return response.status, _document(data)

    def _failure(self, status: int, document: dict[str, Any]) -> Exception:
        """The error the broker's answer stands for: the broker's table read backwards,
        so a failure is the same kind here as on the host."""
        message = document.get("message")
        said = message if isinstance(message, str) else f"HTTP {status}"
        error = document.get("error")
        code = error if isinstance(error, str) else None
        if status == 403:
            return ConfigurationError(
                f"the broker at {self.address} refused this process ({said}); "
                "ask whoever runs it to allow your user (--allow-uid) or give you its secret"
            )
        kind = failure_for(status, code)
        if kind is None:
            return TokenEndpointError(f"the broker answered HTTP {status}: {said}", status=status)
        return _raised(kind, f"the broker says: {said}", status, code)


def _raised(
    kind: type[CodexLoginError], message: str, status: int, code: str | None
) -> CodexLoginError:
    if issubclass(kind, TokenEndpointError):
        return kind(message, status=status, error_code=code)
    return kind(message)


def _document(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_ANSWER:
        return {}
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _token(document: dict[str, Any], address: str) -> AccessToken:
    token, mode = document.get("access_token"), MODES.get(str(document.get("mode")))
    if not isinstance(token, str) or not token or mode is None:
        raise TransientTokenError(f"the broker at {address} answered without a usable token")
    account = document.get("account_id")
    return AccessToken(
        mode=mode,
        token=token,
        expires_at=_moment(document.get("expires_at")),
        account_id=account if isinstance(account, str) else None,
    )


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None
