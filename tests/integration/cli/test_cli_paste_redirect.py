"""`codex-login login --no-browser` completed by pasting the address the browser ended on.

For a browser on another machine, whose localhost is not ours: the issuer's redirect
is never requested here; the test takes it from the fake issuer's answer and types
it into the login's stdin, as the user would paste it.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.cli import clean_env, start_browser_login
from support.fake_issuer import FakeIssuer
from support.redirects import redirected


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's issuer; its new logins are on the plus plan."""
    codex_fake_issuer.plan = "plus"
    return codex_fake_issuer


def with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def start_login(home: Path, issuer: FakeIssuer) -> tuple[subprocess.Popen[str], str]:
    """`login --no-browser` reading stdin from a pipe; returns it and its authorize URL."""
    # The fake issuer stands in for OpenAI's; any issuer but the default needs its client id.
    env = clean_env(home, CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID)
    return start_browser_login(["--issuer", issuer.url], env, stdin=subprocess.PIPE)


def paste(child: subprocess.Popen[str], text: str) -> str:
    """Type ``text`` and Enter into the login; return the next line it prints."""
    assert child.stdin is not None
    assert child.stderr is not None
    child.stdin.write(f"{text}\n")
    child.stdin.flush()
    return child.stderr.readline()


def finish(child: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for the login to end with stdin still open; return its status and the rest."""
    assert child.stdin is not None
    assert child.stdout is not None
    assert child.stderr is not None
    status = child.wait(timeout=30)
    stdout, rest = child.stdout.read(), child.stderr.read()
    for pipe in (child.stdin, child.stdout, child.stderr):
        pipe.close()
    assert stdout == ""
    assert "Traceback" not in rest
    return status, rest


def stored(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    return document


def test_a_pasted_redirect_completes_the_login(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    first = paste(child, f'  "{redirected(url)}"  ')
    status, rest = finish(child)
    assert status == 0, first + rest
    assert (first + rest).splitlines() == [
        "Successfully logged in",
        "Logged in as user@example.com (ChatGPT Plus)",
    ]
    assert stored(home)["tokens"]["account_id"] == "acc-123"
    assert len(issuer.posts("authorization_code")) == 1


def test_the_query_alone_is_enough(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    line = paste(child, urlsplit(redirected(url)).query)
    assert line == "Successfully logged in\n"
    assert finish(child)[0] == 0
    assert stored(home)["auth_mode"] == "chatgpt"


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda url: with_params(url, state="another-login"), "does not belong to the login"),
        (lambda url: "hello there", "carries no sign-in response"),
        (lambda url: url.replace("/auth/callback", "/elsewhere"), "not the address of the"),
        (lambda url: with_params(url, code=""), "carries no authorization code"),
        (lambda url: f"{url}&state=again", "appears more than once"),
    ],
    ids=["wrong state", "garbage", "wrong path", "no code", "state twice"],
)
def test_a_wrong_paste_says_why_in_one_line_and_the_login_goes_on(
    tmp_path: Path, issuer: FakeIssuer, spoil: Any, why: str
) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    redirect = redirected(url)
    code = dict(parse_qsl(urlsplit(redirect).query))["code"]
    refusal = paste(child, spoil(redirect))
    assert refusal.startswith("That address was not accepted.")
    assert why in refusal
    assert refusal.endswith("Still waiting for the sign-in.\n")
    assert code not in refusal  # the pasted address is never repeated
    assert not (home / "auth.json").exists()
    assert paste(child, redirect) == "Successfully logged in\n"
    assert finish(child)[0] == 0
    assert len(issuer.posts("authorization_code")) == 1


def test_a_pasted_error_ends_the_login_with_the_issuers_error(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    issuer.authorize_error = "access_denied"
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    line = paste(child, redirected(url))
    status, rest = finish(child)
    assert status == 1
    assert line.startswith("Error: ")
    assert "access_denied" in line
    assert "the user declined" in line
    assert rest == ""
    assert not (home / "auth.json").exists()
    assert issuer.posts("authorization_code") == []


def test_a_paste_from_another_issuer_is_refused(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    line = paste(child, with_params(redirected(url), iss="https://evil.example.com"))
    assert finish(child)[0] == 1
    assert line.startswith("Error: ")
    assert "not from" in line
    assert not (home / "auth.json").exists()
    assert issuer.posts("authorization_code") == []


def test_the_callback_first_completes_while_stdin_stays_open(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    with urllib.request.urlopen(url, timeout=30) as page:  # the browser reaches us after all
        assert b"Signed in to Codex" in page.read()
    status, rest = finish(child)  # nobody closes stdin: the process must not wait on it
    assert status == 0, rest
    assert "Successfully logged in" in rest.splitlines()
    assert stored(home)["auth_mode"] == "chatgpt"


def test_stdin_at_its_end_does_not_end_the_login(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    assert child.stdin is not None
    child.stdin.close()  # `login --no-browser < /dev/null`, or a pipe that closed
    with urllib.request.urlopen(url, timeout=30) as page:
        assert b"Signed in to Codex" in page.read()
    status, rest = finish(child)
    assert status == 0, rest
    assert "Successfully logged in" in rest.splitlines()


def test_a_code_both_delivered_and_pasted_is_exchanged_once(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    child, url = start_login(home, issuer)
    redirect = redirected(url)
    # The callback exchanges the code (it answers 302); its browser has not yet come to
    # /success.
    redirected(redirect)
    assert paste(child, redirect) == "Successfully logged in\n"
    assert finish(child)[0] == 0
    assert len(issuer.posts("authorization_code")) == 1
