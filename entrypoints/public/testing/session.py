"""``signed_in()``: a fake issuer, a fake backend and a ``CodexAuth`` signed in at them,
in one call, for scripts (no pytest needed)::

    from codex_login.testing import signed_in

    with signed_in() as session:  # a temporary CODEX_HOME, removed at the end
        token = session.auth.get_token()
        print(session.backend.url, session.exports())

What it does, in order: starts a ``FakeIssuer`` and a ``FakeBackend`` linked to it on
127.0.0.1; saves a ChatGPT login made at that issuer in ``home/auth.json`` (as the
pytest fixture ``codex_auth`` does: no browser, tokens live at the issuer, the login
dated a minute back); writes ``home/config.toml`` with ``openai_base_url`` naming the
backend, so that a client reading it (the Codex CLI included) sends its model calls
there; and opens a ``CodexAuth`` on ``home``. The block's end closes the ``CodexAuth``,
stops both servers and removes a temporary home (a home you named is left as it is).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.entrypoints.embedding import CodexAuth
from codex_login.entrypoints.settings import CONFIG_FILE
from codex_login.stores import FileCredentialStore
from codex_login.testing.backend import FakeBackend, running_backend
from codex_login.testing.issuer import FakeIssuer, running_issuer

if TYPE_CHECKING:
    from codex_login.domain.ports import Clock

__all__ = ["SignedIn", "signed_in"]

LOGIN_AGE = timedelta(seconds=60)  # as the pytest fixtures' login: a session under way


@attrs.frozen(repr=False)
class SignedIn(FieldsRepr):
    """What ``signed_in()`` yields: the signed-in ``auth``, the running ``issuer`` and
    ``backend``, and ``home``, the CODEX_HOME holding the login and its config.toml."""

    home: Path
    auth: CodexAuth
    issuer: FakeIssuer
    backend: FakeBackend

    def environment(self) -> dict[str, str]:
        """The variables that point a program at this session: ``CODEX_HOME``; the issuer
        and client id a new ``codex-login login`` uses; ``OPENAI_BASE_URL``, the backend
        (also in the home's config.toml, as ``openai_base_url``)."""
        return {
            "CODEX_HOME": str(self.home),
            "CODEX_LOGIN_ISSUER": self.issuer.url,
            "CODEX_LOGIN_CLIENT_ID": DEFAULT_CLIENT_ID,
            "OPENAI_BASE_URL": self.backend.url,
        }

    def exports(self) -> str:
        """``environment()`` as shell ``export`` lines, one per variable."""
        return "".join(f"export {name}={value}\n" for name, value in self.environment().items())


@contextmanager
def signed_in(
    home: Path | str | None = None,
    *,
    plan: str = "pro",
    access_ttl: timedelta = timedelta(hours=1),
    clock: Clock | None = None,
) -> Iterator[SignedIn]:
    """A ChatGPT login at a fake issuer, with a fake backend, until the block ends.

    ``home``: the CODEX_HOME to sign in (created if missing; it must hold neither
    auth.json nor config.toml, so a real login is never overwritten); None: a new
    temporary directory, removed at the end. ``plan`` and ``access_ttl`` go to the
    ``FakeIssuer``; ``clock`` (a ``SettableClock``) to both the issuer and the
    ``CodexAuth``, so that moving it expires the access token for both.
    """
    with ExitStack() as stack:
        where = _fresh_home(home, stack)
        issuer = stack.enter_context(
            running_issuer(FakeIssuer(plan=plan, access_ttl=access_ttl, clock=clock))
        )
        backend = stack.enter_context(running_backend(FakeBackend(issuer)))
        FileCredentialStore(where).save(issuer.login_record(age=LOGIN_AGE))
        _write_config(where, backend.url)
        auth = stack.enter_context(
            CodexAuth(codex_home=where, issuer=issuer.url, clock=clock, environ={})
        )
        yield SignedIn(where, auth, issuer, backend)


def _fresh_home(home: Path | str | None, stack: ExitStack) -> Path:
    if home is None:
        where = Path(tempfile.mkdtemp(prefix="codex-login-testing-"))  # mode 0700
        stack.callback(shutil.rmtree, where, ignore_errors=True)
        return where
    where = Path(home).expanduser().absolute()
    for name in ("auth.json", CONFIG_FILE):
        if (where / name).exists():
            raise FileExistsError(f"{where / name} exists: signed_in() needs a fresh CODEX_HOME")
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    return where


def _write_config(home: Path, base_url: str) -> None:
    # A JSON string with ASCII escapes is a valid TOML basic string.
    text = f"openai_base_url = {json.dumps(base_url, ensure_ascii=True)}\n"
    (home / CONFIG_FILE).write_text(text, encoding="utf-8")
