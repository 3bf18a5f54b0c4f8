"""Sign httpx requests, and so the openai SDK's, with the Codex login::

    import httpx
    from codex_login import CodexAuth, CodexHttpxAuth
    auth = CodexAuth()
    client = httpx.Client(auth=CodexHttpxAuth(auth), base_url=auth.model_api().base_url)

Every header of the login's model API is sent (``Authorization``, and
``ChatGPT-Account-ID`` for a login of an account). The openai SDK (checked with openai
3.63, built on httpx2) also takes an httpx client; ``codex_login.openai_client()``
(``entrypoints/openai_client.py``) makes one so. By hand, its ``api_key`` must be a
non-empty placeholder, as the SDK refuses to start without one; the Authorization
header it makes from it is replaced by ours::

    from openai import OpenAI
    OpenAI(
        api_key="unused",
        base_url=auth.model_api().base_url,
        http_client=httpx.Client(auth=CodexHttpxAuth(auth)),
    )

(The SDK annotates ``http_client`` as ``httpx2.Client``, so a type checker wants a
``# type: ignore[arg-type]`` there.) ``httpx.AsyncClient`` and ``AsyncOpenAI`` take
the same object; httpx2's own clients do not, as this is an ``httpx.Auth``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth

if TYPE_CHECKING:
    from codex_login.domain.model_api import ModelApi

UNAUTHORIZED = 401


class CodexHttpxAuth(httpx.Auth):
    """An ``httpx.Auth`` that sends the Codex login's headers, refreshed when due: every
    header of its model API (``Authorization``, and ``ChatGPT-Account-ID`` for a login of
    an account), read again from the current token for each request, so a refresh or a
    ``switch`` to another account changes them.

    A request the server answers with 401 is sent once more after one forced
    refresh; many requests refused with the same token share that one refresh.
    A second 401, or a 401 for an API key (which cannot be refreshed), is
    returned to the caller as it is. When the login itself is gone the request
    fails with the login's error (``NotLoggedIn``, ``SessionEnded``, ...).

    One object serves ``httpx.Client`` and ``httpx.AsyncClient``; both share the
    credential's auth manager.
    """

    # A retry must send the body again, so a streamed one is buffered before the first
    # send. httpx applies this flag only in the flows we override, so ours apply it too.
    requires_request_body = True

    def __init__(self, credential: CodexAuth | AsyncCodexAuth) -> None:
        """Sign requests with ``credential``'s login (either twin; they are interchangeable)."""
        # Each flow needs its twin (they share one auth manager); a made one is ours to close.
        self._made = isinstance(credential, AsyncCodexAuth)
        self._async = credential.as_async()
        self._blocking = credential.as_blocking()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._blocking.location!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Send ``request`` with the current token; after a 401, refresh and send it once more."""
        if self.requires_request_body:
            request.read()
        sent = self._blocking.auth()
        signed = self._blocking.model_api_of(sent)
        response = yield _signed(request, signed)
        if response.status_code != UNAUTHORIZED:
            return
        renewed = self._blocking.refresh(stale=sent.token)
        if renewed.token != sent.token:
            yield _signed(request, self._blocking.model_api_of(renewed), signed)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """The same as ``sync_auth_flow``, waiting for the login without blocking the loop."""
        if self.requires_request_body:
            await request.aread()
        sent = await self._async.auth()
        signed = await self._async.model_api_of(sent)
        response = yield _signed(request, signed)
        if response.status_code != UNAUTHORIZED:
            return
        renewed = await self._async.refresh(stale=sent.token)
        if renewed.token != sent.token:
            yield _signed(request, await self._async.model_api_of(renewed), signed)

    def close(self) -> None:
        """Stop the background thread of the blocking twin made for an ``AsyncCodexAuth``.

        Nothing to do when given a ``CodexAuth``: that one is the caller's to close.
        """
        if self._made:
            self._blocking.close()


def _signed(request: httpx.Request, api: ModelApi, before: ModelApi | None = None) -> httpx.Request:
    """``request`` with every header of the login's model API, replacing any already set
    (such as the openai SDK's own Authorization); on a retry, the headers of the refused
    attempt that the renewed login no longer has are dropped."""
    if before is not None:
        for name in before.headers.keys() - api.headers.keys():
            request.headers.pop(name, None)
    request.headers.update(api.headers)
    return request
