"""Text the issuer, a token or the store chose reaches the terminal without its control
characters: no clipboard write (OSC 52), no carriage return or line erase, no C1 codes,
no line of its own. JSON keeps every value exactly, escaped as JSON escapes it."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from support.cli import browser_login_in_process, run_cli, run_in_process, start_device_login
from support.fake_issuer import Failure, FakeIssuer
from support.logins import issuer_env, write_login
from support.records import chatgpt_document
from support.tokens import id_token

OSC52 = "\x1b]52;c;ZWNobyBvd25lZA==\x07"  # sets the clipboard to "echo owned"
ERASE = "\r\x1b[2K"  # back to the start of the line, erase it
C1 = "\x9b2J"  # CSI in its 8-bit form: clear the screen
FORGED = "codex-login: all clear"  # a line the attacker would like us to appear to say
EMAIL = f"mallory{OSC52}@example.com{ERASE}{C1}"
PLAN = f"pro{ERASE}\n{FORGED}"
DESCRIPTION = f"try again{OSC52}{ERASE}{C1}\n{FORGED}"
USER_CODE = f"ABCD{ERASE}{C1}-EFGH"
# Everything a terminal obeys, but the line feed.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def assert_terminal_safe(*outputs: str) -> None:
    """No control character but our own line feeds, no forged line, and what was escaped
    is still there to see."""
    for output in outputs:
        assert CONTROL.findall(output) == [], output
        assert FORGED not in output.splitlines(), output
    assert "\\u001b" in "".join(outputs)


def write_hostile_login(home: Path, user: str = "user-1") -> None:
    document = chatgpt_document(last_refresh=f"yesterday{OSC52}")
    workspace = f"ws-{user}{ERASE}"
    document["tokens"]["id_token"] = id_token(
        email=EMAIL, plan=PLAN, account_id=workspace, user_id=user
    )
    document["tokens"]["account_id"] = workspace
    home.mkdir(parents=True, exist_ok=True)
    (home / "auth.json").write_text(json.dumps(document))


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["plain", "verbose"])
def test_status_shows_claims_and_warnings_escaped(tmp_path: Path, verbose: list[str]) -> None:
    write_hostile_login(tmp_path)
    result = run_cli("status", *verbose, home=tmp_path)
    assert result.returncode == 0
    assert_terminal_safe(result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert lines[0].startswith('Warning: ignoring last_refresh "yesterday\\u001b]52;c;')
    email = "mallory\\u001b]52;c;ZWNobyBvd25lZA==\\u0007@example.com\\u000d\\u001b[2K\\u009b2J"
    assert f"  email: {email}" in lines
    assert f"  plan: Pro\\u000d\\u001b[2K\\u000a{FORGED}" in lines


def test_status_json_keeps_the_claims_exactly(tmp_path: Path) -> None:
    write_hostile_login(tmp_path)
    result = run_cli("status", "--json", home=tmp_path)
    assert result.returncode == 0
    assert_terminal_safe(result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert (document["email"], document["plan"]) == (EMAIL, PLAN)


def test_accounts_list_names_and_claims_escaped(tmp_path: Path) -> None:
    write_hostile_login(tmp_path)
    write_hostile_login(tmp_path / "accounts" / "parked", "user-2")
    listing = run_in_process("accounts", home=tmp_path)
    assert listing.returncode == 0
    assert_terminal_safe(listing.stdout, listing.stderr)
    assert len(listing.stdout.splitlines()) == 2  # one line per account, whatever the claims
    as_json = run_in_process("accounts", "--json", home=tmp_path)
    assert_terminal_safe(as_json.stdout, as_json.stderr)
    assert {account["email"] for account in json.loads(as_json.stdout)["accounts"]} == {EMAIL}


def test_a_browser_login_says_who_signed_in_escaped(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.claims = {"email": EMAIL}
    issuer.plan = PLAN
    result = browser_login_in_process(issuer_env(tmp_path, issuer))
    stdout, stderr = result.stdout, result.stderr
    assert result.returncode == 0, stderr
    assert_terminal_safe(stdout, stderr)
    assert "Logged in as mallory\\u001b]52;c;" in stderr


def test_a_device_code_and_the_issuer_error_are_shown_escaped(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    issuer.failures["device_code"] = Failure(
        200,
        json.dumps(
            {
                "device_code": "dc-hostile",
                "user_code": USER_CODE,
                "verification_uri": f"{issuer.url}/device",
                "expires_in": 600,
                "interval": 0.05,
            }
        ),
    )
    issuer.failures["device_token"] = Failure(
        400, json.dumps({"error": "access_denied", "error_description": DESCRIPTION})
    )
    child, _, code, shown = start_device_login(issuer_env(tmp_path, issuer, "standard"))
    rest_out, rest_err = child.communicate(timeout=60)
    assert child.returncode == 1
    assert code == "ABCD\\u000d\\u001b[2K\\u009b2J-EFGH"
    assert_terminal_safe(shown + rest_err, rest_out)
    assert not (tmp_path / "auth.json").exists()


def test_an_issuer_error_description_is_shown_escaped(tmp_path: Path, issuer: FakeIssuer) -> None:
    write_login(tmp_path, "rt-0123456789", expires_in=timedelta(minutes=1))  # due
    issuer.refresh_failure = Failure(
        400, json.dumps({"error": "invalid_grant", "error_description": DESCRIPTION})
    )
    for verbose in ([], ["-v"]):
        result = run_in_process("token", *verbose, env=issuer_env(tmp_path, issuer))
        assert (result.returncode, result.stdout) == (4, "")
        assert_terminal_safe(result.stderr)
        assert "invalid_grant: try again\\u001b]52;" in result.stderr


def test_a_revoke_error_is_shown_escaped(tmp_path: Path, issuer: FakeIssuer) -> None:
    write_login(tmp_path, "rt-0123456789", expires_in=timedelta(hours=1))
    issuer.failures["revoke"] = Failure(
        400, json.dumps({"error": "invalid_request", "error_description": DESCRIPTION})
    )
    result = run_in_process("logout", env=issuer_env(tmp_path, issuer))
    assert result.returncode == 0
    assert_terminal_safe(result.stdout, result.stderr)
    warning, done = result.stderr.splitlines()
    assert warning.startswith("Warning: could not revoke the login at the issuer: ")
    assert done == "Successfully logged out"
