"""`doctor`'s wiring: reads what each check needs through the adapters, read-only, and
hands it to the checks (``entrypoints/doctor_checks.py``). Nothing here writes, locks, refreshes
or, without ``online``, touches the network (a configured broker is on this machine)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from codex_login.adapters.clock import SystemClock
from codex_login.adapters.codex_config import (
    credentials_store,
    load_login_policy,
    secret_auth_storage,
)
from codex_login.adapters.file_store import FileCredentialStore
from codex_login.adapters.home_inspection import held_locks, leftover_temp_files, path_problems
from codex_login.adapters.owned_paths import check_home, owners_from
from codex_login.domain.errors import CodexLoginError, ConfigurationError
from codex_login.domain.issuer import IssuerConfig
from codex_login.domain.record import CredentialRecord
from codex_login.entrypoints import doctor_checks as doctor
from codex_login.entrypoints.bootstrap import (
    broker_address,
    broker_client,
    issuer_from,
    make_store,
    store_kind,
    workload_identity_from,
)
from codex_login.entrypoints.doctor_checks import Check, Environment, Held, StoreChoice
from codex_login.entrypoints.remedies import remedy
from codex_login.entrypoints.settings import Settings

if TYPE_CHECKING:
    from codex_login.domain.ports import CredentialStore

BROKER_TIMEOUT = 2.0  # seconds: a broker on this machine answers at once or not at all


def diagnose(settings: Settings, *, online: bool = False) -> list[Check]:
    """Every check, in the order a person debugging reads them."""
    home = settings.home
    try:
        check_home(home)
    except ConfigurationError as exc:  # nothing else can be read: say only this
        return [doctor.home_check(str(exc))]
    owners = owners_from(settings.trust_owner)
    environment = _environment(settings)
    choice, store_problem = _store_choice(settings)
    checks = [_store_check(choice, store_problem)]
    held = _holdings(settings, choice) if choice is not None else []
    checks.append(doctor.holdings_check(held, environment))
    active = held[0] if held else None
    record = active.record if active else None
    checks.append(doctor.environment_check(environment, stored=record is not None))
    configured = _issuer(settings)
    checks.append(_issuer_check(record, configured))
    checks.append(_policy_check(settings, record, environment, active))
    checks.append(doctor.expiry_check(record, SystemClock().now()))
    made = os.path.lexists(home)  # reachable: check_home said so
    checks.append(doctor.files_check(path_problems(home, owners), home_exists=made))
    checks.append(doctor.temp_files_check(leftover_temp_files(home, owners)))
    checks.append(doctor.locks_check(held_locks(home) + _leases(settings, choice)))
    checks.append(_broker_check(settings))
    if online:
        checks.append(_metadata_check(settings, record, configured))
    return checks


def _environment(settings: Settings) -> Environment:
    problem = None
    try:
        identity = workload_identity_from(settings) is not None
    except CodexLoginError as exc:
        identity, problem = True, str(exc)
    return Environment(
        codex_api_key=(settings.codex_api_key or "").strip() or None,
        codex_access_token=bool((settings.codex_access_token or "").strip()),
        openai_api_key=settings.openai_api_key,
        workload_identity=identity,
        workload_problem=problem,
    )


def _store_choice(settings: Settings) -> tuple[StoreChoice | None, str | None]:
    config = settings.config_file
    try:
        named = credentials_store(config)
        ours = store_kind(settings, config)
    except CodexLoginError as exc:
        return None, str(exc)
    if settings.store:
        ours_why = f"CODEX_LOGIN_STORE={settings.store}"
    elif named:
        ours_why = f"cli_auth_credentials_store in {config}"
    else:
        ours_why = "the default"
    if ours in ("keyring", "auto"):
        layout = "encrypted layout" if secret_auth_storage(config) else "the record in the keyring"
        ours_why += f"; {layout}"
    codex_why = f"cli_auth_credentials_store in {config}" if named else "the default"
    return StoreChoice(ours, ours_why, named or "file", codex_why), None


def _store_check(choice: StoreChoice | None, problem: str | None) -> Check:
    if choice is None:
        return Check(
            "store", False, problem or "no store", "correct config.toml or CODEX_LOGIN_STORE"
        )
    return doctor.store_check(choice)


def _holdings(settings: Settings, choice: StoreChoice) -> list[Held]:
    """The active store first, then auth.json and the keyring when they are others."""
    home = settings.home
    owners = owners_from(settings.trust_owner)
    held = [_read(lambda: make_store(choice.ours, home, environ=settings)[0], choice.ours)]
    if choice.ours != "file":
        held.append(_read(lambda: FileCredentialStore(home, owners=owners), "file"))
    if choice.ours not in ("keyring", "auto") and _keyring_probed():
        try:
            probed = _read(lambda: make_store("keyring", home, environ=settings)[0], "keyring")
        except Exception:  # not configured: a broken backend (any error) is no keyring here
            return held
        if probed.problem is None:  # not configured: a keyring that cannot answer is no news
            held.append(probed)
    return held


def _leases(settings: Settings, choice: StoreChoice | None) -> list[tuple[str, str | None]]:
    """A Redis store's writers' lease, when held: a fleet's lock is there, not in a file."""
    if choice is None or choice.ours != "redis":
        return []
    from codex_login.adapters.redis.store import RedisCredentialStore  # noqa: PLC0415

    try:
        store = make_store("redis", settings.home, environ=settings)[0]
    except CodexLoginError:  # the stored-logins check says why
        return []
    if not isinstance(store, RedisCredentialStore):
        return []
    try:
        who = store.lease_holder()
    except CodexLoginError:  # the stored-logins check says why Redis cannot be read
        return []
    finally:
        store.close()
    return [] if who is None else [(f"the lease of {store.location}", who)]


def _keyring_probed() -> bool:
    """Only when the keyring extra is installed and an OS keyring answers."""
    if importlib.util.find_spec("keyring") is None:
        return False
    from codex_login.adapters.keyring_store import system_keyring  # noqa: PLC0415

    try:
        return system_keyring() is not None
    except Exception:  # a broken keyring backend is no keyring to probe
        return False


def _read(build: Callable[[], CredentialStore], kind: str) -> Held:
    try:
        store = build()
    except CodexLoginError as exc:
        return Held(kind, problem=str(exc))
    try:
        loaded = store.load()
    except CodexLoginError as exc:
        return Held(store.location, problem=str(exc), fix=remedy(exc))
    return Held(store.location, loaded.record if loaded else None)


def _issuer(settings: Settings) -> IssuerConfig | str:
    try:
        return issuer_from(settings)
    except CodexLoginError as exc:
        return str(exc)


def _issuer_check(record: CredentialRecord | None, configured: IssuerConfig | str) -> Check:
    if isinstance(configured, str):
        return Check("issuer", False, configured, "correct CODEX_LOGIN_ISSUER and its settings")
    return doctor.issuer_check(record, configured)


def _policy_check(
    settings: Settings, record: CredentialRecord | None, environment: Environment, held: Held | None
) -> Check:
    try:
        policy = load_login_policy(
            settings.config_file,
            settings.requirements_file,
            requirements_named=settings.requirements_named,
        )
    except CodexLoginError as exc:
        return Check("login policy", False, str(exc), "correct config.toml or requirements.toml")
    location = held.location if held else str(settings.home / "auth.json")
    return doctor.policy_check(record, environment, policy, location)


def _broker_check(settings: Settings) -> Check:
    address = broker_address(settings)
    if not address:
        return doctor.broker_check(None, None)
    try:
        broker_client(address, settings, timeout=BROKER_TIMEOUT).health()
    except CodexLoginError as exc:
        return doctor.broker_check(address, str(exc))
    return doctor.broker_check(address, None)


def _metadata_check(
    settings: Settings, record: CredentialRecord | None, configured: IssuerConfig | str
) -> Check:
    from codex_login.adapters.reachability import unreachable  # noqa: PLC0415
    from codex_login.domain.issuer import provenance_of  # noqa: PLC0415

    if isinstance(configured, str):
        return doctor.metadata_check("the issuer", configured)
    issuer = configured
    if record is not None and record.tokens is not None:
        provenance = provenance_of(record.tokens, configured.client_id)
        if provenance is not None:
            issuer = configured.bound_to(provenance)
    url = issuer.discovery_urls[0]
    return doctor.metadata_check(issuer.issuer, unreachable(url, ca_file=settings.ca_file))
