"""codex_login.testing: what you need to test code that uses codex-login.

Shipped with the package (the pytest parts need the ``testing`` extra:
``pip install 'codex-login[testing]'``):

- ``codex_login.testing.issuer``: ``FakeIssuer``, a fake OAuth issuer served on
  127.0.0.1 by ``running_issuer()`` (no pytest needed); both the OpenAI and the
  standard OAuth dialects, PKCE, single-use refresh tokens, API-key exchange,
  revocation, device logins, scripted ``Failure``s and ``gates``, a record of every
  request (``Recorded``), and ``approve(url)``, the browser of a user who approves.
- ``codex_login.testing.backend``: ``FakeBackend``, a fake Codex backend (the model
  API) served on 127.0.0.1 by ``running_backend()``, linked to a ``FakeIssuer``: the
  ChatGPT flavour (``/responses``, streamed or not, ``/models``) takes only the
  issuer's current access token with its ``ChatGPT-Account-ID``, the API-key flavour
  (``/v1/...``) the issuer's API key; every request is recorded.
- ``codex_login.testing.session``: ``signed_in()``, for scripts: a fake issuer, a fake
  backend and a ``CodexAuth`` signed in at them in one ``with`` (``SignedIn``).
  ``python -m codex_login.testing`` runs the same on loopback until Ctrl-C and prints
  the ``export`` lines that point a shell at it.
- ``codex_login.testing.spiffe``: ``running_workload_api()``, a fake SPIFFE Workload
  API on a unix socket serving JWT-SVIDs the fake issuer's workload rules accept (needs
  the ``spiffe`` extra, grpcio).
- ``codex_login.testing.tokens``: ``id_token()``, ``access_token()``, ``make_jwt()``.
- ``codex_login.testing.clock``: ``SettableClock`` (``now()``, ``advance()``, ``set()``).
- ``codex_login.testing.strategies``: hypothesis strategies (auth.json files of every
  kind, records, token claims, plans, workspaces, login and refresh policies), to
  property-test your own rules; the one module that needs hypothesis.
- ``codex_login.testing.contract``: ``CredentialStoreContract``, the test suite
  every credential store passes, for your own store.
- ``codex_login.testing.plugin``: pytest fixtures, opt-in (``pytest_plugins =
  ["codex_login.testing.plugin"]`` in a conftest.py, or ``pytest -p
  codex_login.testing.plugin``): ``codex_fake_issuer``, ``codex_fake_backend``,
  ``codex_settable_clock``, ``codex_home``,
  ``codex_auth`` (a ``CodexAuth`` logged in at the fake issuer), ``codex_async_auth``.
- ``MemoryCredentialStore`` (from ``codex_login.adapters.memory_store``), for
  tests that need no file.

A store of your own passes the contract with a few lines::

    import pytest
    from codex_login.testing.contract import CredentialStoreContract

    class TestMyStore(CredentialStoreContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda: MyStore(tmp_path / "home")  # each call: a new handle, same login

The names here load when first used: the pytest plugin imports this package in
every test session, so importing it costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codex_login.adapters.memory_store import MemoryCredentialStore
    from codex_login.testing.backend import FakeBackend, running_backend
    from codex_login.testing.clock import SettableClock
    from codex_login.testing.contract import CredentialStoreContract
    from codex_login.testing.issuer import Failure, FakeIssuer, Recorded, running_issuer
    from codex_login.testing.session import SignedIn, signed_in
    from codex_login.testing.tokens import access_token, id_token, make_jwt

_WHERE = {
    "FakeIssuer": "codex_login.testing.issuer",
    "Failure": "codex_login.testing.issuer",
    "Recorded": "codex_login.testing.issuer",
    "running_issuer": "codex_login.testing.issuer",
    "FakeBackend": "codex_login.testing.backend",
    "running_backend": "codex_login.testing.backend",
    "signed_in": "codex_login.testing.session",
    "SignedIn": "codex_login.testing.session",
    "id_token": "codex_login.testing.tokens",
    "access_token": "codex_login.testing.tokens",
    "make_jwt": "codex_login.testing.tokens",
    "SettableClock": "codex_login.testing.clock",
    "CredentialStoreContract": "codex_login.testing.contract",
    "MemoryCredentialStore": "codex_login.adapters.memory_store",
}

__all__ = [  # noqa: RUF022  (in the order of the table above)
    "FakeIssuer",
    "Failure",
    "Recorded",
    "running_issuer",
    "FakeBackend",
    "running_backend",
    "signed_in",
    "SignedIn",
    "id_token",
    "access_token",
    "make_jwt",
    "SettableClock",
    "CredentialStoreContract",
    "MemoryCredentialStore",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'codex_login.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
