"""`codex-login demo`: the whole life of a login against the kit's issuer, leaving nothing.

Each run is the real console script in a child process, with the caller's own
CODEX_HOME holding a login that must stay byte for byte as it was, and TMPDIR
pointing at a directory that must be empty again afterwards.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from support.cli import clean_env, run_cli

# A storm of processes and real waits for a token to fall due: timing of its own.
pytestmark = pytest.mark.slow

STEPS = ["sign-in", "status", "token", "refresh", "processes", "logout"]
STEP_LINE = re.compile(r"^(?P<step>[a-z-]+) \((?P<seconds>\d+\.\d\d) s\): \S")
USER_LOGIN = b'{\n  "OPENAI_API_KEY": "sk-user-own-key-0123456789",\n  "note": "mine"\n}'

# A browser a person would drive: open the page, press its one button, follow the
# redirects. Standard library only; it writes what it saw to the file in argv[2].
SCRIPTED_BROWSER = """\
import sys, urllib.parse, urllib.request
from html.parser import HTMLParser

class Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields, self.button, self._in_button = None, {}, "", False
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action = attrs.get("action", "")
        elif tag == "input" and "name" in attrs:
            self.fields[attrs["name"]] = attrs.get("value") or ""
        self._in_button = tag == "button"
    def handle_data(self, data):
        if self._in_button:
            self.button += data.strip()

url, report = sys.argv[1], sys.argv[2]
browser = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with browser.open(url, timeout=30) as page:
    form = Form()
    form.feed(page.read().decode())
    body = urllib.parse.urlencode(form.fields).encode()
with browser.open(urllib.parse.urljoin(page.url, form.action), body, timeout=30) as done:
    with open(report, "w") as out:
        out.write(f"{form.button}\\n{done.status} {urllib.parse.urlsplit(done.url).path}\\n")
"""


@attrs.frozen
class Run:
    result: subprocess.CompletedProcess[str]
    user_home: Path
    tmpdir: Path
    browser_report: Path

    @property
    def lines(self) -> list[str]:
        return self.result.stderr.splitlines()

    def step_lines(self) -> dict[str, str]:
        return {m["step"]: line for line in self.lines if (m := STEP_LINE.match(line))}


def demo(base: Path, *args: str, display: bool = False, **env: str) -> Run:
    """Run `codex-login demo ARGS` with a user login in CODEX_HOME and a private TMPDIR."""
    user_home, tmpdir = base / "user-codex-home", base / "tmp"
    user_home.mkdir(mode=0o700)
    tmpdir.mkdir()
    (user_home / "auth.json").write_bytes(USER_LOGIN)
    report = base / "browser-report"
    browser = base / "browser"
    script = base / "scripted_browser.py"
    script.write_text(SCRIPTED_BROWSER)
    # webbrowser waits for the command: the page is driven in the background.
    browser.write_text(f'#!/bin/sh\n"{sys.executable}" "{script}" "$1" "{report}" &\n')
    browser.chmod(0o755)
    environment = {
        key: value
        for key, value in clean_env(user_home).items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    environment |= {"TMPDIR": str(tmpdir), "BROWSER": str(browser), **env}
    if display:
        environment["DISPLAY"] = ":99"
    result = run_cli("demo", *args, env=environment, timeout=180)
    return Run(result, user_home, tmpdir, report)


@pytest.fixture(scope="module")
def over_http(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One run without a display, whose user settings name another issuer."""
    return demo(
        tmp_path_factory.mktemp("over-http"),
        CODEX_LOGIN_ISSUER="https://auth.example.invalid",
    )


@pytest.fixture(scope="module")
def as_json(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, dict[str, object]]:
    run = demo(tmp_path_factory.mktemp("json"), "--json")
    assert run.result.returncode == 0, run.result.stderr
    return run, json.loads(run.result.stdout)


@pytest.fixture(scope="module")
def held_port() -> Iterator[int]:
    """A loopback port another program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory, held_port: int) -> Run:
    """A run whose sign-in cannot listen on its callback port."""
    return demo(tmp_path_factory.mktemp("failing"), "--json", "--port", str(held_port))


# -- without a display: the demo plays the browser over HTTP ---------------------------


def test_without_a_display_it_signs_in_over_http_and_exits_0(over_http: Run) -> None:
    assert over_http.result.returncode == 0, over_http.result.stderr
    assert "signed in over HTTP" in over_http.step_lines()["sign-in"]
    assert not over_http.browser_report.exists()  # no browser was started
    assert over_http.result.stdout == ""


def test_it_says_first_that_your_credentials_are_left_alone(over_http: Run) -> None:
    first = over_http.result.stderr.split("\nsign-in")[0]
    assert first.startswith("codex-login demo:")
    assert "Your own credentials are never read or changed" in first


def test_each_step_is_one_or_two_lines_saying_how_long_it_took(over_http: Run) -> None:
    lines = over_http.lines
    starts = [i for i, line in enumerate(lines) if STEP_LINE.match(line)]
    assert [STEP_LINE.match(lines[i])["step"] for i in starts] == STEPS  # type: ignore[index]
    ends = [*starts[1:], len(lines) - 1]  # the last line is the summary
    assert all(end - start in (1, 2) for start, end in zip(starts, ends, strict=True))
    assert lines[-1].startswith("Done in ")


def test_status_is_shown_as_the_user_sees_it(over_http: Run) -> None:
    line = over_http.step_lines()["status"]
    assert line.endswith("`codex-login status` says: Logged in using ChatGPT")
    assert "email: demo@example.com; plan: Pro" in over_http.result.stderr


def test_a_due_token_is_refreshed_with_one_request(over_http: Run) -> None:
    steps = over_http.step_lines()
    assert "without asking the issuer" in steps["token"]
    assert "the next token sent 1 refresh request" in steps["refresh"]
    assert "the rotated refresh token is stored" in over_http.result.stderr


def test_eight_processes_cause_one_refresh(over_http: Run) -> None:
    assert "the issuer counted 1 refresh request" in over_http.step_lines()["processes"]
    assert "all 8 printed the same access token" in over_http.result.stderr


def test_logout_revokes_at_the_issuer(over_http: Run) -> None:
    assert "the issuer recorded 1 revoke request" in over_http.step_lines()["logout"]


def test_the_temporary_home_is_removed(over_http: Run) -> None:
    named = re.search(r"CODEX_HOME: (\S+)", over_http.result.stderr)
    assert named is not None
    assert Path(named.group(1)).parent == over_http.tmpdir
    assert list(over_http.tmpdir.iterdir()) == []


def test_the_users_codex_home_is_untouched(over_http: Run) -> None:
    assert [p.name for p in over_http.user_home.iterdir()] == ["auth.json"]
    assert (over_http.user_home / "auth.json").read_bytes() == USER_LOGIN


# -- --json: the same, as one document on stdout ------------------------------------------


def test_json_has_one_entry_per_step_each_ok_and_timed(
    as_json: tuple[Run, dict[str, object]],
) -> None:
    _, document = as_json
    steps = document["steps"]
    assert isinstance(steps, list)
    assert [step["step"] for step in steps] == STEPS
    assert all(step["ok"] is True and step["seconds"] >= 0 for step in steps)
    assert document["ok"] is True


def test_json_details_of_each_step(as_json: tuple[Run, dict[str, object]]) -> None:
    _, document = as_json
    steps = {step["step"]: step for step in document["steps"]}  # type: ignore[attr-defined]
    assert steps["sign-in"]["how"] == "http"
    assert steps["sign-in"]["email"] == "demo@example.com"
    assert steps["status"]["output"][0] == "Logged in using ChatGPT"
    assert steps["token"]["refresh_requests"] == 0
    assert steps["refresh"]["refresh_requests"] == 1
    assert steps["refresh"]["refresh_token_rotated"] is True
    assert steps["refresh"]["old_refresh_token_works"] is False
    assert steps["processes"]["processes"] == 8
    assert steps["processes"]["refresh_requests"] == 1
    assert steps["processes"]["same_token"] is True
    assert steps["logout"]["revoke_requests"] == 1
    assert steps["logout"]["refresh_token_works"] is False


def test_json_names_the_temporary_home_which_is_gone(
    as_json: tuple[Run, dict[str, object]],
) -> None:
    run, document = as_json
    home = Path(str(document["codex_home"]))
    assert home.parent == run.tmpdir
    assert document["codex_home_removed"] is True
    assert not home.exists()


def test_with_json_stderr_has_no_step_lines(as_json: tuple[Run, dict[str, object]]) -> None:
    run, _ = as_json
    assert run.step_lines() == {}
    assert run.result.stderr.startswith("codex-login demo:")


# -- with a display: the system browser, and a person's click -------------------------------


def test_with_a_display_it_opens_the_browser_and_the_click_signs_in(tmp_path: Path) -> None:
    run = demo(tmp_path, display=True)
    assert run.result.returncode == 0, run.result.stderr
    assert 'click "Sign in as demo@example.com"' in run.result.stderr
    assert "you signed in on the issuer's page in your browser" in run.step_lines()["sign-in"]
    pressed, landed = run.browser_report.read_text().splitlines()
    assert (pressed, landed) == ("Sign in as demo@example.com", "200 /success")
    assert list(run.tmpdir.iterdir()) == []


def test_no_browser_signs_in_over_http_even_with_a_display(tmp_path: Path) -> None:
    run = demo(tmp_path, "--no-browser", display=True)
    assert run.result.returncode == 0, run.result.stderr
    assert "signed in over HTTP" in run.step_lines()["sign-in"]
    assert not run.browser_report.exists()


# -- a step that fails --------------------------------------------------------------------


def test_a_failing_step_is_one_error_line_and_exit_1(failing: Run, held_port: int) -> None:
    assert failing.result.returncode == 1
    errors = [line for line in failing.lines if line.startswith("Error:")]
    assert errors == [
        f"Error: the demo's sign-in step failed: cannot listen on localhost port {held_port}: "
        f"127.0.0.1:{held_port} is in use by another program; "
        "free it or choose another port with --port"
    ]
    assert failing.lines[-1] == errors[0]


def test_a_failing_step_is_reported_in_the_json(failing: Run) -> None:
    document = json.loads(failing.result.stdout)
    assert document["ok"] is False
    [step] = document["steps"]
    assert (step["step"], step["ok"]) == ("sign-in", False)
    assert "cannot listen on localhost port" in step["error"]


def test_a_failed_demo_leaves_nothing_behind(failing: Run) -> None:
    assert list(failing.tmpdir.iterdir()) == []
    assert (failing.user_home / "auth.json").read_bytes() == USER_LOGIN


def test_the_summary_says_what_to_run_next(over_http: Run) -> None:
    summary = over_http.lines[-1]
    assert "Next, your own login: `codex-login login`" in summary
    assert "`codex-login status`" in summary
