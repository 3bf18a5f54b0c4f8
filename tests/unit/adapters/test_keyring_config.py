"""Which keyring layout config.toml selects, read as the Codex CLI reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_login.adapters.codex_config import default_secret_auth_storage, secret_auth_storage
from codex_login.domain.errors import ConfigurationError


def test_without_config_toml_the_platform_default_holds(tmp_path: Path) -> None:
    assert secret_auth_storage(tmp_path / "config.toml") is default_secret_auth_storage()


@pytest.mark.parametrize("value", [True, False])
def test_the_feature_switch_selects_the_layout(tmp_path: Path, value: bool) -> None:
    (tmp_path / "config.toml").write_text(
        f'model = "x"\n[features]\nsecret_auth_storage = {str(value).lower()}\n'
    )
    assert secret_auth_storage(tmp_path / "config.toml") is value


def test_a_malformed_config_toml_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[features\n")
    with pytest.raises(ConfigurationError) as caught:
        secret_auth_storage(tmp_path / "config.toml")
    message = str(caught.value)
    assert str(tmp_path / "config.toml") in message
    assert "is not valid TOML" in message
    assert "\n" not in message


@pytest.mark.parametrize("value", ['"true"', "1", "[true]"])
def test_a_value_that_is_not_a_boolean_names_the_key(tmp_path: Path, value: str) -> None:
    (tmp_path / "config.toml").write_text(f"[features]\nsecret_auth_storage = {value}\n")
    with pytest.raises(ConfigurationError, match=r"features\.secret_auth_storage in .* must be"):
        secret_auth_storage(tmp_path / "config.toml")


def test_features_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("features = 1\n")
    with pytest.raises(ConfigurationError, match=r"\[features\] in .* must be a table"):
        secret_auth_storage(tmp_path / "config.toml")
