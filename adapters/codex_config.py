"""The login policy from the Codex CLI's own files, so one policy governs both tools.

- ``$CODEX_HOME/config.toml`` (the user's layer): ``forced_login_method = "chatgpt" |
  "api"`` and ``forced_chatgpt_workspace_id`` (one id, or a list; empty = any);
- the managed ``requirements.toml`` (``/etc/codex/requirements.toml``, or the file named
  by ``CODEX_LOGIN_REQUIREMENTS``): ``allowed_login_methods`` and
  ``allowed_chatgpt_workspaces`` (lists; an empty list allows nothing).

Where both files are is the settings' to say (``entrypoints/settings.py``): each
function here is given the file it reads.

the model API's address (``openai_base_url``, which moves it for every kind of login),
and which keyring layout the Codex CLI uses for a CODEX_HOME: ``[features]
secret_auth_storage = true`` selects the encrypted layout (a passphrase in the keyring,
the record in ``secrets/codex_auth.age``), otherwise the record sits in the keyring
itself (the direct layout); Codex defaults to the encrypted layout on Windows only.
``cli_auth_credentials_store`` names the store Codex keeps its login in (``file``,
``keyring``, ``auto``, ``ephemeral``).

A missing file restricts nothing and is not parsed at all (``status`` and ``token``
stay cheap); every other key is ignored. A file that cannot be used is a one-line
ConfigurationError naming the file and the key, as the Codex CLI refuses to start.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from codex_login.domain.errors import ConfigurationError
from codex_login.domain.login_policy import ALL_METHODS, LoginMethod, LoginPolicy, workspace_ids
from codex_login.domain.model_api import BASE_URL_KEY, base_url_problem

MAX_BYTES = 1 << 20  # far above any real policy file; a bigger one is a mistake
METHOD_NAMES = '"chatgpt" or "api"'


def load_login_policy(
    config: Path, requirements: Path, *, requirements_named: str | None = None
) -> LoginPolicy:
    """Both layers (the user's ``config.toml``, the managed ``requirements.toml``)
    narrowed into one policy; refused when it leaves no way to log in.

    ``requirements_named``: the variable that named ``requirements``, if one did. A
    missing default file restricts nothing (no policy is managed here), but a file
    someone named must be there: a typo would otherwise lift the policy unseen."""
    managed = managed_layer(requirements, required_by=requirements_named)
    policy = user_layer(config).narrow(managed)
    if not any(policy.allows(method) for method in LoginMethod):
        raise ConfigurationError(
            f"authentication requirements do not permit any usable login method "
            f"({config} and {requirements} together); change one of them"
        )
    return policy


def user_layer(path: Path) -> LoginPolicy:
    """``forced_login_method`` and ``forced_chatgpt_workspace_id`` of config.toml."""
    table = read_toml(path)
    if table is None:
        return LoginPolicy()
    methods = ALL_METHODS
    forced = table.get("forced_login_method")
    if forced is not None:
        methods = frozenset({_method(path, "forced_login_method", forced)})
    workspaces = _forced_workspaces(path, table.get("forced_chatgpt_workspace_id"))
    return LoginPolicy(methods, workspaces or None)  # an empty restriction is none


def managed_layer(path: Path, *, required_by: str | None = None) -> LoginPolicy:
    """``allowed_login_methods`` and ``allowed_chatgpt_workspaces`` of requirements.toml
    (``required_by``: the variable that named it, which makes a missing file an error)."""
    table = read_toml(path)
    if table is None and required_by is not None:
        raise ConfigurationError(
            f"{required_by} names {path}, which does not exist, so its login policy cannot "
            f"be applied; correct the path, or unset {required_by} to use the default file"
        )
    if table is None:
        return LoginPolicy()
    methods = ALL_METHODS
    allowed = table.get("allowed_login_methods")
    if allowed is not None:
        names = _strings(path, "allowed_login_methods", allowed, f"a list of {METHOD_NAMES} values")
        methods = frozenset(_method(path, "allowed_login_methods", name) for name in names)
    workspaces = None
    listed = table.get("allowed_chatgpt_workspaces")
    if listed is not None:
        ids = _strings(path, "allowed_chatgpt_workspaces", listed, "a list of workspace ids")
        workspaces = workspace_ids(ids)  # here an empty list means: no workspace at all
    return LoginPolicy(methods, workspaces)


STORE_KEY = "cli_auth_credentials_store"
CODEX_STORES = ("file", "keyring", "auto", "ephemeral")  # the Codex CLI 0.171's, in its order


def credentials_store(path: Path) -> str | None:
    """``cli_auth_credentials_store`` of the ``config.toml`` at ``path``: one of
    ``CODEX_STORES``, or None when the file or the key is missing."""
    value = (read_toml(path) or {}).get(STORE_KEY)
    if value is None:
        return None
    if value not in CODEX_STORES:  # as the Codex CLI, which refuses to start
        expected = ", ".join(f'"{name}"' for name in CODEX_STORES)
        raise _wrong(path, STORE_KEY, f"one of {expected}", value)
    return str(value)


def default_secret_auth_storage() -> bool:
    return sys.platform == "win32"


def secret_auth_storage(path: Path) -> bool:
    """True when the ``config.toml`` at ``path`` selects the encrypted layout (as Codex
    reads it)."""
    features = (read_toml(path) or {}).get("features", {})
    if not isinstance(features, dict):
        raise ConfigurationError(f"[features] in {path} must be a table; fix {path}")
    value = features.get("secret_auth_storage", default_secret_auth_storage())
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"features.secret_auth_storage in {path} must be true or false, not {value!r}; "
            f"fix {path}"
        )
    return value


def read_toml(path: Path) -> dict[str, Any] | None:
    """The file's table, or None when there is no file."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):  # the store says what is wrong with a home
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise ConfigurationError(
            f"{path} is larger than {MAX_BYTES >> 20} MiB, too big for a configuration file; "
            "shorten it"
        )
    import tomllib  # noqa: PLC0415  (only when a file exists: status and token stay cheap)

    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path} is not UTF-8 text; fix or remove it") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}; fix it") from exc


def _method(path: Path, key: str, value: object) -> LoginMethod:
    if isinstance(value, str):
        try:
            return LoginMethod(value)
        except ValueError:
            pass
    raise _wrong(path, key, METHOD_NAMES, value)


def _forced_workspaces(path: Path, value: object) -> tuple[str, ...]:
    key = "forced_chatgpt_workspace_id"
    if value is None:
        return ()
    if isinstance(value, str):
        if "," in value:  # refused by the Codex CLI too: one id per item
            raise ConfigurationError(
                f"{path}: {key} must be one workspace id or a list of them, not a "
                f'comma-separated string; write {key} = ["id-1", "id-2"]'
            )
        return workspace_ids([value])
    return workspace_ids(_strings(path, key, value, "a workspace id or a list of them"))


def _strings(path: Path, key: str, value: object, expected: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _wrong(path, key, expected, value)
    return value


def _wrong(path: Path, key: str, expected: str, value: object) -> ConfigurationError:
    return ConfigurationError(
        f"{path}: {key} must be {expected}, not {_shown(value)}; fix the file"
    )


def _shown(value: object) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return shown


def openai_base_url(path: Path) -> str | None:
    """``openai_base_url`` of the ``config.toml`` at ``path``: the model API of every kind
    of login (as the Codex CLI reads it); None when not set. Only https, or plain http to
    loopback, is accepted."""
    value = (read_toml(path) or {}).get(BASE_URL_KEY)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong(path, BASE_URL_KEY, "a URL string", value)
    problem = base_url_problem(value)
    if problem is not None:
        raise ConfigurationError(
            f"{path}: {BASE_URL_KEY} {problem}, not {_shown(value)}; fix the file or remove the key"
        )
    return value.rstrip("/")
