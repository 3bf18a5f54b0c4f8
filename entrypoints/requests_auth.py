"""Sign requests' requests with the Codex login::

    import requests
    from codex_login import CodexAuth, CodexRequestsAuth
    requests.get("https://example.com/v1/models", auth=CodexRequestsAuth(CodexAuth()))

A ``requests.Session`` takes it as ``session.auth = CodexRequestsAuth(CodexAuth())``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from requests import PreparedRequest, Response
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
from requests.sessions import SessionRedirectMixin

from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth

if TYPE_CHECKING:
    from codex_login.domain.tokens import AccessToken

UNAUTHORIZED = 401


class CodexRequestsAuth(AuthBase):
    """A requests auth that sends the Codex login's headers, refreshed when due: every
    header of its model API (``Authorization``, and ``ChatGPT-Account-ID`` for a login of
    an account), read again from the current token for each request, so a refresh or a
    ``switch`` to another account changes them.

    A request the server answers with 401 is sent once more after one forced
    refresh; many requests refused with the same token share that one refresh.
    A second 401, or a 401 for an API key (which cannot be refreshed), is
    returned to the caller as it is; a retried response keeps the refused one in
    its ``history``. So is the 401 of a request whose body was a generator, which
    cannot be sent twice (the token is refreshed all the same, for the next
    request). When the login itself is gone the request fails with the login's
    error (``NotLoggedIn``, ``SessionEnded``, ...).
    """

    def __init__(self, credential: CodexAuth | AsyncCodexAuth) -> None:
        """Sign requests with ``credential``'s login (either twin; they are interchangeable)."""
        # requests blocks, so it needs the blocking twin; a made one is ours to close.
        self._made = isinstance(credential, AsyncCodexAuth)
        self._auth = credential.as_blocking()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._auth.location!r})"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Set the Authorization header, and arrange one retry should the server answer 401."""
        sent = self._auth.auth()
        request.headers.update(self._auth.model_api_of(sent).headers)
        request.register_hook("response", _RetryOnce(self._auth, sent, request))
        return request

    def close(self) -> None:
        """Stop the background thread of the blocking twin made for an ``AsyncCodexAuth``.

        Nothing to do when given a ``CodexAuth``: that one is the caller's to close.
        """
        if self._made:
            self._auth.close()


class _RetryOnce:
    """The response hook of one request: after a 401 for ``sent``, refresh and send again.

    Modelled on ``requests.auth.HTTPDigestAuth.handle_401``. The re-sent request
    goes straight to the adapter, which runs no hooks; redirects copy the hook,
    hence the flag that keeps it to one retry per request.
    """

    def __init__(self, auth: CodexAuth, sent: AccessToken, request: PreparedRequest) -> None:
        self._auth = auth
        self._sent = sent
        self._retried = False
        # Where a file-like body starts, to rewind it for the retry.
        tell = getattr(request.body, "tell", None)
        self._body_start: int | None = tell() if tell is not None else None
        body = request.body
        self._replayable = body is None or isinstance(body, bytes | str) or tell is not None

    def __call__(self, response: Response, **send_options: Any) -> Response:
        if response.is_redirect:
            self._keep_the_login_home(response)
        if self._retried or response.status_code != UNAUTHORIZED:
            return response
        if not self._carried_our_token(response):
            return response
        self._retried = True
        renewed = self._auth.refresh(stale=self._sent.token)
        if renewed.token == self._sent.token or not self._replayable:
            return response  # an API key, nothing newer to try, or a body already spent
        return self._send_again(response, renewed, send_options)

    def _keep_the_login_home(self, redirect: Response) -> None:
        """requests drops Authorization on a redirect to another host (or port, or
        scheme), not the login's other headers (``ChatGPT-Account-ID`` names the
        workspace): the next request is a copy of this one, so they leave this one (the
        request in the response's ``history`` shows them gone), as the token does."""
        sent = redirect.request
        target = urljoin(sent.url or "", redirect.headers.get("location", ""))
        # requests' own rule for Authorization (host, port, or scheme changed), so that
        # the login's headers go, or stay, together.
        if SessionRedirectMixin().should_strip_auth(sent.url or "", target):
            for name in self._auth.model_api_of(self._sent).headers:
                if name.lower() != "authorization":  # requests' own rule decides that one
                    sent.headers.pop(name, None)

    def _carried_our_token(self, response: Response) -> bool:
        """False for a redirect that dropped our header (another host): it gets no token."""
        return response.request.headers.get("Authorization") == self._sent.authorization

    def _send_again(
        self, refused: Response, renewed: AccessToken, send_options: dict[str, Any]
    ) -> Response:
        seek = getattr(refused.request.body, "seek", None)
        if self._body_start is not None and seek is not None:
            seek(self._body_start)
        # Read and release the refused response so the retry can reuse its connection.
        _ = refused.content
        refused.close()
        again = refused.request.copy()
        # Keep cookies the refusal set, as HTTPDigestAuth does (through the private jar).
        jar = again._cookies
        if jar is not None:  # None only for a request prepared by hand without cookies
            extract_cookies_to_jar(jar, refused.request, refused.raw)
            again.prepare_cookies(jar)
        signed = self._auth.model_api_of(self._sent).headers
        headers = self._auth.model_api_of(renewed).headers
        for name in signed.keys() - headers.keys():  # what the renewed login no longer has
            again.headers.pop(name, None)
        again.headers.update(headers)
        answer = refused.connection.send(again, **send_options)
        answer.history.append(refused)
        answer.request = again
        return answer
