"""Reading the login policy from config.toml and requirements.toml: a corpus of files."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_login.adapters.codex_config import (
    MAX_BYTES,
    load_login_policy,
    managed_layer,
    openai_base_url,
    user_layer,
)
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.login_policy import ALL_METHODS, LoginMethod, LoginPolicy
from codex_login.entrypoints.settings import DEFAULT_REQUIREMENTS, Settings

REQUIREMENTS_ENV = "CODEX_LOGIN_REQUIREMENTS"


def write(tmp_path: Path, text: str | bytes, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_a_missing_file_restricts_nothing(tmp_path: Path) -> None:
    assert user_layer(tmp_path / "config.toml") == LoginPolicy()
    assert managed_layer(tmp_path / "requirements.toml") == LoginPolicy()
    assert load_login_policy(tmp_path / "config.toml", tmp_path / "nothing.toml").unrestricted


def test_a_requirements_file_a_variable_names_must_exist(tmp_path: Path) -> None:
    """A typo in CODEX_LOGIN_REQUIREMENTS would otherwise lift the policy unseen."""
    missing = tmp_path / "typo.toml"
    with pytest.raises(ConfigurationError) as raised:
        load_login_policy(tmp_path / "config.toml", missing, requirements_named=REQUIREMENTS_ENV)
    assert str(raised.value) == (
        f"{REQUIREMENTS_ENV} names {missing}, which does not exist, so its login policy "
        f"cannot be applied; correct the path, or unset {REQUIREMENTS_ENV} to use the default "
        "file"
    )
    named = write(tmp_path, 'allowed_login_methods = ["api"]\n', "requirements.toml")
    policy = load_login_policy(tmp_path / "x.toml", named, requirements_named=REQUIREMENTS_ENV)
    assert policy == LoginPolicy(frozenset({LoginMethod.API}), None)
    settings = Settings.from_environ({REQUIREMENTS_ENV: str(missing)})
    assert settings.requirements_named == REQUIREMENTS_ENV
    assert Settings.from_environ({}).requirements_named is None


def test_unrelated_keys_and_tables_are_ignored(tmp_path: Path) -> None:
    text = 'model = "o3"\nsome_number = 5\n[features]\nsecret_auth_storage = true\n'
    assert user_layer(write(tmp_path, text)) == LoginPolicy()


@pytest.mark.parametrize(
    ("text", "methods", "workspaces"),
    [
        ('forced_login_method = "chatgpt"', {LoginMethod.CHATGPT}, None),
        ('forced_login_method = "api"', {LoginMethod.API}, None),
        ('forced_chatgpt_workspace_id = "ws-a"', set(LoginMethod), ("ws-a",)),
        ('forced_chatgpt_workspace_id = "  ws-a "', set(LoginMethod), ("ws-a",)),
        (
            'forced_chatgpt_workspace_id = ["ws-a", " ws-b ", ""]',
            set(LoginMethod),
            ("ws-a", "ws-b"),
        ),
        ("forced_chatgpt_workspace_id = []", set(LoginMethod), None),
        ('forced_chatgpt_workspace_id = ""', set(LoginMethod), None),
        ('forced_chatgpt_workspace_id = ["", "  "]', set(LoginMethod), None),
    ],
)
def test_the_user_layer(
    tmp_path: Path, text: str, methods: set[LoginMethod], workspaces: tuple[str, ...] | None
) -> None:
    assert user_layer(write(tmp_path, text)) == LoginPolicy(frozenset(methods), workspaces)


@pytest.mark.parametrize(
    ("text", "methods", "workspaces"),
    [
        ('allowed_login_methods = ["api"]', {LoginMethod.API}, None),
        ('allowed_login_methods = ["api", "chatgpt"]', set(LoginMethod), None),
        ("allowed_login_methods = []", set(), None),
        ('allowed_chatgpt_workspaces = [" ws-a "]', set(LoginMethod), ("ws-a",)),
        # Unlike config.toml, an empty list here allows no workspace at all.
        ("allowed_chatgpt_workspaces = []", set(LoginMethod), ()),
        ('allowed_chatgpt_workspaces = [""]', set(LoginMethod), ()),
    ],
)
def test_the_managed_layer(
    tmp_path: Path, text: str, methods: set[LoginMethod], workspaces: tuple[str, ...] | None
) -> None:
    path = write(tmp_path, text, "requirements.toml")
    assert managed_layer(path) == LoginPolicy(frozenset(methods), workspaces)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("forced_login_method = 5", "forced_login_method"),
        ('forced_login_method = "API"', "forced_login_method"),
        ('forced_login_method = ""', "forced_login_method"),
        ('forced_login_method = ["chatgpt"]', "forced_login_method"),
        ("forced_login_method = {}", "forced_login_method"),
        ("forced_chatgpt_workspace_id = 5", "forced_chatgpt_workspace_id"),
        ("forced_chatgpt_workspace_id = [1, 2]", "forced_chatgpt_workspace_id"),
        ('forced_chatgpt_workspace_id = ["ws-a", 2]', "forced_chatgpt_workspace_id"),
        ('forced_chatgpt_workspace_id = [["ws-a"]]', "forced_chatgpt_workspace_id"),
        ("forced_chatgpt_workspace_id = true", "forced_chatgpt_workspace_id"),
        ("forced_chatgpt_workspace_id = 1979-05-27", "forced_chatgpt_workspace_id"),
        ('forced_chatgpt_workspace_id = "ws-a,ws-b"', "forced_chatgpt_workspace_id"),
    ],
)
def test_a_wrong_value_in_config_toml_names_the_file_and_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as refused:
        user_layer(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: {key} must be ")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('allowed_login_methods = "api"', "allowed_login_methods"),
        ('allowed_login_methods = ["API"]', "allowed_login_methods"),
        ("allowed_login_methods = [1]", "allowed_login_methods"),
        ('allowed_chatgpt_workspaces = "ws-a"', "allowed_chatgpt_workspaces"),
        ("allowed_chatgpt_workspaces = [1]", "allowed_chatgpt_workspaces"),
        ("allowed_chatgpt_workspaces = {ws = true}", "allowed_chatgpt_workspaces"),
    ],
)
def test_a_wrong_value_in_requirements_toml_names_the_file_and_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = write(tmp_path, text, "requirements.toml")
    with pytest.raises(ConfigurationError, match=f"^{path}: {key} must be "):
        managed_layer(path)


@pytest.mark.parametrize(
    "data",
    [b"this is not toml", b'forced_login_method = "api', b"a = 1\na = 2", b"[x]\n[x]"],
)
def test_invalid_toml_is_one_line_naming_the_file_and_the_place(
    tmp_path: Path, data: bytes
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigurationError) as refused:
        user_layer(path)
    message = str(refused.value)
    assert message.startswith(f"{path} is not valid TOML: ")
    assert "line" in message
    assert "\n" not in message


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not UTF-8 text"):
        user_layer(write(tmp_path, b'forced_login_method = "\xff"'))


def test_a_huge_file_is_refused_without_parsing_it(tmp_path: Path) -> None:
    line = b"# " + b"x" * 1000 + b"\n"
    path = write(tmp_path, line * (MAX_BYTES // len(line) + 1))
    with pytest.raises(ConfigurationError, match=r"is larger than 1 MiB"):
        user_layer(path)


def test_a_file_just_under_the_cap_is_read(tmp_path: Path) -> None:
    key = b'forced_login_method = "api"\n'
    path = write(tmp_path, key + b"#" * (MAX_BYTES - len(key) - 1) + b"\n")
    assert path.stat().st_size == MAX_BYTES
    assert user_layer(path).methods == {LoginMethod.API}


def test_an_unreadable_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigurationError, match=r"^cannot read .*config\.toml: "):
        user_layer(tmp_path / "config.toml")


def test_both_layers_narrow_each_other(tmp_path: Path) -> None:
    write(tmp_path, 'forced_chatgpt_workspace_id = ["ws-c", "ws-a"]')
    requirements = write(tmp_path, 'allowed_chatgpt_workspaces = ["ws-a", "ws-b"]', "req.toml")
    policy = load_login_policy(tmp_path / "config.toml", requirements)
    assert policy == LoginPolicy(ALL_METHODS, ("ws-a",))


def test_layers_that_leave_no_method_are_refused_naming_both_files(tmp_path: Path) -> None:
    config = write(tmp_path, 'forced_login_method = "api"')
    requirements = write(tmp_path, 'allowed_login_methods = ["chatgpt"]', "req.toml")
    with pytest.raises(ConfigurationError) as refused:
        load_login_policy(tmp_path / "config.toml", requirements)
    message = str(refused.value)
    assert message.startswith("authentication requirements do not permit any usable login method")
    assert str(config) in message
    assert str(requirements) in message


def test_the_requirements_file_can_be_named_in_the_environment(tmp_path: Path) -> None:
    named = Settings.from_environ({REQUIREMENTS_ENV: str(tmp_path / "r.toml")})
    unset = Settings.from_environ({})
    assert unset.requirements_file == DEFAULT_REQUIREMENTS == Path("/etc/codex/requirements.toml")
    assert named.requirements_file == tmp_path / "r.toml"


# -- openai_base_url: the model API of every login (issue 23, item 1) -------------------


def test_openai_base_url_is_none_without_a_file_or_the_key(tmp_path: Path) -> None:
    assert openai_base_url(tmp_path / "config.toml") is None
    assert openai_base_url(write(tmp_path, 'model = "o3"\n')) is None


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("https://proxy.example.com/v1", "https://proxy.example.com/v1"),
        ("https://proxy.example.com/v1/", "https://proxy.example.com/v1"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://localhost:8080/v1", "http://localhost:8080/v1"),
    ],
)
def test_openai_base_url_is_read_as_written(tmp_path: Path, written: str, read: str) -> None:
    assert openai_base_url(write(tmp_path, f'openai_base_url = "{written}"\n')) == read


@pytest.mark.parametrize(
    "text",
    [
        'openai_base_url = "ftp://example.com/v1"',
        'openai_base_url = "example.com/v1"',
        'openai_base_url = "http://example.com/v1"',
        'openai_base_url = "http://192.168.1.5:8080/v1"',
        "openai_base_url = 5",
        'openai_base_url = ["https://example.com"]',
    ],
)
def test_a_bad_openai_base_url_is_one_line_naming_the_file_and_the_key(
    tmp_path: Path, text: str
) -> None:
    path = write(tmp_path, text + "\n")
    with pytest.raises(ConfigurationError) as raised:
        openai_base_url(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: openai_base_url must be")
    assert message.endswith(("fix the file", "fix the file or remove the key"))
