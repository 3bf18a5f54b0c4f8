"""HTTP for the token endpoint: one session, TLS, size limits, foreign errors translated."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

import aiohttp

from codex_login.domain.errors import ConfigurationError, TokenEndpointError, TransientTokenError
from codex_login.domain.masking import scrub

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
# Request fields whose values are secrets, never to be echoed back in a message.
SECRET_FIELDS = frozenset(
    {"assertion", "code", "code_verifier", "device_code", "refresh_token", "subject_token", "token"}
)


class Answer:
    """An HTTP answer whose body was read within the size limit, and the secrets that
    the request carried (an issuer's error description may quote them)."""

    def __init__(self, status: int, reason: str, body: bytes, sent: tuple[str, ...]) -> None:
        self.status, self.reason, self.body, self.sent = status, reason, body, sent

    def oauth_error(self) -> tuple[str | None, str | None]:
        return _oauth_error(self.json_object(), self.sent)

    def json_object(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def describe_body(self) -> str:
        if not self.body.strip():
            return "an empty body"
        if self.body.lstrip()[:1] == b"<":
            return "an HTML page, not JSON"
        return "a body that is not a JSON object"

    def success(self, what: str) -> dict[str, Any]:
        """The answer's JSON object, or the error that explains why there is none."""
        document = self.json_object()
        if self.status == 200 and document is not None:
            return document
        raise self.failure(what)

    def failure(self, what: str) -> TokenEndpointError:
        document = self.json_object()
        if self.status == 200:
            return TransientTokenError(
                f"{what} failed: the issuer answered with {self.describe_body()}"
            )
        code, description = self.oauth_error()
        detail = ": ".join(p for p in (f"HTTP {self.status} {self.reason}", code, description) if p)
        if document is None:
            detail += f" ({self.describe_body()})"
        error = TransientTokenError if self.status >= 500 else TokenEndpointError
        return error(f"{what} failed ({detail})", status=self.status, error_code=code)


class Transport:
    """The requests' one HTTP session (and its kept-alive connections), made on the loop
    of the first request and closed by ``aclose()`` on that loop; the application runs
    every request on one loop (``application/seam.py``). A request from another loop
    gets a session of its own, closed after it.
    """

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        revoke_timeout: float = 10.0,
    ) -> None:
        self._ca_file = ca_file
        self._ssl: ssl.SSLContext | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._revoke_timeout = aiohttp.ClientTimeout(
            total=revoke_timeout, connect=min(connect_timeout, revoke_timeout)
        )
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._session_pid = 0  # the process that made the session
        # How many sessions this transport made (one while all requests share a loop).
        self.sessions_made = 0

    async def aclose(self) -> None:
        """Close the shared session; call it on the loop that made it. A later request
        makes a new one."""
        self._forget_a_parents_session()
        session, self._session, self._session_loop = self._session, None, None
        if session is not None:
            await session.close()

    def _forget_a_parents_session(self) -> None:
        """In a child made by fork(): the session's kept-alive sockets are registered with
        the parent's loop, whose epoll set the child shares. Closing them here (as closing
        the session would, or the collector, which closes a connector left open) would take
        them out of that set, from under the parent. They are let go unclosed instead: the
        child's copies of their descriptors close with them, the parent's stay as they are."""
        if self._session is None or self._session_pid == os.getpid():
            return
        _let_go(self._session)
        self._session, self._session_loop = None, None

    async def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        form: str | None = None,
        json_body: Mapping[str, str] | None = None,
        revoke: bool = False,
        bearer: str | None = None,
    ) -> Answer:
        headers = {"Accept": "application/json"}
        if bearer is not None:  # whoami: the access token is the credential
            headers["Authorization"] = f"Bearer {bearer}"
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        timeout = self._revoke_timeout if revoke else self._timeout
        tls: ssl.SSLContext | bool = self._tls() if url.startswith("https:") else True
        log.debug("%s %s (%s)", method, url, what)
        try:
            async with self._session_for_this_loop() as session:
                # Never follow a redirect: it would carry codes and tokens to another URL.
                response = await session.request(
                    method,
                    url,
                    data=form,
                    json=json_body,
                    headers=headers,
                    ssl=tls,
                    allow_redirects=False,
                    timeout=timeout,
                )
                async with response:
                    body = await _read_limited(response)
                sent = _secrets_sent(form, json_body) + ((bearer,) if bearer else ())
                return Answer(response.status, response.reason or "", body, sent)
        except TimeoutError as exc:
            raise TransientTokenError(
                f"{what} failed: {url} did not answer within {timeout.total:g} s"
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise TransientTokenError(f"{what} failed: TLS error talking to {url}: {exc}") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransientTokenError(f"{what} failed: cannot reach {url}: {_reason(exc)}") from exc
        except ValueError as exc:  # aiohttp's reading of a malformed proxy variable
            raise ConfigurationError(
                f"{what} failed: {exc}; check HTTPS_PROXY, HTTP_PROXY and NO_PROXY"
            ) from exc

    def _tls(self) -> ssl.SSLContext:
        """Loading the trust store is slow; only HTTPS requests need it."""
        if self._ssl is None:
            self._ssl = _ssl_context(self._ca_file)
        return self._ssl

    @contextlib.asynccontextmanager
    async def _session_for_this_loop(self) -> AsyncIterator[aiohttp.ClientSession]:
        """The shared session on its own loop; on another loop, one for this request."""
        loop = asyncio.get_running_loop()
        self._forget_a_parents_session()
        if self._session is None or self._session.closed:
            self._session, self._session_loop = self._new_session(), loop
            self._session_pid = os.getpid()
            _with_sessions.add(self)
        if self._session_loop is loop:
            yield self._session
            return
        async with self._new_session() as session:
            yield session

    def _new_session(self) -> aiohttp.ClientSession:
        self.sessions_made += 1
        return aiohttp.ClientSession(timeout=self._timeout, trust_env=True)


# Transports that made a session: a child made by fork() lets the parent's go at once,
# before anything (a request, an exit's collection) could close them.
_with_sessions: weakref.WeakSet[Transport] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_with_sessions):
        transport._forget_a_parents_session()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _let_go(session: aiohttp.ClientSession) -> None:
    """Forget a session inherited from the parent without closing a connection: its pool
    is emptied and the connector marked closed (aiohttp's own attributes: no public way
    drops a pool unclosed), so neither it nor the collector closes them here."""
    connector = session.connector
    if connector is not None:
        connector._conns.clear()
        connector._closed = True


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise TransientTokenError(
                f"{response.url.with_query(None)} answered with more than {MAX_BODY // 1024} KiB"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _oauth_error(
    document: dict[str, Any] | None, sent: tuple[str, ...]
) -> tuple[str | None, str | None]:
    """(code, description) from RFC 6749 (`error`) or OpenAI (`error.code`) error bodies.

    The description is cut to a readable length, after the secrets the request
    carried are scrubbed from it (a cut could leave a part no scrubbing would find).
    """
    if document is None:
        return None, None
    error = document.get("error")
    if isinstance(error, dict):
        code, description = error.get("code") or error.get("type"), error.get("message")
    else:
        code, description = error, document.get("error_description")
    if not code:
        code = document.get("code")
    return (
        code if isinstance(code, str) else None,
        scrub(description, sent)[:300] if isinstance(description, str) else None,
    )


def _secrets_sent(form: str | None, json_body: Mapping[str, str] | None) -> tuple[str, ...]:
    fields = dict(parse_qsl(form)) if form else dict(json_body or {})
    return tuple(value for name, value in fields.items() if name in SECRET_FIELDS and value)


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load the CA bundle {ca_file}: {_reason(exc)}; "
                "fix CODEX_CA_CERTIFICATE / SSL_CERT_FILE"
            ) from exc
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
