"""One rule chooses the credential: `token` (the auth manager) and `status` agree on it.

They chose in two places, in different code, and disagreed: with CODEX_API_KEY set and
a stored record that cannot be used, `token` sent the key and `status` failed (issue 21).
"""

from __future__ import annotations

import asyncio

import attrs
from hypothesis import given
from hypothesis import strategies as st

from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.auth_manager import AuthManager
from codex_login.application.options import AuthOptions
from codex_login.application.service import AuthService
from codex_login.application.status import get_status
from codex_login.domain.choice import choose_credential
from codex_login.domain.errors import CodexLoginError, CredentialsError, NotLoggedIn
from codex_login.domain.login_policy import LoginPolicy
from codex_login.domain.masking import mask_api_key
from codex_login.domain.modes import AuthMode, UnsupportedMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.refresh_policy import RefreshPolicy
from codex_login.domain.resolution import ApiKeyAuth
from codex_login.testing import strategies
from support.fakes import NOW, FakeClock, FakeTokenEndpoint
from support.records import chatgpt_record

CHATGPT = chatgpt_record()
RECORDS = {
    "nothing": None,
    "empty": CredentialRecord(),
    "api key": CredentialRecord(auth_mode=AuthMode.API_KEY, openai_api_key="sk-stored"),
    "api key, no mode": CredentialRecord(openai_api_key="sk-stored"),
    "chatgpt": CHATGPT,
    "chatgpt and a key": attrs.evolve(CHATGPT, openai_api_key="sk-stored"),
    "chatgpt and a key, no mode": attrs.evolve(CHATGPT, auth_mode=None, openai_api_key="sk-stored"),
    "apikey without a key": CredentialRecord(auth_mode=AuthMode.API_KEY),
    "a newer tool's mode": attrs.evolve(CHATGPT, auth_mode=UnsupportedMode("quantum")),
}
# The workspaces of the records above, and one no record belongs to.
WORKSPACES = st.sampled_from(["acc-123", "ws-other"])
POLICIES = strategies.login_policies(workspaces=WORKSPACES)
# The records above, and any a Codex CLI writes (fresh: no refresh is due at NOW).
STORED = st.sampled_from(list(RECORDS.values())) | strategies.credential_records(
    now=NOW, expired=False, workspaces=st.none() | WORKSPACES
)
KEYS = st.sampled_from([None, ""]) | strategies.api_keys()
ENV_KEYS = st.sampled_from([None, ""]) | strategies.api_keys()

Outcome = tuple[str, object, object]


def token_choice(
    record: CredentialRecord | None,
    override: str | None,
    env_key: str | None,
    preferred: AuthMode,
    policy: LoginPolicy,
) -> Outcome:
    clock = FakeClock()
    manager = AuthManager(
        store=MemoryCredentialStore(record),
        clock=clock,
        endpoint=FakeTokenEndpoint(clock),
        options=AuthOptions(
            env_api_key=env_key, override_api_key=override, preferred=preferred, login_policy=policy
        ),
    )
    try:
        current = asyncio.run(manager.auth())
    except CodexLoginError as exc:
        return ("refused", type(exc), None)
    masked = mask_api_key(current.token) if current.mode is AuthMode.API_KEY else None
    return ("handed out", current.mode, masked)


def status_choice(
    record: CredentialRecord | None,
    override: str | None,
    env_key: str | None,
    preferred: AuthMode,
    policy: LoginPolicy,
) -> Outcome:
    try:
        status = get_status(
            store=MemoryCredentialStore(record),
            clock=FakeClock(),
            options=AuthOptions(
                env_api_key=env_key,
                override_api_key=override,
                preferred=preferred,
                policy=RefreshPolicy(),
                login_policy=policy,
            ),
        )
    except CodexLoginError as exc:
        return ("refused", type(exc), None)
    if status is None:
        return ("refused", NotLoggedIn, None)
    if status.overridden_by is not None:  # the override is handed out, this login described
        assert override
        return ("handed out", AuthMode.API_KEY, mask_api_key(override))
    if status.foreign is not None:  # described, but nothing to hand out
        return ("foreign", status.mode, None)
    masked = status.masked_api_key if status.mode is AuthMode.API_KEY else None
    return ("handed out", status.mode, masked)


def credentials_choice(
    record: CredentialRecord | None,
    override: str | None,
    env_key: str | None,
    preferred: AuthMode,
    policy: LoginPolicy,
) -> Outcome:
    """What ``AuthService.credentials()`` (as stored, no refresh) says would be used."""
    service = AuthService(
        store=MemoryCredentialStore(record),
        clock=FakeClock(),
        endpoint=FakeTokenEndpoint(FakeClock()),
        options=AuthOptions(
            env_api_key=env_key, override_api_key=override, preferred=preferred, login_policy=policy
        ),
    )
    try:
        auth = service.credentials()
    except CodexLoginError as exc:
        return ("refused", type(exc), None)
    if auth is None:
        return ("refused", NotLoggedIn, None)
    if isinstance(auth, ApiKeyAuth):
        return ("handed out", AuthMode.API_KEY, mask_api_key(auth.api_key))
    return ("handed out", AuthMode.CHATGPT, None)


# A stored record, CODEX_API_KEY, OPENAI_API_KEY, the preferred mode and the login policy.
SITUATIONS = (
    STORED,
    KEYS,
    ENV_KEYS,
    st.sampled_from(list(AuthMode)),
    POLICIES,
)


@given(*SITUATIONS)
def test_the_service_s_credentials_are_the_ones_token_hands_out(
    record: CredentialRecord | None,
    override: str | None,
    env_key: str | None,
    preferred: AuthMode,
    policy: LoginPolicy,
) -> None:
    """``credentials()`` follows the same rule as the auth manager: the override first, the
    login policy applied (it used to ignore both)."""
    args = (record, override, env_key, preferred, policy)
    assert credentials_choice(*args) == token_choice(*args)


@given(*SITUATIONS)
def test_token_and_status_choose_the_same_credential(
    record: CredentialRecord | None,
    override: str | None,
    env_key: str | None,
    preferred: AuthMode,
    policy: LoginPolicy,
) -> None:
    args = (record, override, env_key, preferred, policy)
    said, handed = status_choice(*args), token_choice(*args)
    if said[0] == "foreign":  # status describes another tool's login; token has nothing
        assert handed[0] == "refused"
        assert isinstance(handed[1], type)
        assert issubclass(handed[1], CredentialsError)
        return
    assert said == handed


def test_status_reports_the_override_token_sends_over_an_unusable_login() -> None:
    """`token` sends CODEX_API_KEY whatever is stored; `status` failed on the stored record."""
    name = "apikey without a key"
    args = (RECORDS[name], "sk-override-123456", None, AuthMode.CHATGPT, LoginPolicy())
    assert token_choice(*args) == ("handed out", AuthMode.API_KEY, mask_api_key(args[1]))
    status = get_status(
        store=MemoryCredentialStore(RECORDS[name]),
        clock=FakeClock(),
        options=AuthOptions(
            env_api_key=None,
            override_api_key="sk-override-123456",
            preferred=AuthMode.CHATGPT,
            policy=RefreshPolicy(),
        ),
    )
    assert status is not None
    assert (status.mode, status.source) == (AuthMode.API_KEY, "CODEX_API_KEY environment variable")
    [warning] = status.warnings
    assert warning.startswith("the stored login is not used: ")


def test_not_logged_in_names_the_sources_tried_in_order() -> None:
    nowhere = choose_credential(
        override=None,
        record=None,
        env_key=None,
        preferred=AuthMode.CHATGPT,
        policy=LoginPolicy(),
        location="/home/me/.codex/auth.json",
    )
    assert str(nowhere.refusal) == (
        "not logged in: looked for CODEX_API_KEY, /home/me/.codex/auth.json, OPENAI_API_KEY"
    )
    empty = attrs.evolve(nowhere, refusal=None)
    assert empty.usable is None
