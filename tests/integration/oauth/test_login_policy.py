"""The login policy through the CLI, the embedding API and the fake issuer (real processes).

config.toml sits in CODEX_HOME as for the Codex CLI; the managed requirements file is
named by CODEX_LOGIN_REQUIREMENTS, so no test writes /etc.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from codex_login import CodexAuth
from codex_login.domain.errors import PolicyViolation
from codex_login.domain.login_policy import LoginMethod, LoginPolicy
from codex_login.entrypoints.settings import DEFAULT_REQUIREMENTS
from support.cli import (
    AUTHORIZE_URL,
    CLI,
    browser_login_in_process,
    run_in_process,
    start_device_login,
)
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, write_login

RESTRICTED = "Login is restricted to workspace id(s) ws-a, ws-b."
NO_CLAIM = (
    "Login is restricted to a specific workspace, but the token did not include an "
    "chatgpt_account_id claim."
)
API_DISABLED = "API key login is disabled. Use ChatGPT login instead."
CHATGPT_DISABLED = "ChatGPT login is disabled. Use API key login instead."
KEY = "sk-test-policy-0123456789"


@pytest.fixture
def issuer(codex_fake_issuer: FakeIssuer) -> FakeIssuer:
    """The testing kit's issuer; its new logins are on the plus plan."""
    codex_fake_issuer.plan = "plus"
    return codex_fake_issuer


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "codex"
    path.mkdir()
    return path


def configure(home: Path, text: str) -> None:
    (home / "config.toml").write_text(text + "\n")


def env_for(home: Path, issuer: FakeIssuer | None = None, **extra: str) -> dict[str, str]:
    env = issuer_env(home, issuer) if issuer else issuer_env(home, FakeIssuer())
    if issuer is None:
        del env["CODEX_LOGIN_ISSUER"]
    env.update(extra)
    return env


def contents(home: Path) -> bytes | None:
    path = home / "auth.json"
    return path.read_bytes() if path.exists() else None


# -- the browser login -----------------------------------------------------------------


def browser_login(home: Path, issuer: FakeIssuer) -> tuple[int, str, str]:
    """Run a browser login to its end; return its exit code, stderr and the URL."""
    result = browser_login_in_process(env_for(home, issuer), "--issuer", issuer.url)
    found = AUTHORIZE_URL.search(result.stderr)
    assert found is not None
    return result.returncode, result.stderr, found.group(1)


def test_the_authorize_url_offers_only_the_allowed_workspaces(
    home: Path, issuer: FakeIssuer
) -> None:
    configure(home, 'forced_chatgpt_workspace_id = ["ws-a", " ws-b ", ""]')
    issuer.claims["account_id"] = "ws-b"
    code, stderr, url = browser_login(home, issuer)
    assert code == 0, stderr
    assert url.endswith("&allowed_workspace_id=ws-a%2Cws-b")
    assert parse_qs(urlsplit(url).query)["allowed_workspace_id"] == ["ws-a,ws-b"]
    assert json.loads(contents(home) or b"")["tokens"]["account_id"] == "ws-b"


def test_an_unrestricted_authorize_url_has_no_workspace_parameter(
    home: Path, issuer: FakeIssuer
) -> None:
    code, stderr, url = browser_login(home, issuer)
    assert code == 0, stderr
    assert "allowed_workspace_id" not in url


def test_a_login_into_another_workspace_writes_nothing(home: Path, issuer: FakeIssuer) -> None:
    configure(home, 'forced_chatgpt_workspace_id = ["ws-a", "ws-b"]')
    before = write_login(home, "rt-kept", expires_in=timedelta(hours=1))
    issuer.claims["account_id"] = "ws-other"
    code, stderr, _ = browser_login(home, issuer)
    assert code == 1
    assert f"Error: {RESTRICTED}" in stderr.splitlines()
    assert contents(home) == before  # byte for byte: nothing was written
    assert issuer.posts("refresh_token") == []
    assert issuer.requests_to("/oauth/revoke") == []  # the old login was not revoked either
    exchanges = issuer.posts("urn:ietf:params:oauth:grant-type:token-exchange")
    assert exchanges == []  # refused before the API-key exchange


def test_a_login_whose_token_names_no_workspace_has_its_own_message(
    home: Path, issuer: FakeIssuer
) -> None:
    configure(home, 'forced_chatgpt_workspace_id = "ws-a"')
    issuer.claims["account_id"] = None
    code, stderr, _ = browser_login(home, issuer)
    assert code == 1
    assert f"Error: {NO_CLAIM}" in stderr.splitlines()
    assert contents(home) is None  # absent stays absent


def test_a_disabled_chatgpt_login_is_refused_before_anything_starts(
    home: Path, issuer: FakeIssuer
) -> None:
    configure(home, 'forced_login_method = "api"')
    for how in ("--no-browser", "--device-auth"):
        result = run_in_process("login", how, env=env_for(home, issuer))
        assert (result.returncode, result.stderr) == (1, f"Error: {CHATGPT_DISABLED}\n")
    assert issuer.requests == []
    assert contents(home) is None


# -- the device login ---------------------------------------------------------------


def test_a_device_login_into_another_workspace_writes_nothing(
    home: Path, issuer: FakeIssuer
) -> None:
    configure(home, 'forced_chatgpt_workspace_id = ["ws-a", "ws-b"]')
    issuer.claims["account_id"] = "ws-other"
    child, _, user_code, _ = start_device_login(env_for(home, issuer))
    issuer.approve_device(user_code)
    _, rest = child.communicate(timeout=60)
    assert child.returncode == 1
    assert f"Error: {RESTRICTED}" in rest.splitlines()
    assert contents(home) is None


def test_a_device_login_into_an_allowed_workspace_is_stored(home: Path, issuer: FakeIssuer) -> None:
    configure(home, 'forced_chatgpt_workspace_id = ["ws-a", "ws-b"]')
    issuer.claims["account_id"] = "ws-a"
    child, _, user_code, _ = start_device_login(env_for(home, issuer))
    issuer.approve_device(user_code)
    _, rest = child.communicate(timeout=60)
    assert child.returncode == 0, rest
    assert json.loads(contents(home) or b"")["tokens"]["account_id"] == "ws-a"


# -- API keys --------------------------------------------------------------------------


def test_an_api_key_login_is_refused_when_api_login_is_disabled(home: Path) -> None:
    configure(home, 'forced_login_method = "chatgpt"')
    result = run_in_process("login", "--with-api-key", stdin=KEY, env=env_for(home))
    assert (result.returncode, result.stderr) == (1, f"Error: {API_DISABLED}\n")
    assert contents(home) is None
    # As in the Codex CLI, an empty key is reported first.
    empty = run_in_process("login", "--with-api-key", stdin="", env=env_for(home))
    assert empty.returncode == 1
    assert "the API key is empty" in empty.stderr


def test_the_managed_requirements_file_is_read_from_the_environment(
    home: Path, tmp_path: Path
) -> None:
    requirements = tmp_path / "requirements.toml"
    requirements.write_text('allowed_login_methods = ["chatgpt"]\n')
    env = env_for(home, CODEX_LOGIN_REQUIREMENTS=str(requirements))
    result = run_in_process("login", "--with-api-key", stdin=KEY, env=env)
    assert (result.returncode, result.stderr) == (1, f"Error: {API_DISABLED}\n")
    assert run_in_process("login", "--with-api-key", stdin=KEY, env=env_for(home)).returncode == 0


def test_an_api_key_login_ignores_workspace_restrictions(home: Path) -> None:
    configure(home, 'forced_chatgpt_workspace_id = "ws-a"')
    assert run_in_process("login", "--with-api-key", stdin=KEY, env=env_for(home)).returncode == 0
    assert run_in_process("status", env=env_for(home)).returncode == 0


# -- stored credentials that break the policy --------------------------------------------


def store_api_key(home: Path) -> bytes:
    assert run_in_process("login", "--with-api-key", stdin=KEY, env=env_for(home)).returncode == 0
    return contents(home) or b""


def test_status_and_token_refuse_a_stored_api_key_and_keep_it(home: Path) -> None:
    before = store_api_key(home)
    configure(home, 'forced_login_method = "chatgpt"')
    status = run_in_process("status", env=env_for(home))
    assert status.returncode == 1
    lines = status.stderr.splitlines()
    assert lines[0] == "Not logged in"
    assert lines[1].endswith(f"auth.json holds an API key: {API_DISABLED}")
    token = run_in_process("token", env=env_for(home))
    assert (token.returncode, token.stdout) == (4, "")
    assert token.stderr.strip().endswith(API_DISABLED)
    assert KEY not in token.stderr + status.stderr
    assert contents(home) == before


def test_status_and_token_refuse_a_login_of_another_workspace_and_keep_it(home: Path) -> None:
    before = write_login(home, "rt-1", expires_in=timedelta(hours=1))  # account acc-123
    configure(home, 'forced_chatgpt_workspace_id = ["ws-a", "ws-b"]')
    status = run_in_process("status", "--json", env=env_for(home))
    assert status.returncode == 1
    assert json.loads(status.stdout)["logged_in"] is False
    assert status.stderr.splitlines()[0] == "Not logged in"
    token = run_in_process("token", env=env_for(home))
    assert token.returncode == 4
    assert f"belongs to workspace acc-123: {RESTRICTED}" in token.stderr
    assert contents(home) == before
    configure(home, 'forced_chatgpt_workspace_id = ["acc-123"]')  # the policy changes back
    assert run_in_process("token", env=env_for(home)).returncode == 0


def test_codex_api_key_is_refused_when_api_login_is_disabled(home: Path) -> None:
    write_login(home, "rt-1", expires_in=timedelta(hours=1))
    configure(home, 'forced_login_method = "chatgpt"')
    env = env_for(home, CODEX_API_KEY=KEY)
    token = run_in_process("token", env=env)
    assert (token.returncode, token.stdout) == (4, "")
    assert token.stderr == f"Error: CODEX_API_KEY environment variable is set: {API_DISABLED}\n"
    assert run_in_process("status", env=env).returncode == 1
    assert run_in_process("token", env=env_for(home)).returncode == 0  # the stored login is fine


def test_openai_api_key_is_refused_when_api_login_is_disabled(home: Path) -> None:
    configure(home, 'forced_login_method = "chatgpt"')
    token = run_in_process("token", env=env_for(home, OPENAI_API_KEY=KEY))
    assert token.returncode == 4
    assert API_DISABLED in token.stderr


def test_the_embedding_api_raises_the_violation(home: Path) -> None:
    store_api_key(home)
    configure(home, 'forced_login_method = "chatgpt"')
    with CodexAuth(environ={"CODEX_HOME": str(home)}) as auth:
        with pytest.raises(PolicyViolation, match=API_DISABLED):
            auth.get_token()
        with pytest.raises(PolicyViolation):
            auth.refresh()
    assert (home / "auth.json").exists()


def test_an_embedder_may_pass_its_own_policy(home: Path) -> None:
    store_api_key(home)
    chatgpt_only = LoginPolicy(frozenset({LoginMethod.CHATGPT}))
    auth = CodexAuth(environ={"CODEX_HOME": str(home)}, login_policy=chatgpt_only)
    with auth, pytest.raises(PolicyViolation):
        auth.get_token()


# -- the configuration itself ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("forced_login_method = 5", "forced_login_method must be"),
        ("forced_chatgpt_workspace_id = [1]", "forced_chatgpt_workspace_id must be"),
        ("this is not toml", "is not valid TOML: "),
    ],
)
def test_a_malformed_config_is_one_line_for_every_command(
    home: Path, text: str, shown: str
) -> None:
    configure(home, text)
    for command in (["status"], ["token"], ["login", "--with-api-key"]):
        result = run_in_process(*command, stdin=KEY, env=env_for(home))
        assert result.returncode == 1, command
        [line] = result.stderr.splitlines()
        assert line.startswith(f"Error: {home / 'config.toml'}")
        assert shown in line
    assert contents(home) is None


def test_status_and_token_parse_nothing_without_a_config_file(home: Path) -> None:
    """Start-up cost: with no config.toml (and no requirements file) tomllib is not loaded."""
    store_api_key(home)
    probe = (
        "import sys; from codex_login.entrypoints.cli import main; code = main(['token']); "
        "print('tomllib' in sys.modules, file=sys.stderr); raise SystemExit(code)"
    )
    # The default managed file, absent here (a named one must exist: it would be parsed).
    assert not DEFAULT_REQUIREMENTS.exists(), "this machine manages a login policy"
    env = env_for(home)
    python = CLI.with_name("python")
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "False"
