"""Which keyring layout the Codex CLI uses for a CODEX_HOME, read from its config.toml.

``[features] secret_auth_storage = true`` selects the encrypted layout (a passphrase in
the keyring, the record in ``secrets/codex_auth.age``); otherwise the record sits in
the keyring itself (the direct layout). Codex defaults to the encrypted layout on
Windows only. Small and self-contained on purpose: the config.toml policy keys get
their own reader (adapters/codex_config.py) and the two are to be unified.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

from codex_login.domain.errors import ConfigurationError

CONFIG_FILE = "config.toml"
KEY = "features.secret_auth_storage"


def default_secret_auth_storage() -> bool:
    return sys.platform == "win32"


def secret_auth_storage(codex_home: Path) -> bool:
    """True when ``$CODEX_HOME/config.toml`` selects the encrypted layout (as Codex reads it)."""
    path = Path(codex_home) / CONFIG_FILE
    features = _read(path).get("features", {})
    if not isinstance(features, dict):
        raise ConfigurationError(f"[features] in {path} must be a table; fix {path}")
    value = features.get("secret_auth_storage", default_secret_auth_storage())
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{KEY} in {path} must be true or false, not {value!r}; fix {path}"
        )
    return value


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML ({exc}); fix it") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
