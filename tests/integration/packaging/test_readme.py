"""Every Python snippet in the README and in docs/ runs as pasted, against local stand-ins
for the world. A block the docs mean as an illustration only says so on the line before
its fence, with a reason: ``<!-- not run: the reason -->``; it is reported as skipped.

The environment each snippet sees: a CODEX_HOME holding a ChatGPT login at a fake
issuer (also the configured issuer, for new logins), the testing kit's fake Codex
backend linked to that issuer (``openai_base_url`` in config.toml: the login's model
API; OPENAI_BASE_URL, the SDK's own setting, at its API-key flavour), and a graphical
"browser" that follows the URL it is given, as a user who approves would. Snippets that
define tests run under pytest.

The README's openai quick start also runs as pasted against its own signed-in session,
where a ChatGPT login streams an answer and, once the backend holds its access token
expired, the next run is refused once, refreshes once at the issuer, and streams again.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.testing import FakeBackend, SettableClock, SignedIn, running_backend, signed_in
from support.cli import clean_env
from support.fake_issuer import FakeIssuer, running_issuer

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(
    r"^(?:<!-- not run: (?P<reason>[^\n]+?) -->\n)?```python\n(?P<code>.*?)^```",
    re.MULTILINE | re.DOTALL,
)


@attrs.frozen
class Snippet:
    """One Python block: where it is, its code, and why it is not run (None: it runs)."""

    name: str
    code: str
    not_run: str | None


def snippets_of(page: Path) -> list[Snippet]:
    where = page.relative_to(ROOT).as_posix()
    return [
        Snippet(f"{where}-{n}", match["code"], match["reason"])
        for n, match in enumerate(BLOCK.finditer(page.read_text()))
    ]


SNIPPETS = [snippet for page in PAGES for snippet in snippets_of(page)]
FOLLOW = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=30).read()"
BROWSER = """#!/bin/sh
"{python}" -c '{follow}' "$1" >/dev/null 2>&1 &
"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer()
    fake.approve_devices = True
    with running_issuer(fake) as running:
        yield running


@pytest.fixture(scope="module")
def backend(issuer: FakeIssuer) -> Iterator[FakeBackend]:
    with running_backend(FakeBackend(issuer)) as running:
        yield running


def environment(home: Path, issuer: FakeIssuer, backend: FakeBackend) -> dict[str, str]:
    home.mkdir(mode=0o700)
    FileCredentialStore(home).save(issuer.login_record())
    # The model API of every login, as the Codex CLI reads it (OPENAI_BASE_URL is the SDK's).
    (home / "config.toml").write_text(f'openai_base_url = "{backend.url}"\n')
    browser = home.parent / "browser"
    browser.write_text(BROWSER.format(python=sys.executable, follow=FOLLOW))
    browser.chmod(0o755)
    return clean_env(
        home,
        CODEX_LOGIN_ISSUER=issuer.url,
        # The fake stands in for OpenAI's issuer; any other issuer needs its client id named.
        CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID,
        OPENAI_BASE_URL=backend.api_url,
        DISPLAY=":99",
        BROWSER=str(browser),
    )


def test_the_readme_has_its_quickstarts() -> None:
    assert len(snippets_of(README)) >= 2


def test_the_readme_is_a_landing_page_whose_links_lead_somewhere() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    targets = re.findall(r"\]\(((?!https?:)[^)#]+)", text)
    assert "docs/index.md" in targets
    assert "bench/README.md" in targets
    assert [target for target in targets if not (ROOT / target).exists()] == []


def test_the_docs_have_snippets_and_every_one_runs_or_says_why_not() -> None:
    in_docs = [snippet for snippet in SNIPPETS if snippet.name.startswith("docs/")]
    assert len(in_docs) >= 10
    assert all(snippet.not_run is None or snippet.not_run.strip() for snippet in in_docs)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[snippet.name for snippet in SNIPPETS])
def test_a_snippet_runs_as_pasted(
    snippet: Snippet, tmp_path: Path, issuer: FakeIssuer, backend: FakeBackend
) -> None:
    if snippet.not_run is not None:
        pytest.skip(f"marked not run: {snippet.not_run}")
    env = environment(tmp_path / "codex", issuer, backend)
    if "def test_" in snippet.code:
        (tmp_path / "test_snippet.py").write_text(snippet.code)
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "test_snippet.py",
        ]
    else:
        command = [sys.executable, "-c", snippet.code]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def openai_quickstart() -> str:
    [snippet] = [s for s in snippets_of(README) if "openai_client()" in s.code]
    return snippet.code


@pytest.fixture
def clock() -> SettableClock:
    """The issuer's and the backend's clock, starting now: the README's process runs on
    the system clock, so only the server side sees time move."""
    return SettableClock(datetime.now(UTC))


@pytest.fixture
def session(tmp_path: Path, clock: SettableClock) -> Iterator[SignedIn]:
    with signed_in(tmp_path / "codex", clock=clock) as running:
        yield running


def run_quickstart(session: SignedIn) -> str:
    env = clean_env(session.home, **session.environment())
    result = subprocess.run(
        [sys.executable, "-c", openai_quickstart()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def stored_access_token(home: Path) -> str:
    token: str = json.loads((home / "auth.json").read_text())["tokens"]["access_token"]
    return token


def model_calls(session: SignedIn) -> list[str | None]:
    """The Authorization header of each POST /responses the backend saw, in order."""
    return [r.header("Authorization") for r in session.backend.requests_to("/responses")]


def test_the_quickstart_streams_with_a_chatgpt_login(session: SignedIn) -> None:
    first = stored_access_token(session.home)
    assert run_quickstart(session) == session.backend.text + "\n"
    assert model_calls(session) == [f"Bearer {first}"]
    account = session.auth.status()
    assert account is not None
    [call] = session.backend.requests_to("/responses")
    assert call.header("ChatGPT-Account-ID") == account.account_id
    assert session.issuer.posts("refresh_token") == []


def test_an_expired_token_is_refreshed_once_and_the_answer_still_streams(
    session: SignedIn, clock: SettableClock
) -> None:
    first = stored_access_token(session.home)
    run_quickstart(session)
    clock.advance(timedelta(hours=2))  # past the access token's hour, on the server side
    assert run_quickstart(session) == session.backend.text + "\n"
    second = stored_access_token(session.home)
    assert second != first
    assert len(session.issuer.posts("refresh_token")) == 1
    # The first token refused as expired, then the one refreshed token, sent once.
    assert model_calls(session) == [f"Bearer {t}" for t in (first, first, second)]
