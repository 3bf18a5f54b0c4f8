"""The one composition root: builds the application service from settings and adapters.

Embedders and tests call ``bootstrap()`` with keyword overrides::

        from codex_login.entrypoints.bootstrap import bootstrap

    auth = bootstrap(store=MemoryCredentialStore())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.adapters.clock import SystemClock
from codex_login.adapters.codex_config import (
    credentials_store,
    load_login_policy,
    openai_base_url,
    secret_auth_storage,
)
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.lazy_endpoint import LazyAccountLookup, LazyHttpTokenEndpoint
from codex_login.adapters.owned_paths import check_home, owners_from
from codex_login.application.options import AuthOptions
from codex_login.application.service import AuthService
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.issuer import IssuerConfig, issuer_config
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.model_api import ModelApiSettings, header_value
from codex_login.domain.modes import AuthMode
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.entrypoints.settings import Settings

if TYPE_CHECKING:
    from codex_login.adapters.broker_client import BrokerClient
    from codex_login.application.browser_login import CallbackListener
    from codex_login.domain.ports import (
        AccountLookup,
        AccountShelf,
        Clock,
        CredentialStore,
        TokenEndpoint,
    )
    from codex_login.domain.workload_identity import WorkloadIdentity

STORES = ("file", "memory", "keyring", "auto", "redis")
DEFAULT_LOCK_TIMEOUT = 90.0
DEFAULT_BROKER_TIMEOUT = 30.0  # seconds to wait for each of a broker's answers
EPHEMERAL_NOTICE = "The login is kept in memory only: it ends with this process"

Environ = Mapping[str, str] | Settings


def settings_of(environ: Environ | None) -> Settings:
    """``environ`` as Settings: read from a mapping (default ``os.environ``) once."""
    return environ if isinstance(environ, Settings) else Settings.from_environ(environ)


def store_kind(settings: Settings, config: Path) -> str:
    """The store, by one rule: ``CODEX_LOGIN_STORE``; else the Codex CLI's
    ``cli_auth_credentials_store`` in ``config`` (its config.toml), read only when the
    file exists, ``ephemeral`` being the memory store; else ``file``."""
    if settings.store:
        return settings.store
    named = credentials_store(config)
    if named == "ephemeral":  # the Codex CLI's: in this process's memory only
        return "memory"
    return named or "file"


def make_store(
    kind: str,
    codex_home: Path,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    notify: Callable[[str], None] | None = None,
    environ: Environ | None = None,
    layout_home: Path | None = None,
) -> tuple[CredentialStore, str | None]:
    """The store of kind ``kind`` (see ``store_kind``), and a notice for a person about to
    log in: which store ``auto`` chose, or that a ``memory`` login ends with the process.

    ``notify`` receives what a person waiting should hear (a held lock, a removed link).
    ``environ`` (default ``os.environ``) holds the settings of the ``redis`` store.
    ``layout_home``: the CODEX_HOME whose config.toml picks the keyring layout (an
    account slot follows its CODEX_HOME's); default ``codex_home``.
    ``CODEX_LOGIN_TRUST_OWNER`` in ``environ`` names another owner whose credential
    directories the file-based stores use (a CODEX_HOME mounted into a container).
    """

    settings = settings_of(environ)

    def file_store() -> FileCredentialStore:
        owners = owners_from(settings.trust_owner)
        return FileCredentialStore(
            codex_home, writer_lock_timeout=lock_timeout, notify=notify, owners=owners
        )

    if kind == "file":
        return file_store(), None
    if kind == "memory":
        from codex_login.adapters.memory_store import MemoryCredentialStore  # noqa: PLC0415

        return MemoryCredentialStore(), EPHEMERAL_NOTICE
    if kind in ("keyring", "auto"):
        config = settings.with_home(layout_home or codex_home).config_file
        return keyring_store_for(kind, file_store(), notify=notify, config=config)
    if kind == "redis":
        from codex_login.entrypoints import redis_wiring  # noqa: PLC0415  (only Redis pays)

        redis = redis_wiring.redis_settings_from(settings)
        return redis_wiring.redis_store_from(redis, lock_timeout=lock_timeout, notify=notify), None
    raise ConfigurationError(
        f"CODEX_LOGIN_STORE={kind!r} is not a credential store; use one of: {', '.join(STORES)}"
    )


def make_shelf(
    kind: str,
    codex_home: Path,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    notify: Callable[[str], None] | None = None,
    environ: Environ | None = None,
) -> AccountShelf:
    """The slots of inactive logins, of the same kind as the active store.

    File and keyring slots live under ``$CODEX_HOME/accounts/<name>/``; Redis slots
    under the login name ``account.<name>``; memory slots in the process.
    """
    from codex_login.adapters import account_shelf  # noqa: PLC0415

    settings = settings_of(environ)
    if kind == "memory":
        return account_shelf.MemoryShelf()
    if kind == "redis":
        from codex_login.entrypoints import redis_wiring  # noqa: PLC0415  (only Redis pays)

        redis = redis_wiring.redis_settings_from(settings)
        return redis_wiring.redis_shelf_from(redis, lock_timeout=lock_timeout, notify=notify)

    def slot_store(directory: Path) -> CredentialStore:
        store, _ = make_store(
            kind,
            directory,
            lock_timeout=lock_timeout,
            notify=notify,
            environ=settings,
            layout_home=codex_home,
        )
        return store

    owners = owners_from(settings.trust_owner)
    return account_shelf.DirectoryShelf(
        codex_home / account_shelf.ACCOUNTS_DIR, slot_store, owners=owners
    )


def keyring_store_for(
    kind: str,
    files: FileCredentialStore,
    *,
    notify: Callable[[str], None] | None,
    config: Path,
) -> tuple[CredentialStore, str | None]:
    """``keyring`` or ``auto``, in the layout ``config`` (a config.toml) selects, as the
    Codex CLI does.

    ``[features] secret_auth_storage = true``: the encrypted layout (a passphrase in the
    keyring, the record in secrets/codex_auth.age); otherwise the record in the keyring.
    ``auto`` without any OS keyring uses auth.json and says so; with one, it reads the
    keyring first and auth.json after, and says when it falls back.
    """
    from codex_login.adapters import keyring_store  # noqa: PLC0415

    encrypted = secret_auth_storage(config)
    backend = keyring_store.system_keyring()
    if backend is None and kind == "auto":
        why = keyring_store.secret_service_problem()
        return files, f"No OS keyring is available{why}; using {files.location} (mode 0600)"
    keyring: CredentialStore
    if encrypted:
        from codex_login.adapters.encrypted_store import EncryptedCredentialStore  # noqa: PLC0415

        keyring = EncryptedCredentialStore(files.codex_home, backend=backend, files=files)
    else:
        keyring = keyring_store.KeyringCredentialStore(
            files.codex_home, backend=backend, files=files
        )
    if kind == "keyring":
        return keyring, None
    from codex_login.adapters.auto_store import AutoCredentialStore  # noqa: PLC0415

    auto = AutoCredentialStore(keyring, files, notify=notify or _log_notice)
    return auto, f"Using {keyring.location} ({files.location} if the keyring fails)"


def _log_notice(message: str) -> None:
    import logging  # noqa: PLC0415

    logging.getLogger(__name__).info("%s", message)


def issuer_from(
    environ: Environ, *, issuer: str | None = None, client_id: str | None = None
) -> IssuerConfig:
    """Options beat ``CODEX_LOGIN_ISSUER``; every command that talks to the issuer uses this."""
    settings = settings_of(environ)
    return issuer_config(
        issuer=issuer or settings.issuer,
        client_id=client_id or settings.client_id,
        profile=settings.issuer_profile,
        refresh_url=settings.refresh_url,
        revoke_url=settings.revoke_url,
        trusted_origins=settings.trusted_origins,
    )


def lock_timeout_from(environ: Environ) -> float:
    """``CODEX_LOGIN_LOCK_TIMEOUT``: how many seconds a writer waits for the lock."""
    text = settings_of(environ).lock_timeout or ""
    if not text:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"CODEX_LOGIN_LOCK_TIMEOUT={text!r} is not a number of seconds; use e.g. 30"
        ) from exc
    if not 0 < seconds < 24 * 3600:
        raise ConfigurationError(
            f"CODEX_LOGIN_LOCK_TIMEOUT={text!r} must be more than 0 and less than a day"
        )
    return seconds


def workload_identity_from(environ: Environ) -> WorkloadIdentity | None:
    """The workload identity the environment selects (None: none; a partial one raises)."""
    env = settings_of(environ)
    markers = (env.federation_rule_id, env.identity_token_file, env.identity_token_source)
    if not any((*markers, env.spiffe_audience, env.spiffe_id)):
        return None  # the usual case: the module stays off the hot path
    from codex_login.domain.workload_identity import select_workload_identity  # noqa: PLC0415

    return select_workload_identity(
        rule_id=env.federation_rule_id,
        token_file=env.identity_token_file,
        source=env.identity_token_source,
        context=env.workload_identity_context,
        spiffe_socket=env.spiffe_endpoint_socket,
        spiffe_audience=env.spiffe_audience,
        spiffe_id=env.spiffe_id,
    )


def http_endpoint(environ: Environ) -> TokenEndpoint:
    """The real token endpoint; aiohttp and authlib load on its first request."""
    return LazyHttpTokenEndpoint(ca_file=settings_of(environ).ca_file)


def broker_address(environ: Environ, chosen: str | None = None) -> str | None:
    """The token broker to ask instead of reading a store: ``chosen`` (``--broker``,
    ``broker=``), else ``CODEX_LOGIN_BROKER``; None: read the store."""
    return chosen or settings_of(environ).broker


def broker_client(
    address: str,
    environ: Environ,
    *,
    warn: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> BrokerClient:
    """A client of the token broker at ``address`` (a socket path or a loopback URL).

    A TCP broker's secret is read from ``CODEX_LOGIN_BROKER_SECRET_FILE``; a file that
    others can read is used, with a warning through ``warn`` (default: logged).
    ``timeout``: seconds to wait for each answer (default the client's).
    """
    from codex_login.adapters.broker_client import BrokerClient  # noqa: PLC0415
    from codex_login.adapters.secret_file import read_secret_file  # noqa: PLC0415

    waits = DEFAULT_BROKER_TIMEOUT if timeout is None else timeout
    secret_file = settings_of(environ).broker_secret_file
    if not secret_file:
        return BrokerClient(address, timeout=waits)
    read = read_secret_file(Path(secret_file))
    if read.exposure is not None:
        (warn or _log_warning)(f"Warning: {read.exposure}")
    return BrokerClient(address, secret=read.secret, timeout=waits)


def _log_warning(message: str) -> None:
    import logging  # noqa: PLC0415

    logging.getLogger(__name__).warning("%s", message)


def callback_server(environ: Environ) -> CallbackListener:
    """The loopback callback server of browser logins; aiohttp loads only now.

    Its claim on the port (who may cancel it) lives in this user's runtime directory.
    """
    from codex_login.adapters.port_claims import PortClaims  # noqa: PLC0415
    from codex_login.entrypoints.callback_server import CallbackServer  # noqa: PLC0415

    settings = settings_of(environ)
    return CallbackServer(claims=PortClaims.for_user(settings.xdg_runtime_dir, settings.tmpdir))


def bootstrap(
    *,
    codex_home: Path | str | None = None,
    store: CredentialStore | None = None,
    clock: Clock | None = None,
    endpoint: TokenEndpoint | None = None,
    issuer: str | None = None,
    client_id: str | None = None,
    environ: Environ | None = None,
    preferred: AuthMode = AuthMode.CHATGPT,
    policy: RefreshPolicy | None = None,
    login_policy: LoginPolicy | None = None,
    notify: Callable[[str], None] | None = None,
    shelf: AccountShelf | None = None,
    store_notice: Callable[[str], None] | None = None,
) -> AuthService:
    """Wire the service. Anything not passed comes from ``environ`` (default ``os.environ``).

    ``notify`` receives one-line notices for a person (a lock held by another
    process, a credential link removed); by default they are logged. ``shelf``
    holds the inactive accounts; with a ``store`` of your own and no ``shelf``,
    a new login replaces the previous one.
    ``login_policy`` None reads the Codex CLI's: ``$CODEX_HOME/config.toml`` narrowed by
    the managed requirements file (``CODEX_LOGIN_REQUIREMENTS``, else
    ``/etc/codex/requirements.toml``).
    The model API (``service.model_api_of(token)``) follows ``openai_base_url`` in that
    config.toml and ``OPENAI_ORGANIZATION`` / ``OPENAI_PROJECT``; never ``OPENAI_BASE_URL``
    (nor does the Codex CLI 0.171).
    The store is ``CODEX_LOGIN_STORE``, else ``cli_auth_credentials_store`` in that
    config.toml (as the Codex CLI), else auth.json (``store_kind``).
    ``store_notice`` hears which store ``auto`` chose, or that the login ends with the
    process (``memory``, Codex's ``ephemeral``), for a person about to log in (the command
    line says it; the service does not keep it).
    """
    env = settings_of(environ)
    located = env.with_home(codex_home)  # where the credentials and policy files are
    home = located.home
    if store is None:  # a file, or a directory we may not enter, is said once, here
        check_home(home)
    if login_policy is None:
        login_policy = load_login_policy(
            located.config_file,
            located.requirements_file,
            requirements_named=located.requirements_named,
        )
    if store is None:
        kind = store_kind(env, located.config_file)
        timeout = lock_timeout_from(env)
        store, notice = make_store(kind, home, lock_timeout=timeout, notify=notify, environ=env)
        if notice is not None and store_notice is not None:
            store_notice(notice)
        if shelf is None:
            shelf = make_shelf(kind, home, lock_timeout=timeout, notify=notify, environ=env)
    options = AuthOptions(
        workload_identity=workload_identity_from(env),
        issuer=issuer_from(env, issuer=issuer, client_id=client_id),
        env_api_key=env.openai_api_key,
        # As the Codex CLI's exec: a whitespace-only value is no key.
        override_api_key=(env.codex_api_key or "").strip() or None,
        access_token=(env.codex_access_token or "").strip() or None,  # as Codex reads it
        preferred=preferred,
        policy=policy or RefreshPolicy(),
        login_policy=login_policy,
        model_api=ModelApiSettings(
            base_url=openai_base_url(located.config_file),
            organization=header_value("OPENAI_ORGANIZATION", env.openai_organization),
            project=header_value("OPENAI_PROJECT", env.openai_project),
        ),
    )
    return AuthService(
        store=store,
        clock=clock or SystemClock(),
        endpoint=endpoint or http_endpoint(env),
        options=options,
        callback_listener=lambda: callback_server(env),
        shelf=shelf,
        accounts_lookup=account_lookup(env),
    )


def account_lookup(environ: Environ) -> AccountLookup:
    """Whoami at ``CODEX_AUTHAPI_BASE_URL`` (checked when first asked); aiohttp loads then."""
    env = settings_of(environ)
    return LazyAccountLookup(base_url=env.authapi_base_url, ca_file=env.ca_file)
