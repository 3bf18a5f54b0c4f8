"""The async twin: ``codex_login.aio.CodexAuth`` has the methods of ``codex_login.CodexAuth``
as coroutines, with the same constructor::

    from codex_login.aio import CodexAuth

    auth = CodexAuth()
    token = await auth.get_token()

It is the class also importable as ``codex_login.AsyncCodexAuth``.
``await codex_login.aio.openai_client()`` is an ``openai.AsyncOpenAI`` signed by the
login (the ``openai`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_login._lazy import exports

if TYPE_CHECKING:
    from codex_login.entrypoints.embedding import AsyncCodexAuth as CodexAuth
    from codex_login.entrypoints.openai_client import async_openai_client as openai_client

__all__ = ["CodexAuth", "openai_client"]

if not TYPE_CHECKING:  # type checkers see the imports above, and only those
    __getattr__, __dir__ = exports(
        __name__,
        {
            "CodexAuth": "codex_login.entrypoints.embedding:AsyncCodexAuth",
            "openai_client": "codex_login.entrypoints.openai_client:async_openai_client",
        },
        extras={"openai_client": "openai"},
    )
