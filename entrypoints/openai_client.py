"""An openai client signed by the Codex login, in one call::

    import codex_login
    client = codex_login.openai_client()  # openai.OpenAI
    client.responses.create(model="gpt-5", input="hi")

    import codex_login.aio
    client = await codex_login.aio.openai_client()  # openai.AsyncOpenAI

Each points at the login's model API (``model_api().base_url``: ChatGPT's backend for a
ChatGPT login, the OpenAI API for an API key, ``openai_base_url`` of config.toml over
both) and sends its headers through ``CodexHttpxAuth`` (refreshed when due, one retry
after a 401). The ``api_key`` the SDK insists on is a placeholder whose header ours
replaces: the user invents none. Keyword arguments go to the SDK's constructor
(``max_retries``, ``timeout``, even ``base_url``); an ``http_client`` given there is
signed too. The base URL is the login's when the client is made: after a ``switch``
to a login of another kind, make a new client.

Checked with openai 3.63, whose clients are built on httpx2 but take an httpx client
(which ``CodexHttpxAuth`` signs) as ``http_client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from codex_login.application.seam import off_loop
from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
from codex_login.entrypoints.httpx_auth import CodexHttpxAuth

if TYPE_CHECKING:
    from openai import AsyncOpenAI, OpenAI

# What the SDK's own Authorization header is made of; never sent, ours replaces it.
PLACEHOLDER_KEY = "codex-login"


def openai_client(auth: CodexAuth | AsyncCodexAuth | None = None, **kwargs: Any) -> OpenAI:
    """An ``openai.OpenAI`` signed by ``auth``, either twin (default: ``CodexAuth()``,
    the login of ``$CODEX_HOME``); ``kwargs`` go to its constructor."""
    from openai import OpenAI  # noqa: PLC0415  (the optional extra, loaded when used)

    credential = auth.as_blocking() if auth is not None else CodexAuth()
    signer = CodexHttpxAuth(credential)
    given = kwargs.pop("http_client", None)
    if given is not None:
        given.auth = signer
    kwargs.setdefault("base_url", credential.model_api().base_url)
    return OpenAI(
        api_key=PLACEHOLDER_KEY,
        # Annotated as httpx2's client; openai 3.63 takes an httpx one as well.
        http_client=given if given is not None else httpx.Client(auth=signer),  # type: ignore[arg-type]
        **kwargs,
    )


async def async_openai_client(
    auth: CodexAuth | AsyncCodexAuth | None = None, **kwargs: Any
) -> AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` signed by ``auth``, either twin (default:
    ``AsyncCodexAuth()``); ``kwargs`` go to its constructor. A coroutine: finding the
    login's base URL may wait for the store or a refresh, never on the caller's loop."""
    from openai import AsyncOpenAI  # noqa: PLC0415  (the optional extra, loaded when used)

    # Made on a worker thread: it reads the settings' files.
    credential = auth.as_async() if auth is not None else await off_loop(AsyncCodexAuth)
    signer = CodexHttpxAuth(credential)
    given = kwargs.pop("http_client", None)
    if given is not None:
        given.auth = signer
    kwargs.setdefault("base_url", (await credential.model_api()).base_url)
    return AsyncOpenAI(
        api_key=PLACEHOLDER_KEY,
        http_client=given if given is not None else httpx.AsyncClient(auth=signer),  # type: ignore[arg-type]
        **kwargs,
    )
