"""``FakeBackend``: the state and its aiohttp app, as tests use them."""

from __future__ import annotations

from aiohttp import web

from codex_login.testing.backend.app import backend_app
from codex_login.testing.backend.state import BackendState


class FakeBackend(BackendState):
    """A Codex model backend to run with ``running_backend``, linked to a ``FakeIssuer``
    (passed first); ``url`` is set once it listens.

    - ``url``: the ChatGPT flavour's base URL (where a ChatGPT login's model API is,
      as ``https://chatgpt.com/backend-api/codex``): ``POST /responses``, ``GET /models``;
    - ``api_url``: the API-key flavour's (``url + "/v1"``, as
      ``https://api.openai.com/v1``): ``POST /v1/responses``, ``GET /v1/models``.

    ``GET /responses`` (the Codex CLI's WebSocket attempt) answers 426; any other
    route 404, recorded too.

    What it answers (change before or between requests): ``text``, the model's answer
    (streamed one word per ``response.output_text.delta``); ``model``, the model named
    when the request names none (and listed at ``/v1/models``); ``models``, Codex's
    catalogue at ``/models`` (empty by default); ``api_keys``, more API keys to accept
    besides ``issuer.api_key``.

    Who may call: see ``codex_login.testing.backend.state``. Every refusal is a 401
    whose ``error.code`` says why (``missing_authorization``, ``invalid_token``,
    ``token_expired``, ``token_superseded``, ``token_revoked``, ``missing_account_id``,
    ``account_mismatch``, ``invalid_api_key``).

    What tests read: ``requests`` (every request, in order, headers included: secrets
    too, as the issuer's record keeps them) and ``requests_to(path)``.
    """

    def __repr__(self) -> str:
        return f"FakeBackend({self.url or 'not running'})"

    def app(self) -> web.Application:
        """The aiohttp application; ``running_backend`` serves it."""
        return backend_app(self)
