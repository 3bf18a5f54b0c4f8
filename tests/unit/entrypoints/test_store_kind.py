"""Which store holds the login: CODEX_LOGIN_STORE, else the Codex CLI's own setting
``cli_auth_credentials_store`` in $CODEX_HOME/config.toml, else auth.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.domain.errors import ConfigurationError
from codex_login.entrypoints.bootstrap import EPHEMERAL_NOTICE, bootstrap, store_kind
from codex_login.entrypoints.settings import Settings

# What the Codex CLI's setting means to codex-login (ephemeral: this process's memory).
CODEX_VALUES = {"file": "file", "keyring": "keyring", "auto": "auto", "ephemeral": "memory"}


def config_with(home: Path, value: str | None) -> Path:
    config = home / "config.toml"
    if value is not None:
        config.write_text(f'model = "o3"\ncli_auth_credentials_store = {value}\n')
    return config


def kind(home: Path, variable: str | None, value: str | None) -> str:
    environ = {"CODEX_HOME": str(home)} | ({"CODEX_LOGIN_STORE": variable} if variable else {})
    return store_kind(Settings.from_environ(environ), config_with(home, value))


@pytest.mark.parametrize(("value", "expected"), CODEX_VALUES.items())
def test_without_the_variable_config_toml_picks_the_store(
    tmp_path: Path, value: str, expected: str
) -> None:
    assert kind(tmp_path, None, f'"{value}"') == expected


@pytest.mark.parametrize("variable", ["file", "keyring", "auto", "redis", "memory"])
@pytest.mark.parametrize("value", [*CODEX_VALUES, None])
def test_the_variable_wins_over_config_toml(
    tmp_path: Path, variable: str, value: str | None
) -> None:
    assert kind(tmp_path, variable, None if value is None else f'"{value}"') == variable


def test_the_variable_wins_without_reading_a_broken_config_toml(tmp_path: Path) -> None:
    assert kind(tmp_path, "file", '"bogus"') == "file"


def test_an_empty_variable_is_unset(tmp_path: Path) -> None:
    assert kind(tmp_path, "", '"ephemeral"') == "memory"


def test_without_config_toml_the_store_is_auth_json(tmp_path: Path) -> None:
    assert kind(tmp_path, None, None) == "file"


def test_a_config_toml_without_the_key_keeps_auth_json(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('model = "o3"\n')
    assert kind(tmp_path, None, None) == "file"


def test_a_missing_credential_directory_keeps_auth_json(tmp_path: Path) -> None:
    assert kind(tmp_path / "not-yet", None, None) == "file"


@pytest.mark.parametrize("value", ['"bogus"', '"File"', '"redis"', '"memory"', "1", '["file"]'])
def test_a_bad_value_is_one_line_naming_the_file_and_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        kind(tmp_path, None, value)
    message = str(caught.value)
    assert str(tmp_path / "config.toml") in message
    assert "cli_auth_credentials_store must be one of" in message
    assert '"file", "keyring", "auto", "ephemeral"' in message
    assert "\n" not in message


def test_ephemeral_keeps_the_login_in_memory_and_says_it_ends_with_the_process(
    tmp_path: Path,
) -> None:
    config_with(tmp_path, '"ephemeral"')
    heard: list[str] = []
    service = bootstrap(environ={"CODEX_HOME": str(tmp_path)}, store_notice=heard.append)
    assert isinstance(service.store, MemoryCredentialStore)
    assert heard == [EPHEMERAL_NOTICE]
    service.login_with_api_key("sk-test-123456789")
    assert not (tmp_path / "auth.json").exists()
    again = bootstrap(environ={"CODEX_HOME": str(tmp_path)})
    assert again.status() is None  # another process: the login is gone, as in the Codex CLI
