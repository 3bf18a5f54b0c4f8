"""Asking a token broker (``codex-login serve``) for an access token.

A broker is reached over a Unix socket (a path) or loopback TCP (an
``http://`` URL, with the broker's secret). Plain ``http.client`` keeps a
``codex-login token --broker`` call as light as reading a file: no event loop,
no aiohttp.
"""

from __future__ import annotations

import http.client
import os
import socket
import stat
import sys
import time
from urllib.parse import urlsplit

from codex_login.adapters import broker_protocol as protocol
from codex_login.adapters.broker_protocol import Message
from codex_login.domain.errors import (
    BrokerUnreachable,
    CodexLoginError,
    ConfigurationError,
    TokenEndpointError,
    TransientTokenError,
)
from codex_login.domain.model_api import ModelApi, ModelApiSettings
from codex_login.domain.outcomes import failure_for
from codex_login.domain.tokens import AccessToken

MAX_ANSWER = 64 * 1024
SAID_KEPT = 4  # tokens whose model API is remembered


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        if sys.platform == "win32":  # CPython there has no AF_UNIX
            raise OSError("no Unix sockets on Windows: reach the broker over TCP")
        else:
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


def _port_of(address: str) -> int:
    """The port of a broker's URL (80 when it names none); a port that is not one is a
    ConfigurationError, said before the missing secret that would follow."""
    try:
        return urlsplit(address).port or 80
    except ValueError as exc:
        raise ConfigurationError(
            f"the broker address {address!r} has no usable port ({exc}); use "
            "http://127.0.0.1:PORT with the port the broker listens on"
        ) from exc


def _exists_but_not_a_socket(path: str) -> bool:
    try:
        return not stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _socket_path(address: str) -> str:
    """A socket's address as ``serve`` prints it (``unix:/run/b.sock``, or the URI form
    ``unix:///run/b.sock``) is its path; any other address is itself."""
    if not address.startswith("unix:"):
        return address
    path = address.removeprefix("unix:")
    return path.removeprefix("//") if path.startswith("///") else path


class BrokerClient:
    """The ``TokenBroker`` port over HTTP: one short request per call."""

    def __init__(self, address: str, *, secret: str | None = None, timeout: float = 30.0) -> None:
        self.address = _socket_path(address)
        self._secret = secret
        self._timeout = timeout
        url = urlsplit(address)
        if url.scheme in ("http", "https"):
            port = _port_of(address)
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
            self._tcp: tuple[str, int] | None = (url.hostname, port)
        else:
            self._tcp = None
        # The model API the broker said with each of the last tokens it handed out (a
        # token kept by one thread may be older than the one another just fetched).
        self._said: dict[str, ModelApi] = {}

    @property
    def location(self) -> str:
        return f"the broker at {self.address}"

    def __repr__(self) -> str:
        return f"BrokerClient({self.address!r})"

    def fetch(self, *, stale: str | None = None) -> AccessToken:
        """The broker's current token; with ``stale`` (a refused token), a refreshed one.

        An empty ``stale`` is no current token, so the answer is the current one.
        """
        if not stale:
            status, data = self._request("GET", "/v1/token", None)
        else:
            body = protocol.dumps(protocol.RefreshRequest(stale)).encode()
            status, data = self._request("POST", "/v1/token/refresh", body)
        if status == 200:
            return self._token(data)
        raise self._failure(status, data)

    def model_api_of(self, token: AccessToken) -> ModelApi:
        """The model API the broker said with ``token``; Codex's defaults for a token it
        said none with (a broker before ``base_url`` and ``headers``)."""
        said = self._said.get(token.token)
        return said if said is not None else ModelApiSettings().model_api(token)

    def health(self) -> None:
        """Whether the broker answers ``GET /healthz`` (raises BrokerUnreachable, or
        TransientTokenError when it does not answer in time); nothing is fetched."""
        status, _ = self._request("GET", "/healthz", None)
        if status != 200:
            raise BrokerUnreachable(f"the broker at {self.address} answered /healthz with {status}")

    # -- plumbing -------------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        if self._tcp is not None:
            return http.client.HTTPConnection(*self._tcp, timeout=self._timeout)
        return _UnixConnection(self.address, self._timeout)

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
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
            if self._tcp is None and _exists_but_not_a_socket(self.address):
                raise ConfigurationError(
                    f"{self.address} is not a socket: give the socket a broker listens on"
                ) from exc
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
        return response.status, data

    def _token(self, data: bytes) -> AccessToken:
        try:
            answer = _read(data, protocol.TokenAnswer)
        except ValueError as exc:
            raise TransientTokenError(
                f"the broker at {self.address} answered without a usable token"
            ) from exc
        api = answer.model_api()
        if api is not None:
            said = {**self._said, answer.access_token: api}  # a new dict: readers never lock
            self._said = dict(list(said.items())[-SAID_KEPT:])
        return answer.token()

    def _failure(self, status: int, data: bytes) -> Exception:
        """The error the broker's answer stands for: the broker's table read backwards,
        so a failure is the same kind here as on the host."""
        try:
            answer = _read(data, protocol.ErrorAnswer)
            said, code = answer.message, answer.error
        except ValueError:
            said, code = f"HTTP {status}", None
        if status == 403 and self._tcp is not None:  # on TCP only the secret lets one in
            return ConfigurationError(
                f"the broker at {self.address} refused the secret this process sent ({said}); "
                "set CODEX_LOGIN_BROKER_SECRET_FILE to the file the broker was started with"
            )
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


def _read(data: bytes, kind: type[Message]) -> Message:
    if len(data) > MAX_ANSWER:
        raise ValueError("too long")
    return protocol.loads(data, kind)
