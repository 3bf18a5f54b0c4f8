"""Several logins, one active: `accounts`, `switch`, `--account`, through the real CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from codex_login import CodexAuth
from support.cli import browser_login_in_process, run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored

ALICE = {"email": "alice@example.com", "account_id": "ws-alice"}
BOB = {"email": "bob@example.com", "account_id": "ws-team"}


def log_in(home: Path, issuer: FakeIssuer, claims: dict[str, str]) -> None:
    issuer.claims = dict(claims)
    result = browser_login_in_process(issuer_env(home, issuer))
    assert result.returncode == 0, result.stderr


def alice_then_bob(tmp_path: Path, issuer: FakeIssuer) -> Path:
    """A home where bob logged in after alice: bob active, alice kept."""
    home = tmp_path / "codex"
    log_in(home, issuer, ALICE)
    log_in(home, issuer, BOB)
    return home


def cli(home: Path, issuer: FakeIssuer, *args: str) -> tuple[int, str, str]:
    result = run_in_process(*args, home=home, env=issuer_env(home, issuer))
    return result.returncode, result.stdout, result.stderr


def listed(home: Path, issuer: FakeIssuer) -> list[dict[str, object]]:
    code, out, err = cli(home, issuer, "accounts", "--json")
    assert code == 0, err
    accounts: list[dict[str, object]] = json.loads(out)["accounts"]
    return accounts


def test_a_second_login_keeps_the_first_as_an_inactive_account(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    log_in(home, issuer, ALICE)
    alice_refresh = stored(home)["tokens"]["refresh_token"]
    log_in(home, issuer, BOB)
    accounts = listed(home, issuer)
    assert [(a["name"], a["email"], a["workspace_id"], a["active"]) for a in accounts] == [
        ("alice", "alice@example.com", "ws-alice", False),
        ("bob", "bob@example.com", "ws-team", True),
    ]
    assert stored(home)["tokens"]["account_id"] == "ws-team"
    assert issuer.refresh_token_works(alice_refresh)  # kept, not revoked
    assert issuer.requests_to("/oauth/revoke") == []
    slot = home / "accounts" / "alice" / "auth.json"
    assert slot.stat().st_mode & 0o777 == 0o600
    assert json.loads(slot.read_bytes())["tokens"]["refresh_token"] == alice_refresh
    code, out, _ = cli(home, issuer, "accounts")
    assert code == 0
    assert out.splitlines() == [
        "  alice  alice@example.com  ChatGPT Pro  ws-alice  " + issuer.url,
        "* bob  bob@example.com  ChatGPT Pro  ws-team  " + issuer.url,
    ]


def test_an_account_whose_slot_cannot_be_read_is_named_not_hidden(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """It used to vanish from the listing, and switch or --account said there was no
    such account, so nothing could remove it."""
    home = alice_then_bob(tmp_path, issuer)
    slot = home / "accounts" / "alice" / "auth.json"
    slot.write_text("{broken")
    active = (home / "auth.json").read_bytes()
    said = f"cannot use {slot}: it is not valid JSON"
    # Not "run codex-login login": a login of the active account leaves the slot as it is.
    remedy = "; fix it or run `codex-login logout --account alice` to remove it\n"
    for command, error in (
        (["accounts"], "Error"),
        (["switch", "alice"], "Error"),
        (["token", "--account", "alice"], "Error"),
        (["status", "--account", "alice"], "Error checking login status"),  # the Codex CLI's
    ):
        code, _, err = cli(home, issuer, *command)
        assert code != 0, command
        assert err.startswith(f"{error}: {said}"), (command, err)
        assert err.endswith(remedy), (command, err)
        assert len(err.splitlines()) == 1
    assert (home / "auth.json").read_bytes() == active
    code, _, err = cli(home, issuer, "logout", "--account", "alice")
    assert code == 0, err
    assert not slot.exists()
    assert [a["name"] for a in listed(home, issuer)] == ["bob"]
    assert (home / "auth.json").read_bytes() == active


def test_logging_in_again_to_the_same_account_replaces_it(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    log_in(home, issuer, ALICE)
    first = stored(home)["tokens"]["refresh_token"]
    log_in(home, issuer, ALICE)
    assert [a["name"] for a in listed(home, issuer)] == ["alice"]
    assert not issuer.refresh_token_works(first)  # the replaced login was revoked


def test_switch_brings_back_the_parked_login_and_parks_the_active_one(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = alice_then_bob(tmp_path, issuer)
    code, _, err = cli(home, issuer, "switch", "alice@example.com")
    assert code == 0, err
    assert err.splitlines()[0] == "Switched to alice (alice@example.com)"
    assert stored(home)["tokens"]["account_id"] == "ws-alice"
    assert [(a["name"], a["active"]) for a in listed(home, issuer)] == [
        ("alice", True),
        ("bob", False),
    ]
    code, _, err = cli(home, issuer, "switch", "ws-team")  # by workspace id
    assert code == 0, err
    assert stored(home)["tokens"]["account_id"] == "ws-team"
    code, _, err = cli(home, issuer, "switch", "bob")
    assert (code, err.strip()) == (0, "bob is already the active account")


def test_rotated_tokens_survive_a_switch(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = alice_then_bob(tmp_path, issuer)
    issuer.access_ttl = timedelta(minutes=-1)  # so the next token refresh is due at once
    log_in(home, issuer, BOB)
    issuer.access_ttl = timedelta(hours=1)
    code, _, err = cli(home, issuer, "token")  # bob's refresh rotates his refresh token
    assert code == 0, err
    rotated = stored(home)["tokens"]["refresh_token"]
    assert len(issuer.posts("refresh_token")) == 1
    assert cli(home, issuer, "switch", "alice")[0] == 0
    assert cli(home, issuer, "switch", "bob")[0] == 0
    assert stored(home)["tokens"]["refresh_token"] == rotated
    assert issuer.refresh_token_works(rotated)


def test_account_option_acts_on_an_inactive_login_in_its_own_slot(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    issuer.access_ttl = timedelta(minutes=-1)
    log_in(home, issuer, ALICE)
    issuer.access_ttl = timedelta(hours=1)
    log_in(home, issuer, BOB)
    active_before = (home / "auth.json").read_bytes()
    code, token, err = cli(home, issuer, "token", "--account", "alice")
    assert code == 0, err
    slot = json.loads((home / "accounts" / "alice" / "auth.json").read_bytes())
    assert token.strip() == slot["tokens"]["access_token"]  # refreshed in the slot
    assert len(issuer.posts("refresh_token")) == 1
    assert (home / "auth.json").read_bytes() == active_before
    code, _, err = cli(home, issuer, "status", "--account", "alice")
    assert code == 0, err
    assert "  email: alice@example.com" in err.splitlines()
    code, _, err = cli(home, issuer, "logout", "--account", "alice")
    assert (code, err.strip()) == (0, "Successfully logged out")
    assert [a["name"] for a in listed(home, issuer)] == ["bob"]
    assert (home / "auth.json").read_bytes() == active_before


def test_logging_out_of_the_active_account_names_the_ones_kept_and_how_to_switch(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = alice_then_bob(tmp_path, issuer)
    code, _, err = cli(home, issuer, "logout")
    assert (code, err.splitlines()) == (
        0,
        [
            "Successfully logged out",
            "  other accounts are kept: alice; `codex-login switch alice` makes it active",
        ],
    )
    code, _, err = cli(home, issuer, "status")
    assert (code, err) == (1, "Not logged in\n")  # the Codex CLI's line, alone
    code, _, err = cli(home, issuer, "status", "-v")
    assert code == 1
    assert err.splitlines()[-1] == (
        "  other accounts are kept: alice; `codex-login switch alice` makes it active"
    )
    log_in(home, issuer, BOB)
    issuer.claims = {"email": "carol@example.com", "account_id": "ws-carol"}
    log_in(home, issuer, issuer.claims)
    code, _, err = cli(home, issuer, "logout", "--local")
    assert err.splitlines()[1:] == [
        "  other accounts are kept: alice, bob; `codex-login switch NAME` makes one active"
    ]


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("carol", "no account 'carol'; choose one of: alice, bob"),
        ("example.com", "no account 'example.com'; choose one of: alice, bob"),
    ],
)
def test_unknown_names_are_one_line_listing_the_choices(
    tmp_path: Path, issuer: FakeIssuer, wanted: str, message: str
) -> None:
    home = alice_then_bob(tmp_path, issuer)
    before = (home / "auth.json").read_bytes()
    for args in (["switch", wanted], ["token", "--account", wanted]):
        code, out, err = cli(home, issuer, *args)
        assert code == 1
        assert out == ""
        assert err.splitlines() == [f"Error: {message} (see `codex-login accounts`)"]
    assert (home / "auth.json").read_bytes() == before


def test_an_ambiguous_email_lists_the_accounts_it_matches(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    log_in(home, issuer, ALICE)
    log_in(home, issuer, {"email": "alice@example.com", "account_id": "ws-team"})
    assert [a["name"] for a in listed(home, issuer)] == ["alice", "alice-2"]
    code, _, err = cli(home, issuer, "switch", "alice@example.com")
    assert code == 1
    assert err.strip() == (
        "Error: 'alice@example.com' matches several accounts (alice, alice-2); "
        "use one of those names"
    )


def test_the_embedding_api_lists_switches_and_acts_on_one_account(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    home = alice_then_bob(tmp_path, issuer)
    environ = issuer_env(home, issuer)
    with CodexAuth(codex_home=home, environ=environ) as auth:
        assert [(a.name, a.active) for a in auth.accounts()] == [("alice", False), ("bob", True)]
        alice_token = auth.for_account("alice").get_token()
        assert alice_token == stored(home / "accounts" / "alice")["tokens"]["access_token"]
        assert auth.switch("alice").name == "alice"
        assert auth.get_token() == alice_token


def test_a_switch_obeys_the_workspace_policy(tmp_path: Path, issuer: FakeIssuer) -> None:
    home = alice_then_bob(tmp_path, issuer)
    (home / "config.toml").write_text('forced_chatgpt_workspace_id = "ws-team"\n')
    before = (home / "auth.json").read_bytes()
    code, _, err = cli(home, issuer, "switch", "alice")
    assert code == 1
    [line] = err.splitlines()
    assert "belongs to workspace ws-alice" in line
    assert "Login is restricted to workspace id(s) ws-team." in line
    assert (home / "auth.json").read_bytes() == before
    assert (home / "accounts" / "alice" / "auth.json").exists()
