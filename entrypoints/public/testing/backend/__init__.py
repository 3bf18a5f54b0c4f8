"""A fake Codex backend: the model API a login's requests go to, on 127.0.0.1, for tests.

It is linked to a ``FakeIssuer`` and accepts what that issuer handed out, as the real
backend accepts what auth.openai.com hands out:

- the ChatGPT flavour, at the root (the path layout of
  ``https://chatgpt.com/backend-api/codex``): ``POST /responses`` answers a Responses
  API ``Response``, streamed as Server-Sent Events when the body says ``"stream":
  true``; ``GET /models`` answers Codex's catalogue. It answers 401 unless
  ``Authorization`` carries the issuer's current access token (not expired on the
  issuer's clock, not replaced by a refresh, its login not revoked) and
  ``ChatGPT-Account-ID`` names that token's account;
- the API-key flavour, under ``/v1`` (as ``https://api.openai.com/v1``): the same two
  routes in the public API's shapes, for the issuer's exchanged API key and any in
  ``api_keys``.

The real Codex CLI (0.171) finishes a turn against it: its WebSocket attempt at
``GET /responses`` gets a 426 that sends it to ``POST /responses`` at once, and its
compressed request bodies are read (zstd where Python has ``compression.zstd``;
otherwise recorded undecoded and answered as the stream Codex asks for).

Every request is recorded (``requests``), so a test can assert what a client sent::

    import openai

    from codex_login.stores import MemoryCredentialStore
    from codex_login.testing.backend import FakeBackend, running_backend
    from codex_login.testing.issuer import FakeIssuer, running_issuer

    with running_issuer(FakeIssuer()) as issuer, running_backend(FakeBackend(issuer)) as backend:
        tokens = issuer.login_record().tokens
        assert tokens is not None
        client = openai.OpenAI(
            base_url=backend.url,
            api_key=tokens.access_token,
            default_headers={"ChatGPT-Account-ID": tokens.account_id or ""},
        )
        with client.responses.create(model="gpt-5-codex", input="hi", stream=True) as stream:
            text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert text == backend.text
        assert backend.requests_to("/responses")[0].header("ChatGPT-Account-ID") == "acc-123"

One module per job, as the issuer's: ``values`` (the documents it answers), ``state``
(who may call, what to answer, without HTTP), ``app`` (the aiohttp routes),
``server`` (``running_backend``) and ``fake`` (``FakeBackend``).
"""

from __future__ import annotations

from codex_login.testing.backend.fake import FakeBackend
from codex_login.testing.backend.server import running_backend
from codex_login.testing.backend.values import ACCOUNT_HEADER

__all__ = ["ACCOUNT_HEADER", "FakeBackend", "running_backend"]
