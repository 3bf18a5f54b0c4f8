"""One answer to "did a commit happen?": the store's fingerprint; no public value
carries a refresh token (a real login, a real refresh, against the fake issuer)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs

from codex_login import CodexAuth, LoginOutcome
from codex_login.domain.device import DeviceCode
from codex_login.domain.issuer import DEFAULT_CLIENT_ID
from support.fake_issuer import FakeIssuer
from support.logins import stored, write_login


def log_in(home: Path, issuer: FakeIssuer) -> tuple[LoginOutcome, str]:
    """A device login at ``issuer``: what it returned, and the refresh token it stored."""

    def approve(device: DeviceCode) -> None:
        issuer.approve_device(device.user_code)

    with CodexAuth(
        codex_home=home, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
    ) as auth:
        outcome = auth.login_with_device_code(show=approve)
    return outcome, stored(home)["tokens"]["refresh_token"]


def test_a_login_that_replaces_another_returns_none_of_their_refresh_tokens(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    _, first = log_in(tmp_path, issuer)
    outcome, second = log_in(tmp_path, issuer)  # replaces the first and revokes its token
    assert first != second
    assert not issuer.refresh_token_works(first)  # the revoke still happens, inside the login
    shown = f"{attrs.asdict(outcome)!r} {outcome!r} {outcome!s}"
    for refresh_token in (first, second):
        assert refresh_token not in shown


def test_the_store_fingerprint_is_the_only_sign_of_a_commit(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """No marker beside the store: the service offers none, the manager counts nothing
    publicly; a refresh that commits is seen in the fingerprint."""
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=-1))
    with CodexAuth(
        codex_home=tmp_path, issuer=issuer.url, client_id=DEFAULT_CLIENT_ID, environ={}
    ) as auth:
        service = auth.service
        before = service.store.fingerprint()
        auth.get_token()  # due: refreshed and committed
        assert service.store.fingerprint() != before
        assert not hasattr(service, "login_marker")
        assert not hasattr(service, "manager")  # the auth manager is internal
        manager = service._manager  # made by the refresh above
        assert manager is not None
        assert [name for name in vars(manager) if not name.startswith("_")] == []
