"""Settings: the environment is read in one place, and --help lists what each command reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import codex_login
from codex_login.entrypoints import cli, settings
from codex_login.entrypoints.settings import Settings, variable_names

PRODUCT = Path(codex_login.__path__[0])
LAYERS = ("domain", "application", "adapters", "entrypoints")
# The testing kit (its demo passes the caller's environment to child processes) is not
# the product; settings.py is the one place that reads the environment.
NOT_PRODUCT = ("entrypoints/public/testing", "entrypoints/settings.py", "testing/")
READS = re.compile(r"os\.environ|getenv|environ\.get\(|environ\[|\benv\.get\(")


def product_sources() -> list[Path]:
    files = [path for layer in LAYERS for path in (PRODUCT / layer).rglob("*.py")]
    return [
        path
        for path in files
        if not any(str(path.relative_to(PRODUCT)).startswith(skip) for skip in NOT_PRODUCT)
    ]


def test_no_product_module_but_settings_reads_the_environment() -> None:
    sources = product_sources()
    assert len(sources) > 30  # the layers were found
    readers = [
        f"{path.relative_to(PRODUCT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if READS.search(line)
        and not line.lstrip().startswith(("#", '"', "``"))
        and "``os.environ``" not in line
    ]
    assert readers == []


@pytest.mark.parametrize(
    "name",
    [
        "CODEX_HOME",
        "CODEX_LOGIN_STORE",
        "CODEX_LOGIN_REDIS_URL",
        "CODEX_LOGIN_REDIS_PREFIX",
        "REDISCLI_AUTH",
        "CODEX_LOGIN_LOCK_TIMEOUT",
        "CODEX_LOGIN_TRUST_OWNER",
        "CODEX_LOGIN_DUMPABLE",
        "CODEX_LOGIN_REQUIREMENTS",
        "OPENAI_API_KEY",
        "CODEX_API_KEY",
        "CODEX_LOGIN_BROKER",
        "CODEX_LOGIN_BROKER_SECRET_FILE",
        "CODEX_LOGIN_ISSUER",
        "CODEX_LOGIN_CLIENT_ID",
        "CODEX_LOGIN_ISSUER_PROFILE",
        "CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS",
        "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
        "CODEX_REVOKE_TOKEN_URL_OVERRIDE",
        "CODEX_CA_CERTIFICATE",
        "SSL_CERT_FILE",
        "XDG_RUNTIME_DIR",
        "TMPDIR",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "LISTEN_PID",
        "LISTEN_FDS",
    ],
)
def test_each_variable_the_product_reads_is_declared(name: str) -> None:
    assert name in variable_names()
    assert getattr(Settings.from_environ({name: "x"}), _field_of(name)) == "x"


def _field_of(name: str) -> str:
    import attrs  # noqa: PLC0415

    for field in attrs.fields(Settings):
        if settings.variable(field).name == name:
            return field.name
    raise AssertionError(name)


def test_every_declaration_has_a_help_line() -> None:
    for entry in settings.declared():
        assert entry.help.strip(), entry.name
        assert all(len(line) <= 80 for line in entry.line().splitlines()), entry.name


def test_an_empty_variable_is_unset_and_secrets_stay_out_of_repr() -> None:
    read = Settings.from_environ(
        {"CODEX_LOGIN_STORE": "", "OPENAI_API_KEY": "sk-secret", "REDISCLI_AUTH": "pw"}
    )
    assert read.store is None
    assert read.openai_api_key == "sk-secret"
    assert "sk-secret" not in repr(read)
    assert "pw" not in repr(read)


def environment_of_help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The environment section of ``command --help``."""
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return capsys.readouterr().out.split("\nenvironment:\n", 1)[1]


@pytest.mark.parametrize(
    ("command", "sections"),
    [
        ("login", (settings.STORE, settings.ISSUER, settings.NETWORK, settings.BROWSER)),
        ("status", (settings.STORE, settings.API_KEY, settings.BROKER)),
        ("token", (settings.STORE, settings.API_KEY, settings.BROKER, settings.ISSUER)),
        ("serve", (settings.STORE, settings.ISSUER, settings.SERVE)),
        ("accounts", (settings.STORE, settings.BROKER)),
        ("logout", (settings.STORE, settings.NETWORK)),
    ],
)
def test_a_commands_help_lists_the_variables_it_reads(
    command: str, sections: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    environment = environment_of_help(command, capsys)
    for entry in settings.declared():
        if entry.section in sections:
            assert entry.line() in environment, (command, entry.name)


@pytest.mark.parametrize("command", ["status", "token", "refresh", "doctor", "serve"])
def test_every_variable_that_can_stand_in_for_the_login_is_listed(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """CODEX_API_KEY wins over the stored login: a --help that hid it would hide why."""
    environment = environment_of_help(command, capsys)
    for name in ("CODEX_API_KEY", "CODEX_ACCESS_TOKEN", "OPENAI_API_KEY"):
        assert f"\n  {name} " in environment, (command, name)


def test_the_config_files_are_derived_from_the_settings(tmp_path: Path) -> None:
    """config.toml follows CODEX_HOME, or --codex-home in its place; the managed file is
    CODEX_LOGIN_REQUIREMENTS, else the Codex CLI's (issue 21, item 5)."""
    home = Path.home() / ".codex"
    unset = Settings.from_environ({})
    assert (unset.home, unset.config_file) == (home, home / "config.toml")
    assert unset.requirements_file == Path("/etc/codex/requirements.toml")
    named = Settings.from_environ(
        {"CODEX_HOME": str(tmp_path / "env"), "CODEX_LOGIN_REQUIREMENTS": "req.toml"}
    )
    assert named.config_file == tmp_path / "env" / "config.toml"
    assert named.requirements_file == Path("req.toml")
    moved = named.with_home(tmp_path / "flag")
    assert moved.config_file == tmp_path / "flag" / "config.toml"
    assert moved.requirements_file == named.requirements_file
    assert named.with_home(None) is named


@pytest.mark.parametrize(
    "command", ["login", "status", "token", "logout", "serve", "accounts", "export", "import"]
)
def test_the_help_of_each_command_reading_the_policy_names_its_files(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = environment_of_help(command, capsys)
    assert "CODEX_LOGIN_REQUIREMENTS   the managed login policy file" in environment
    assert "/etc/codex/requirements.toml" in environment
    assert "$CODEX_HOME/config.toml    the user's login policy" in environment


@pytest.mark.parametrize("command", ["token", "serve"])
def test_the_model_api_settings_are_listed_where_they_are_said(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """token --json and the broker's /v1/token say base_url and headers: their --help
    lists what moves them, and that OPENAI_BASE_URL does not (issue 23)."""
    environment = environment_of_help(command, capsys)
    for name in ("OPENAI_ORGANIZATION", "OPENAI_PROJECT", "OPENAI_BASE_URL", "openai_base_url"):
        assert name in environment, (command, name)
    assert "OPENAI_BASE_URL            not read" in environment
