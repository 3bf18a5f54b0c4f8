"""Keyring logins are interchangeable with the real Codex CLI, on a real Secret Service.

gnome-keyring-daemon runs on a private D-Bus (tests/support/secret_service.py); Codex
is told to use the keyring by ``cli_auth_credentials_store`` in its config.toml, and
the encrypted layout by ``[features] secret_auth_storage``; we by CODEX_LOGIN_STORE
and the same config.toml. Each encrypted test pays several scrypt runs (about 2 s
each, in Codex and in us): those are marked slow.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyrage
import pytest

from codex_login import CodexAuth
from codex_login.adapters import encrypted_store
from codex_login.adapters.encrypted_store import EncryptedCredentialStore, secrets_account
from codex_login.adapters.keyring_store import (
    CACHE_MAX_AGE,
    SERVICE,
    KeyringCredentialStore,
    keyring_account,
)
from codex_login.adapters.secret_service import CodexSecretService
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from codex_login.domain.ports import CredentialStore
from interop.peers.codex_peer import (
    LoopbackServer,
    chatgpt_backend_routes,
    clean_stderr,
    refresh_with_app_server,
    run_codex,
)
from support.cli import clean_env, run_cli, start_browser_login
from support.fake_issuer import FakeIssuer, running_issuer
from support.secret_service import SecretService, item_attributes, item_secret

pytestmark = pytest.mark.interop

LAYOUTS = ["direct", pytest.param("encrypted", marks=pytest.mark.slow)]
KEY = "sk-test-123456789"


def keyring_home(tmp_path: Path, name: str, layout: str, store: str = "keyring") -> Path:
    """A CODEX_HOME whose config.toml puts both tools on the keyring, in ``layout``."""
    home = tmp_path / name
    home.mkdir(mode=0o700)
    config = f'cli_auth_credentials_store = "{store}"\n'
    if layout == "encrypted":
        config += "[features]\nsecret_auth_storage = true\n"
    (home / "config.toml").write_text(config)
    return home


def our_env(home: Path, service: SecretService | None, **extra: str) -> dict[str, str]:
    env = clean_env(home, **{"CODEX_LOGIN_STORE": "keyring", **extra})
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    return {**env, **(service.env if service else {})}


def our_store(home: Path, layout: str) -> CredentialStore:
    if layout == "encrypted":
        return EncryptedCredentialStore(home, backend=CodexSecretService())
    return KeyringCredentialStore(home, backend=CodexSecretService())


def stored_value(service: SecretService, home: Path, layout: str) -> bytes:
    """What the layout holds for ``home``: the entry's value, or the decrypted envelope."""
    if layout == "direct":
        value = item_secret(service.address, SERVICE, keyring_account(home))
        assert value is not None
        return value
    passphrase = item_secret(service.address, encrypted_store.SERVICE, secrets_account(home))
    assert passphrase is not None
    sealed = (home / encrypted_store.SECRETS_DIR / encrypted_store.SECRETS_FILE).read_bytes()
    plaintext: bytes = pyrage.passphrase.decrypt(sealed, passphrase.decode())
    return plaintext


def entry_as_seen_from(service: SecretService, home: Path, layout: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    """The label and attributes of the layout's keyring entry, with the account made generic.

    ``xdg:schema`` is left out: gnome-keyring shows it on Codex's items in some runs and
    not in others (a fresh daemon's first items lack it), so it cannot be compared.
    """
    name, account = (
        (SERVICE, keyring_account(home))
        if layout == "direct"
        else (encrypted_store.SERVICE, secrets_account(home))
    )
    [(label, attributes)] = item_attributes(service.address, name, account)
    generic = {
        key: value.replace(account, "ACCOUNT")
        for key, value in attributes.items()
        if key != "xdg:schema"
    }
    return label.replace(account, "ACCOUNT"), generic


@pytest.mark.parametrize("layout", LAYOUTS)
def test_we_read_the_codex_cli_api_key_login(
    codex: Path, tmp_path: Path, secret_service: SecretService, layout: str
) -> None:
    home = keyring_home(tmp_path, "codex", layout)
    login = run_codex(codex, ["login", "--with-api-key"], home, stdin=KEY, env=secret_service.env)
    assert login.returncode == 0, login.stderr
    status = run_cli("status", env=our_env(home, secret_service))
    assert (status.returncode, status.stderr.splitlines()[0]) == (
        0,
        "API key configured - sk-test-***56789",
    )


@pytest.mark.parametrize("layout", LAYOUTS)
def test_codex_s_config_toml_alone_leads_us_to_its_keyring_login(
    codex: Path, tmp_path: Path, secret_service: SecretService, layout: str
) -> None:
    """No CODEX_LOGIN_STORE: Codex's own cli_auth_credentials_store names the store."""
    home = keyring_home(tmp_path, "codex", layout)
    login = run_codex(codex, ["login", "--with-api-key"], home, stdin=KEY, env=secret_service.env)
    assert login.returncode == 0, login.stderr
    assert not (home / "auth.json").exists()
    env = our_env(home, secret_service)
    del env["CODEX_LOGIN_STORE"]
    status = run_cli("status", "--json", env=env)
    assert (status.returncode, status.stderr.splitlines()[0]) == (
        0,
        "API key configured - sk-test-***56789",
    )
    assert "OS keyring" in json.loads(status.stdout)["source"]
    assert run_cli("token", env=env).stdout == f"{KEY}\n"


def test_an_ephemeral_login_ends_with_the_process_in_both_tools(
    codex: Path, tmp_path: Path
) -> None:
    theirs = keyring_home(tmp_path, "theirs", "direct", store="ephemeral")
    ours = keyring_home(tmp_path, "ours", "direct", store="ephemeral")
    assert run_codex(codex, ["login", "--with-api-key"], theirs, stdin=KEY).returncode == 0
    env = our_env(ours, None)
    del env["CODEX_LOGIN_STORE"]
    login = run_cli("login", "--with-api-key", env=env, stdin=KEY)
    assert login.returncode == 0, login.stderr
    assert "kept in memory only: it ends with this process" in login.stderr
    assert not (ours / "auth.json").exists()
    assert not (theirs / "auth.json").exists()
    status = run_codex(codex, ["login", "status"], theirs)
    assert (status.returncode, clean_stderr(status.stderr)) == (1, "Not logged in")
    ours_status = run_cli("status", env=env)
    assert (ours_status.returncode, ours_status.stderr) == (1, "Not logged in\n")


def test_a_codex_cli_keyring_login_reaches_a_running_program_within_the_cache_bound(
    codex: Path, tmp_path: Path, secret_service: SecretService
) -> None:
    """Codex's keyring save touches nothing in CODEX_HOME (section i): a long-lived handle,
    which answers from memory, must still see it within CACHE_MAX_AGE."""
    home = keyring_home(tmp_path, "codex", "direct")
    first = run_codex(codex, ["login", "--with-api-key"], home, stdin=KEY, env=secret_service.env)
    assert first.returncode == 0, first.stderr
    auth = CodexAuth(store=our_store(home, "direct"), environ={})
    assert auth.get_token() == KEY
    second = run_codex(
        codex, ["login", "--with-api-key"], home, stdin="sk-next-123456789", env=secret_service.env
    )
    assert second.returncode == 0, second.stderr
    written = time.monotonic()
    while auth.get_token() == KEY and time.monotonic() < written + CACHE_MAX_AGE + 5:
        pass
    assert auth.get_token() == "sk-next-123456789"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_our_entry_is_the_codex_cli_s_byte_for_byte(
    codex: Path, tmp_path: Path, secret_service: SecretService, layout: str
) -> None:
    theirs = keyring_home(tmp_path, "theirs", layout)
    ours = keyring_home(tmp_path, "ours", layout)
    run_codex(codex, ["login", "--with-api-key"], theirs, stdin=KEY, env=secret_service.env)
    run_cli("login", "--with-api-key", env=our_env(ours, secret_service), stdin=KEY)
    assert stored_value(secret_service, ours, layout) == stored_value(
        secret_service, theirs, layout
    )
    assert entry_as_seen_from(secret_service, ours, layout) == entry_as_seen_from(
        secret_service, theirs, layout
    )
    assert not (ours / "auth.json").exists()


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with running_issuer(FakeIssuer(plan="plus")) as running:
        yield running


@pytest.mark.parametrize("layout", LAYOUTS)
def test_our_chatgpt_login_and_refresh_are_the_codex_cli_s_and_back(
    codex: Path, tmp_path: Path, secret_service: SecretService, issuer: FakeIssuer, layout: str
) -> None:
    home = keyring_home(tmp_path, "codex", layout)
    # The fake issuer stands in for OpenAI's; any issuer but the default needs its client id.
    env = our_env(
        home, secret_service, CODEX_LOGIN_ISSUER=issuer.url, CODEX_LOGIN_CLIENT_ID=DEFAULT_CLIENT_ID
    )
    issuer.access_ttl = timedelta(seconds=-1)  # our login's token is due at once
    child, url = start_browser_login(["--issuer", issuer.url], env)
    with urllib.request.urlopen(url, timeout=30) as page:  # the user's browser
        page.read()
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr
    status = run_codex(codex, ["login", "status"], home, env=secret_service.env)
    assert (status.returncode, clean_stderr(status.stderr)) == (0, "Logged in using ChatGPT")

    issuer.access_ttl = timedelta(hours=1)
    assert run_cli("token", env=env).returncode == 0  # our refresh rotates the refresh token
    ours = refresh_token_in(home, layout)
    with LoopbackServer(chatgpt_backend_routes("acc-123")) as backend:
        refresh_with_app_server(
            codex,
            home,
            refresh_url=f"{issuer.url}/oauth/token",
            base_url=backend.url,
            env=secret_service.env,
        )
    codex_posts = issuer.posts("refresh_token")[1:]  # the first was ours
    assert [post.fields["refresh_token"] for post in codex_posts][:1] == [ours]
    theirs = refresh_token_in(home, layout)
    assert theirs != ours
    assert issuer.refresh_token_works(theirs)  # we read what Codex stored last
    assert not (home / "auth.json").exists()


def refresh_token_in(home: Path, layout: str) -> str:
    loaded = our_store(home, layout).load()
    assert loaded is not None
    assert loaded.record.tokens is not None
    return loaded.record.tokens.refresh_token


def test_without_d_bus_keyring_fails_in_both_tools_and_auto_writes_the_same_file(
    codex: Path, tmp_path: Path
) -> None:
    theirs = keyring_home(tmp_path, "theirs", "direct")
    ours = keyring_home(tmp_path, "ours", "direct")
    refused = run_codex(codex, ["login", "--with-api-key"], theirs, stdin=KEY)
    assert refused.returncode == 1
    assert "no secret service provider or dbus session found" in clean_stderr(refused.stderr)
    ours_refused = run_cli("login", "--with-api-key", env=our_env(ours, None), stdin=KEY)
    assert ours_refused.returncode == 1
    assert ours_refused.stderr.startswith("Error: no OS keyring is available (")

    for home in (theirs, ours):
        (home / "config.toml").write_text('cli_auth_credentials_store = "auto"\n')
    assert run_codex(codex, ["login", "--with-api-key"], theirs, stdin=KEY).returncode == 0
    auto = our_env(ours, None, CODEX_LOGIN_STORE="auto")
    login = run_cli("login", "--with-api-key", env=auto, stdin=KEY)
    assert login.returncode == 0, login.stderr
    assert login.stderr.startswith("No OS keyring is available (")  # Codex says nothing
    assert (ours / "auth.json").read_bytes() == (theirs / "auth.json").read_bytes()
    status = run_codex(codex, ["login", "status"], ours)
    assert clean_stderr(status.stderr).splitlines()[0] == "API key configured - sk-test-***56789"


def test_auto_reads_the_codex_cli_s_keyring_entry_before_auth_json(
    codex: Path, tmp_path: Path, secret_service: SecretService
) -> None:
    home = keyring_home(tmp_path, "codex", "direct", store="auto")
    (home / "auth.json").write_text(json.dumps({"OPENAI_API_KEY": "sk-file-000000000"}))
    run_codex(codex, ["login", "--with-api-key"], home, stdin=KEY, env=secret_service.env)
    assert not (home / "auth.json").exists()  # Codex's keyring save deleted it
    (home / "auth.json").write_text(json.dumps({"OPENAI_API_KEY": "sk-file-000000000"}))
    status = run_cli(
        "status", "--json", env=our_env(home, secret_service, CODEX_LOGIN_STORE="auto")
    )
    assert json.loads(status.stdout)["source"].startswith("the OS keyring (Codex Auth / cli|")
