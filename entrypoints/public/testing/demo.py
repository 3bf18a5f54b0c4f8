"""``codex-login demo``: the whole life of a login, against the testing kit's issuer.

The user's own credentials are never read or written: the demo serves a
``FakeIssuer`` on a free loopback port and keeps its login in a temporary
CODEX_HOME, removed at the end whatever happens. Every step checks its claim
against what the issuer recorded, and fails with one line when it does not hold:

1. sign-in: the browser sign-in through the real callback server. With a graphical
   browser the issuer's one-click page opens there for the user to click; without
   one the demo plays the browser over HTTP (``FakeIssuer.approve``).
2. status: ``codex-login status``, run as the user would run it.
3. token: the stored access token, handed out without asking the issuer.
4. refresh: the issuer's access tokens live ``ACCESS_TTL``, so a refresh is due at
   half their life; the demo waits until then, and the next token sends one
   refresh request and stores the rotated refresh token.
5. processes: ``PROCESSES`` ``codex-login token`` processes at once with the token
   due: the issuer counts one refresh request, and all print the same token.
6. logout: one revoke request at the issuer, auth.json removed.

It lives in the testing kit because it runs on the kit's issuer: the kit sits
above the entry points in the import layers, so the CLI loads it by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from codex_login.adapters.browser import SystemBrowser
from codex_login.domain.errors import CodexLoginError, LoginTimedOut
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.domain.plans import plan_name
from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.documents import (
    DemoDocument,
    DemoFacts,
    DemoStepDocument,
    LogoutFacts,
    ProcessesFacts,
    RefreshFacts,
    SignInFacts,
    StatusFacts,
    TokenFacts,
    dumps,
)
from codex_login.entrypoints.settings import Settings
from codex_login.testing.issuer import FakeIssuer, running_issuer

if TYPE_CHECKING:
    from codex_login.application.service import AuthService
    from codex_login.domain.tokens import TokenData

__all__ = ["ACCESS_TTL", "PROCESSES", "DemoFailed", "run"]

EMAIL = "demo@example.com"
# Short enough to see one expire: a refresh is due after half of it (RefreshPolicy).
ACCESS_TTL = timedelta(seconds=4)
# The processes' one refresh must outlast the slowest of them, or it would be due again.
STORM_TTL = timedelta(hours=1)
PROCESSES = 8
BROWSER_TIMEOUT = 120.0
CHILD_TIMEOUT = 60.0
INTRO = (
    "codex-login demo: the whole life of a login, against a fake issuer on this machine.\n"
    "Your own credentials are never read or changed: the demo keeps its login in a\n"
    "temporary CODEX_HOME and removes it at the end."
)

Say = Callable[[str], None]


class DemoFailed(CodexLoginError):
    """A step of the demo did not do what it shows (or could not run)."""


@attrs.frozen(repr=False)
class _Done(FieldsRepr):
    """What a step did: a line, maybe a second (indented) one, and its facts for --json."""

    summary: str
    detail: str | None
    facts: DemoFacts


@attrs.frozen(repr=False)
class _Child(FieldsRepr):
    returncode: int
    stdout: str
    stderr: str

    @property
    def last_words(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else f"exit status {self.returncode}"


def run(
    *,
    json_output: bool,
    port: int,
    use_browser: bool,
    say: Say,
    emit: Say,
    verbose: bool = False,
) -> None:
    """Run every step; ``say`` what happened, or ``emit`` it as one JSON document.

    Raises ``DemoFailed`` (after cleaning up, and after emitting the document) when
    a step fails.
    """
    say(INTRO)
    started = time.monotonic()
    home = _temporary_home()
    steps: list[DemoStepDocument] = []
    issuer_url: str | None = None
    failure: CodexLoginError | None = None
    try:
        with _demo_issuer() as issuer:
            issuer_url = issuer.url
            say(f"  issuer:     {issuer.url} ({_seconds(ACCESS_TTL)} access tokens)")
            say(f"  CODEX_HOME: {home}")
            demo = _Demo(
                issuer=issuer,
                home=home,
                port=port,
                use_browser=use_browser,
                say=say,
                steps=steps,
                quiet=json_output,
                verbose=verbose,
            )
            asyncio.run(demo.run())
    except CodexLoginError as exc:  # DemoFailed, or a setting the service refused
        failure = exc
    finally:
        shutil.rmtree(home, ignore_errors=True)
    removed = not home.exists()
    if not removed and failure is None:
        failure = DemoFailed(f"could not remove the temporary CODEX_HOME {home}; remove it")
    seconds = round(time.monotonic() - started, 2)
    if json_output:
        document = DemoDocument(
            ok=failure is None,
            issuer=issuer_url,
            codex_home=str(home),
            seconds=seconds,
            codex_home_removed=removed,
            steps=steps,
        )
        emit(dumps(document))
    if failure is not None:
        raise failure
    if not json_output:
        say(
            f"Done in {seconds:.1f} s: all {len(steps)} steps passed; removed {home}. "
            f"Next, your own login: {NEXT_STEPS}"
        )


# What a person who watched the demo runs next (one line: the summary stays the last).
NEXT_STEPS = (
    "`codex-login login` (`--device-auth` on a machine without a browser), then "
    "`codex-login status` and `codex-login token`; `codex-login help` lists the rest."
)


class _Demo:
    """The steps, against one issuer and one temporary CODEX_HOME."""

    def __init__(
        self,
        *,
        issuer: FakeIssuer,
        home: Path,
        port: int,
        use_browser: bool,
        say: Say,
        steps: list[DemoStepDocument],
        quiet: bool,
        verbose: bool,
    ) -> None:
        self.issuer = issuer
        self.home = home
        self.port = port
        self.use_browser = use_browser
        self.say = say
        self.steps = steps
        self.quiet = quiet
        self.verbose = verbose
        # The fake issuer stands in for OpenAI's and knows its client id; any issuer but
        # the default one needs its client id named (a mix-up defence).
        self.service: AuthService = bootstrap(
            codex_home=home, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}, notify=say
        )
        # The processes see only the temporary home: none of the user's CODEX_* or
        # OPENAI_* settings (a store, a broker, an issuer, a key) may leak into them.
        self.child_env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CODEX_", "OPENAI_"))
        }
        self.child_env["CODEX_HOME"] = str(home)

    async def run(self) -> None:
        if not self.verbose:
            # As `codex-login login` does: the callback server answers malformed requests
            # with a 4xx; aiohttp would also print them with a traceback.
            logging.getLogger("aiohttp").addHandler(logging.NullHandler())
        steps: list[tuple[str, Callable[[], Awaitable[_Done]]]] = [
            ("sign-in", self.sign_in),
            ("status", self.status),
            ("token", self.token),
            ("refresh", self.refresh),
            ("processes", self.processes),
            ("logout", self.logout),
        ]
        for name, step in steps:
            await self._step(name, step)

    async def _step(self, name: str, step: Callable[[], Awaitable[_Done]]) -> None:
        started = time.monotonic()
        try:
            done = await step()
        except CodexLoginError as exc:
            seconds = round(time.monotonic() - started, 2)
            self.steps.append(
                DemoStepDocument(step=name, ok=False, seconds=seconds, error=str(exc))
            )
            raise DemoFailed(f"the demo's {name} step failed: {exc}") from exc
        seconds = time.monotonic() - started
        self.steps.append(
            DemoStepDocument(step=name, ok=True, seconds=round(seconds, 2), facts=done.facts)
        )
        if not self.quiet:
            self.say(f"{name} ({seconds:.2f} s): {done.summary}")
            if done.detail:
                self.say(f"    {done.detail}")

    # -- the steps -----------------------------------------------------------------------

    async def sign_in(self) -> _Done:
        how: list[str] = []
        ports: list[int] = []

        def open_or_follow(url: str) -> bool:  # on a worker thread, while the server waits
            display = Settings.from_environ().graphical_display
            if self.use_browser and SystemBrowser(display).open(url):
                how.append("browser")
                self.say(
                    f"sign-in: your browser shows the demo issuer's page; click \"Sign in as "
                    f'{EMAIL}" there\n(waiting up to {BROWSER_TIMEOUT / 60:g} min; Ctrl-C '
                    f"stops). If no page opened, visit:\n\n{url}\n"
                )
                return True
            how.append("http")
            self._follow_over_http(url)
            return False

        try:
            outcome = await self.service.login_in_browser(
                announce=lambda _url, port: ports.append(port),
                open_browser=open_or_follow,
                port=self.port,
                timeout=BROWSER_TIMEOUT,
            )
        except LoginTimedOut as exc:
            raise DemoFailed(
                f"nobody signed in on the issuer's page within {BROWSER_TIMEOUT / 60:g} min; "
                "run `codex-login demo --no-browser` to let the demo sign in over HTTP"
            ) from exc
        claims = outcome.id_token
        plan = plan_name(claims.plan) if claims.plan else ""
        who = f"{claims.email} (ChatGPT {plan.capitalize()})" if plan else f"{claims.email}"
        if how == ["browser"]:
            summary = "you signed in on the issuer's page in your browser"
        else:
            why = "no graphical browser here" if self.use_browser else "--no-browser"
            summary = (
                f"{why}, so the demo signed in over HTTP as a browser would: "
                "the issuer's page, its form, the redirects"
            )
        return _Done(
            summary,
            f"the callback server on localhost:{ports[0]} stored the login: {who}",
            SignInFacts(how=how[0], callback_port=ports[0], email=claims.email, plan=plan),
        )

    def _follow_over_http(self, url: str) -> None:
        try:
            visit = self.issuer.approve(url)
        except (OSError, ValueError) as exc:  # URLError is an OSError
            raise DemoFailed(f"signing in over HTTP failed: {exc}") from exc
        if visit.status != 200:
            raise DemoFailed(
                f"signing in over HTTP ended at {urlsplit(visit.url).path} with HTTP {visit.status}"
            )

    async def status(self) -> _Done:
        result = await self._cli("status")
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        if result.returncode != 0 or not lines:
            raise DemoFailed(f"`codex-login status` failed: {result.last_words}")
        return _Done(
            f"`codex-login status` says: {lines[0]}",
            "; ".join(lines[1:]) or None,
            StatusFacts(exit_status=result.returncode, output=lines),
        )

    async def token(self) -> _Done:
        before = self._refreshes()
        current = await self.service.auth()
        sent = self._refreshes() - before
        left = _seconds_until(current.expires_at, self.service)
        if sent == 0:
            summary = "handed out the stored access token without asking the issuer"
        else:  # possible on a very slow machine: say what happened
            summary = f"the stored access token was already due: {_requests(sent, 'refresh')}"
        return _Done(
            summary,
            f"it expires in {left:.1f} s; a refresh is due at half its life",
            TokenFacts(refresh_requests=sent, expires_in=round(left, 2)),
        )

    async def refresh(self) -> _Done:
        waited = await self._until_due()
        old = self._stored().refresh_token
        before = self._refreshes()
        current = await self.service.auth()
        sent = self._refreshes() - before
        stored = self._stored()
        _check(sent == 1, f"expected 1 refresh request, the issuer counted {sent}")
        _check(stored.refresh_token != old, "the stored refresh token did not change")
        _check(current.token == stored.access_token, "the new access token was not stored")
        _check(
            self.issuer.refresh_token_works(stored.refresh_token),
            "the issuer refuses the stored refresh token",
        )
        _check(not self.issuer.refresh_token_works(old), "the issuer still accepts the old one")
        return _Done(
            f"waited {waited:.2f} s until the access token was half spent; the next token "
            f"sent {_requests(sent, 'refresh')}",
            "the rotated refresh token is stored, and the issuer now refuses the old one",
            RefreshFacts(
                waited=round(waited, 2),
                refresh_requests=sent,
                refresh_token_rotated=True,
                old_refresh_token_works=False,
            ),
        )

    async def processes(self) -> _Done:
        self.issuer.access_ttl = STORM_TTL
        waited = await self._until_due()
        before = self._refreshes()
        results = await asyncio.gather(*(self._cli("token") for _ in range(PROCESSES)))
        sent = self._refreshes() - before
        failed = [result for result in results if result.returncode != 0]
        _check(
            not failed,
            f"{len(failed)} of {PROCESSES} `codex-login token` processes failed; "
            f"one said: {failed[0].last_words if failed else ''}",
        )
        tokens = {result.stdout.strip() for result in results}
        _check(sent == 1, f"expected 1 refresh request, the issuer counted {sent}")
        _check(len(tokens) == 1, f"the processes printed {len(tokens)} different tokens")
        _check(
            tokens == {self._stored().access_token},
            "the processes printed another token than the one stored",
        )
        return _Done(
            f"{PROCESSES} `codex-login token` processes at once, with the token due: "
            f"the issuer counted {_requests(sent, 'refresh')}",
            f"all {PROCESSES} printed the same access token, the one now stored "
            f"(waited {waited:.2f} s for it to fall due)",
            ProcessesFacts(
                waited=round(waited, 2),
                processes=PROCESSES,
                refresh_requests=sent,
                same_token=True,
            ),
        )

    async def logout(self) -> _Done:
        stored = self._stored()
        before = len(self.issuer.requests_to("/oauth/revoke"))
        result = await self.service.logout()
        revokes = len(self.issuer.requests_to("/oauth/revoke")) - before
        _check(revokes == 1, f"expected 1 revoke request, the issuer counted {revokes}")
        _check(result.removed, "there was no login to remove")
        _check(not (self.home / "auth.json").exists(), "auth.json is still there")
        _check(
            not self.issuer.refresh_token_works(stored.refresh_token),
            "the issuer still accepts the refresh token",
        )
        return _Done(
            f"the issuer recorded {_requests(revokes, 'revoke')}, and auth.json is gone",
            "the revoked refresh token no longer works at the issuer",
            LogoutFacts(revoke_requests=revokes, removed=True, refresh_token_works=False),
        )

    # -- helpers -------------------------------------------------------------------------

    def _refreshes(self) -> int:
        return len(self.issuer.posts("refresh_token"))

    def _stored(self) -> TokenData:
        loaded = self.service.store.load()
        tokens = loaded.record.tokens if loaded else None
        if tokens is None:
            raise DemoFailed(f"no ChatGPT login is stored in {self.service.store.location}")
        return tokens

    async def _until_due(self) -> float:
        """Sleep until the stored access token is due for a refresh; how long it took."""
        loaded = self.service.store.load()
        if loaded is None or loaded.record.tokens is None:
            raise DemoFailed(f"no ChatGPT login is stored in {self.service.store.location}")
        due = self.service.options.policy.due_at(loaded.record.tokens, loaded.record.last_refresh)
        started = time.monotonic()
        while (left := (due - self.service.clock.now()).total_seconds()) > 0:
            await asyncio.sleep(left + 0.01)
        return time.monotonic() - started

    async def _cli(self, *args: str) -> _Child:
        """Run ``codex-login ARGS`` as the user would, on the temporary home."""
        try:
            child = await asyncio.create_subprocess_exec(
                *_command(),
                *args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.child_env,
                cwd=self.home,
            )
        except OSError as exc:
            raise DemoFailed(f"cannot start `codex-login {' '.join(args)}`: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(child.communicate(), CHILD_TIMEOUT)
        except TimeoutError as exc:
            raise DemoFailed(
                f"`codex-login {' '.join(args)}` did not finish within {CHILD_TIMEOUT:g} s"
            ) from exc
        finally:
            if child.returncode is None:  # timed out or interrupted: leave nothing behind
                child.kill()
                await child.wait()
        return _Child(
            child.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )


def _command() -> list[str]:
    """The ``codex-login`` console script beside this Python, else the module."""
    script = Path(sys.executable).with_name("codex-login")
    if os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "codex_login.entrypoints.cli"]


def _temporary_home() -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix="codex-login-demo-"))  # mode 0700
    except OSError as exc:
        raise DemoFailed(
            f"cannot make a temporary CODEX_HOME in {tempfile.gettempdir()}: "
            f"{exc.strerror or exc}; point TMPDIR at a writable directory"
        ) from exc


@contextlib.contextmanager
def _demo_issuer() -> Iterator[FakeIssuer]:
    """The kit's issuer on a free loopback port, with a one-click sign-in page."""
    issuer = FakeIssuer(access_ttl=ACCESS_TTL, sign_in_page=True)
    issuer.claims["email"] = EMAIL
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(running_issuer(issuer))
        except OSError as exc:
            raise DemoFailed(
                f"cannot start the demo issuer on 127.0.0.1: {exc.strerror or exc}"
            ) from exc
        yield issuer


def _check(holds: bool, problem: str) -> None:
    if not holds:
        raise DemoFailed(problem)


def _requests(count: int, kind: str) -> str:
    return f"{count} {kind} request{'' if count == 1 else 's'}"


def _seconds(span: timedelta) -> str:
    return f"{span.total_seconds():g}-second"


def _seconds_until(moment: datetime | None, service: AuthService) -> float:
    return 0.0 if moment is None else (moment - service.clock.now()).total_seconds()
