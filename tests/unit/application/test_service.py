"""The application service against the memory store and a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest

from codex_login.adapters.account_shelf import MemoryShelf
from codex_login.adapters.memory_store import MemoryCredentialStore
from codex_login.application.accounts import commit_login
from codex_login.application.service import AuthService
from codex_login.application.status import ENV_SOURCE
from codex_login.domain.errors import InvalidApiKey, UnsupportedAuthMode
from codex_login.domain.modes import AuthMode, UnsupportedMode
from codex_login.domain.record import CredentialRecord
from codex_login.domain.resolution import ApiKeyAuth, ChatGptAuth
from codex_login.entrypoints.bootstrap import bootstrap
from support.fakes import NOW, FakeClock
from support.records import chatgpt_record


def service(record: CredentialRecord | None = None, env_api_key: str | None = None) -> AuthService:
    return bootstrap(
        store=MemoryCredentialStore(record),
        clock=FakeClock(),
        environ={"OPENAI_API_KEY": env_api_key} if env_api_key else {},
    )


def test_api_key_login_stores_an_apikey_record() -> None:
    auth = service()
    auth.login_with_api_key("  sk-test-123456789\n")
    assert auth.store.load() is not None
    assert auth.credentials() == ApiKeyAuth("sk-test-123456789")
    loaded = auth.store.load()
    assert loaded is not None
    assert loaded.record == CredentialRecord(
        auth_mode=AuthMode.API_KEY, openai_api_key="sk-test-123456789"
    )


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "empty"),
        ("  \n\t", "empty"),
        ("sk-one\nsk-two", "line breaks"),
        ("sk one", "spaces"),
        ("sk-\x07bell", "control characters"),
    ],
)
def test_unusable_keys_are_refused_and_nothing_is_written(key: str, problem: str) -> None:
    store = MemoryCredentialStore()
    auth = bootstrap(store=store, environ={})
    with pytest.raises(InvalidApiKey, match=problem):
        auth.login_with_api_key(key)
    assert store.saved == []


def test_api_key_login_replaces_chatgpt_tokens_and_keeps_unknown_fields() -> None:
    previous = chatgpt_record()
    store = MemoryCredentialStore(
        CredentialRecord(tokens=previous.tokens, extra={"installation": "abc"})
    )
    bootstrap(store=store, environ={}).login_with_api_key("sk-new")
    assert store.saved[-1] == CredentialRecord(
        auth_mode=AuthMode.API_KEY, openai_api_key="sk-new", extra={"installation": "abc"}
    )


def test_status_of_an_api_key_login() -> None:
    status = service(CredentialRecord(openai_api_key="sk-test-123456789")).status()
    assert status is not None
    assert status.mode is AuthMode.API_KEY
    assert status.masked_api_key == "sk-test-***56789"
    assert status.source == "memory"


def test_status_of_a_chatgpt_login() -> None:
    record = chatgpt_record(plan="plus", expires_at=NOW + timedelta(minutes=4))
    status = service(record).status()
    assert status is not None
    assert status.mode is AuthMode.CHATGPT
    assert (status.email, status.plan, status.account_id) == ("user@example.com", "plus", "acc-123")
    assert status.last_refresh == NOW
    assert status.access_token_expires_at is not None
    assert status.access_token_expires_at == (NOW + timedelta(minutes=4)).replace(microsecond=0)
    assert status.refresh_due is True
    assert status.masked_api_key is None


def test_not_logged_in() -> None:
    assert service().status() is None
    assert service().credentials() is None


def test_environment_key_counts_only_when_nothing_is_stored() -> None:
    assert service(env_api_key="sk-env-key-0123456789").credentials() == ApiKeyAuth(
        "sk-env-key-0123456789"
    )
    stored = service(chatgpt_record(), env_api_key="sk-env-key-0123456789")
    assert isinstance(stored.credentials(), ChatGptAuth)
    status = service(env_api_key="sk-env-key-0123456789").status()
    assert status is not None
    assert status.source == ENV_SOURCE


def test_an_unsupported_mode_is_described_never_used_nor_rewritten() -> None:
    store = MemoryCredentialStore(CredentialRecord(auth_mode=UnsupportedMode("futureMode")))
    auth = bootstrap(store=store, environ={"OPENAI_API_KEY": "sk-env"})
    status = auth.status()
    assert status is not None
    assert status.mode == UnsupportedMode("futureMode")
    assert status.foreign == 'auth_mode "futureMode"'
    with pytest.raises(UnsupportedAuthMode, match="futureMode"):
        auth.fresh()
    assert store.saved == []


def test_logout_deletes_and_reports_whether_anything_was_there() -> None:
    auth = service(CredentialRecord(openai_api_key="sk"))
    assert asyncio.run(auth.logout(revoke=False)).removed is True
    assert asyncio.run(auth.logout(revoke=False)).removed is False
    assert auth.status() is None


def test_repr_never_shows_secrets() -> None:
    record = chatgpt_record(refresh="refresh-secret-xyz")
    auth = service(record, env_api_key="sk-env-secret")
    assert record.tokens is not None
    for text in (repr(auth), repr(record), repr(auth.credentials())):
        assert "sk-env-secret" not in text
        assert record.tokens.refresh_token not in text
        assert record.tokens.access_token not in text
        assert record.tokens.id_token.raw not in text


def test_one_account_s_service_keeps_the_options_but_not_the_environment_keys() -> None:
    service = bootstrap(
        store=MemoryCredentialStore(),
        shelf=MemoryShelf(),
        clock=FakeClock(),
        environ={"OPENAI_API_KEY": "sk-env-key-0123456789", "CODEX_API_KEY": "sk-override-0123"},
        preferred=AuthMode.API_KEY,
    )
    commit_login(service.store, service.book, lambda _: chatgpt_record())
    [account] = service.accounts()
    one = service.for_account(account.name)
    assert one.options == attrs.evolve(service.options, env_api_key=None, override_api_key=None)
    assert isinstance(one.credentials(), ChatGptAuth)
    assert service.credentials() == ApiKeyAuth("sk-override-0123")  # CODEX_API_KEY comes first
