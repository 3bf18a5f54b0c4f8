"""The codex-login pytest plugin: fixtures for testing code that signs in with codex-login.

Opt-in: installing codex-login adds nothing to other projects' pytest sessions. Load
it with ``pytest_plugins = ["codex_login.testing.plugin"]`` in your top-level
conftest.py, or ``pytest -p codex_login.testing.plugin``. It defines fixtures only
(their names all say ``codex``) and imports nothing heavy until a test asks for one.

- ``codex_fake_issuer``: a running ``FakeIssuer`` (``codex_login.testing.issuer``),
  stopped after the test.
- ``codex_fake_backend``: a running ``FakeBackend`` (``codex_login.testing.backend``),
  the model API, linked to ``codex_fake_issuer``: it accepts that issuer's current
  access tokens (so ``codex_auth``'s) and its API key. Stopped after the test.
- ``codex_settable_clock``: a ``SettableClock`` at ``codex_login.testing.clock.START``.
- ``codex_home``: an empty private directory (mode 0700) to use as CODEX_HOME.
- ``codex_auth``: a ``CodexAuth`` logged in with ChatGPT at ``codex_fake_issuer``,
  storing in ``codex_home/auth.json`` (``FileCredentialStore``), with
  ``issuer=codex_fake_issuer.url`` and ``environ={}`` (nothing from the real
  environment leaks in). Closed after the test.
- ``codex_async_auth``: the same login as an ``AsyncCodexAuth``.

How the login is made: no browser round trip. The issuer opens a new grant and
hands out its tokens exactly as its code exchange would (``FakeIssuer.login_record``,
with ``tokens.oauth_provenance`` naming the fake issuer), and the record is
saved through the store. So the stored refresh token is live at the issuer:
``refresh()``, a due refresh, ``logout()`` and revocation all talk to it for
real, and ``codex_fake_issuer.requests`` starts empty. The login is dated a minute
back (``LOGIN_AGE_SECONDS``), as in a session under way: a forced refresh of tokens issued
seconds ago answers them without asking the issuer, so a test's first ``refresh()``
(or its code's retry after a 401) would otherwise post nothing. To test a browser login
itself, start from ``codex_home`` and use ``FakeIssuer.approve_in_background``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from codex_login.adapters.file_store import FileCredentialStore
    from codex_login.entrypoints.embedding import AsyncCodexAuth, CodexAuth
    from codex_login.testing.backend import FakeBackend
    from codex_login.testing.clock import SettableClock
    from codex_login.testing.issuer import FakeIssuer

# The contract suite's asserts report like a test's own (it is imported after this).
pytest.register_assert_rewrite("codex_login.testing.contract")

# Every import below is inside a fixture: this module loads in every pytest session.

LOGIN_AGE_SECONDS = 60.0  # how long ago the fixtures' login happened


@pytest.fixture
def codex_fake_issuer() -> Iterator[FakeIssuer]:
    """A fake OAuth issuer listening on 127.0.0.1, stopped after the test."""
    from codex_login.testing.issuer import FakeIssuer, running_issuer  # noqa: PLC0415

    with running_issuer(FakeIssuer()) as issuer:
        yield issuer


@pytest.fixture
def codex_fake_backend(codex_fake_issuer: FakeIssuer) -> Iterator[FakeBackend]:
    """A fake Codex backend on 127.0.0.1 that accepts ``codex_fake_issuer``'s logins."""
    from codex_login.testing.backend import FakeBackend, running_backend  # noqa: PLC0415

    with running_backend(FakeBackend(codex_fake_issuer)) as backend:
        yield backend


@pytest.fixture
def codex_settable_clock() -> SettableClock:
    """A clock that moves only when the test calls ``advance()`` or ``set()``."""
    from codex_login.testing.clock import SettableClock  # noqa: PLC0415

    return SettableClock()


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    """An empty directory only its owner may enter (0700), for CODEX_HOME."""
    home = tmp_path / "codex-home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)  # mkdir's mode is filtered by the umask
    return home


@pytest.fixture
def codex_auth(codex_home: Path, codex_fake_issuer: FakeIssuer) -> Iterator[CodexAuth]:
    """A ``CodexAuth`` logged in with ChatGPT at ``codex_fake_issuer``, kept in ``codex_home``."""
    from codex_login import CodexAuth  # noqa: PLC0415

    store = _logged_in(codex_home, codex_fake_issuer)
    with CodexAuth(store=store, issuer=codex_fake_issuer.url, environ={}) as auth:
        yield auth


@pytest.fixture
def codex_async_auth(codex_home: Path, codex_fake_issuer: FakeIssuer) -> Iterator[AsyncCodexAuth]:
    """The ``AsyncCodexAuth`` twin of ``codex_auth``: the same login, awaitable methods;
    closed after the test (its background thread stopped), as ``codex_auth`` is."""
    import asyncio  # noqa: PLC0415

    from codex_login import AsyncCodexAuth  # noqa: PLC0415

    store = _logged_in(codex_home, codex_fake_issuer)
    auth = AsyncCodexAuth(store=store, issuer=codex_fake_issuer.url, environ={})
    try:
        yield auth
    finally:
        asyncio.run(auth.aclose())  # the test's own loop, if it had one, has ended


def _logged_in(home: Path, issuer: FakeIssuer) -> FileCredentialStore:
    """The auth.json store in ``home``, holding a new ChatGPT login at ``issuer``."""
    from datetime import timedelta  # noqa: PLC0415

    from codex_login.stores import FileCredentialStore  # noqa: PLC0415

    store = FileCredentialStore(home)
    store.save(issuer.login_record(age=timedelta(seconds=LOGIN_AGE_SECONDS)))
    return store
