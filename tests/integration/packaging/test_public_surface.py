"""The public modules: codex_login (credentials, values, errors, HTTP auths), .aio (the async
twin under the same name), .stores (stores and ports), .policy; cheap to import, browsable
without the extras, the old names deprecated rather than gone."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import codex_login
import codex_login.aio
import codex_login.policy
import codex_login.stores
from codex_login.policy import LoginPolicy, RefreshPolicy
from codex_login.stores import (
    EncryptedCredentialStore,
    FileCredentialStore,
    MemoryCredentialStore,
    RedisCredentialStore,
)

PUBLIC = ["codex_login", "codex_login.aio", "codex_login.stores", "codex_login.policy"]
HEAVY = ["aiohttp", "authlib", "redis", "keyring", "httpx", "requests"]
MISSING_EXTRAS = "import sys; sys.modules.update(dict.fromkeys({extras!r})); ".format(
    extras=["httpx", "requests", "redis", "keyring", "pyrage"]
)


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def public_methods(cls: type) -> dict[str, bool]:
    """Each public method's name, and whether it is a coroutine function."""
    return {
        name: inspect.iscoroutinefunction(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


def test_the_async_twin_has_the_same_name_and_is_the_old_class() -> None:
    assert codex_login.aio.CodexAuth is codex_login.AsyncCodexAuth
    assert codex_login.aio.CodexAuth.__name__ == "AsyncCodexAuth"


def test_the_twins_have_the_same_methods_blocking_and_awaitable() -> None:
    blocking = public_methods(codex_login.CodexAuth)
    awaitable = public_methods(codex_login.aio.CodexAuth)
    assert set(blocking) - {"close"} == set(awaitable) - {"aclose"}
    assert not any(blocking.values())
    # Only what makes a twin stays plain; one account's view reads the accounts first.
    plain = {name for name, is_coroutine in awaitable.items() if not is_coroutine}
    assert plain == {"as_async", "as_blocking"}
    assert awaitable["aclose"]


def test_the_twins_take_the_same_keyword_only_parameters() -> None:
    blocking = inspect.signature(codex_login.CodexAuth).parameters
    awaitable = inspect.signature(codex_login.aio.CodexAuth).parameters
    assert list(blocking) == list(awaitable)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in blocking.values())
    assert {name: p.annotation for name, p in blocking.items()} == {
        name: p.annotation for name, p in awaitable.items()
    }
    # Written once: both inherit one constructor rather than each spelling the keywords.
    assert codex_login.CodexAuth.__init__ is codex_login.aio.CodexAuth.__init__


def test_a_misspelt_option_is_a_type_error(tmp_path: Path) -> None:
    """mypy (the project's strict settings) refuses a misspelt keyword to either twin."""
    snippet = tmp_path / "misspelt.py"
    snippet.write_text(
        "import codex_login\n"
        "import codex_login.aio\n"
        "from codex_login.stores import MemoryCredentialStore\n"
        "codex_login.CodexAuth(stroe=MemoryCredentialStore())\n"
        "codex_login.aio.CodexAuth(stroe=MemoryCredentialStore())\n"
        "codex_login.CodexAuth(store=MemoryCredentialStore(), environ={}).close()\n"
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", str(snippet)],
        cwd=Path(__file__).parents[3],  # the project's [tool.mypy] settings
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["4", "5"], checked.stdout
    assert all('Unexpected keyword argument "stroe"' in line for line in errors)


def test_a_misspelt_option_is_refused(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path)
    with pytest.raises(TypeError, match="stroe"):
        codex_login.CodexAuth(stroe=store)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="stroe"):
        codex_login.aio.CodexAuth(stroe=store)  # type: ignore[call-arg]


def test_typed_keywords_reach_the_service(tmp_path: Path) -> None:
    # Type-checked by mypy: every keyword below is a declared parameter of both twins.
    with codex_login.CodexAuth(
        store=MemoryCredentialStore(),
        environ={},
        policy=RefreshPolicy(),
        login_policy=LoginPolicy(),
        codex_home=tmp_path,
    ) as auth:
        assert auth.status() is None
    twin = codex_login.aio.CodexAuth(store=FileCredentialStore(tmp_path), environ={})
    assert twin.location == FileCredentialStore(tmp_path).location


@pytest.mark.parametrize("name", PUBLIC)
def test_every_listed_name_resolves(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    for public in module.__all__:
        assert getattr(module, public) is not None, f"{name}.{public}"
    assert set(module.__all__) <= set(dir(module))


def test_the_readme_stores_are_importable_from_the_package() -> None:
    assert EncryptedCredentialStore.__module__ == "codex_login.adapters.encrypted_store"
    assert RedisCredentialStore.__module__ == "codex_login.adapters.redis.store"


def test_importing_the_public_modules_loads_no_heavy_dependency() -> None:
    code = (
        f"import sys, {', '.join(PUBLIC)}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", PUBLIC)
def test_help_works_without_the_extras(name: str) -> None:
    code = (
        MISSING_EXTRAS
        + f"import pydoc, {name}; print(pydoc.render_doc({name}, renderer=pydoc.plaintext))"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    for public in importlib.import_module(name).__all__:
        shown = "VERSION" if public == "__version__" else public
        assert shown in result.stdout, public
    assert "No module named" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("CodexHttpxAuth", "httpx"),
        ("CodexRequestsAuth", "requests"),
        ("stores.RedisCredentialStore", "redis"),
        ("openai_client", "openai"),
    ],
)
def test_an_extras_class_names_the_extra_when_it_is_missing(name: str, extra: str) -> None:
    code = MISSING_EXTRAS + (
        "import codex_login.stores\n"
        "try:\n"
        f"    codex_login.{name}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    result = python(code)
    assert result.returncode == 0, result.stderr
    short = name.rpartition(".")[2]
    assert result.stdout.strip() == (
        f"MissingExtra {short} needs the {extra} extra: pip install 'codex-login[{extra}]' "
        f"(from a checkout: pip install '.[{extra}]')"
    )


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("bootstrap", "codex_login.entrypoints.bootstrap"),
        ("AuthService", "codex_login.application.service"),
        ("FileCredentialStore", "codex_login.stores"),
        ("MemoryCredentialStore", "codex_login.stores"),
        ("KeyringCredentialStore", "codex_login.stores"),
        ("CredentialStore", "codex_login.stores"),
        ("Clock", "codex_login.stores"),
        ("LoginPolicy", "codex_login.policy"),
        ("LoginMethod", "codex_login.policy"),
    ],
)
def test_a_moved_name_still_loads_with_a_warning_naming_its_place(name: str, where: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"import it from {where}") as caught:
        value = getattr(codex_login, name)
    assert value is getattr(importlib.import_module(where), name)
    assert caught[0].filename == __file__
    assert name not in codex_login.__all__


def _names_in_signatures(cls_or_function: object) -> str:
    """Every annotation of a public class's members (or of a function), as written."""
    members = (
        [m for n, m in vars(cls_or_function).items() if not n.startswith("_")]
        if isinstance(cls_or_function, type)
        else [cls_or_function]
    )
    functions = [m.fget if isinstance(m, property) else m for m in members]
    return " ".join(str(getattr(f, "__annotations__", "")) for f in functions)


def test_the_auth_manager_is_internal() -> None:
    """The service hands out tokens itself (``fresh()`` is the hot path): no public module,
    nor the service or the twins, returns or names the auth manager."""
    from codex_login.application.service import AuthService  # noqa: PLC0415

    assert not hasattr(AuthService, "manager")
    assert callable(AuthService.fresh)
    for name in [*PUBLIC, "codex_login.testing"]:
        module = importlib.import_module(name)
        for public in module.__all__:
            assert "AuthManager" not in public
            if public in {"CodexHttpxAuth", "CodexRequestsAuth"}:
                continue  # their extras may be missing; they wrap the twins
            assert "AuthManager" not in _names_in_signatures(getattr(module, public)), public
    assert "AuthManager" not in _names_in_signatures(AuthService)
