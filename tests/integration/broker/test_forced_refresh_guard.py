"""A burst of forced refreshes costs one refresh at the issuer, not one per request.

The attack: an allowed client of the broker posts ``/v1/token/refresh`` in a loop,
each time with the token it was just given, and the issuer rotates the login a
hundred times in a second; an HTTP client behind a server that refuses every token
does the same through its 401 retry. Tokens younger than
``min_token_age_for_forced_refresh`` are answered as they are.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import requests

from codex_login.adapters.file_store import FileCredentialStore
from codex_login.domain.refresh_policy import MIN_TOKEN_AGE_FOR_FORCED_REFRESH
from codex_login.entrypoints.embedding import CodexAuth
from codex_login.entrypoints.httpx_auth import CodexHttpxAuth
from codex_login.entrypoints.requests_auth import CodexRequestsAuth
from codex_login.testing.clock import SettableClock
from support.broker import running_broker, unix_request
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored, write_login
from support.loopback_api import WAIT, LoopbackApi, serving

WINDOW = MIN_TOKEN_AGE_FOR_FORCED_REFRESH
BURST = 100
# httpx.Client() loads the CA bundle into a new SSL context each time (45 ms here, 100
# clients a burst); the burst's clients share this one, as loaded (the API is plain http).
VERIFY = ssl.create_default_context()


@pytest.fixture
def home(tmp_path: Path, issuer: FakeIssuer) -> Path:
    """A login refreshed long ago (its last_refresh is in the past, its token has no iat)."""
    home = tmp_path / "codex"
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=2), issuer=issuer.url)
    home.chmod(0o700)
    return home


def test_a_burst_through_the_broker_refreshes_once(home: Path, issuer: FakeIssuer) -> None:
    with running_broker(home, env=issuer_env(home, issuer)) as broker:
        assert broker.socket is not None
        token = stored(home)["tokens"]["access_token"]
        answered: list[str] = []
        started = time.monotonic()
        for _ in range(BURST):
            body = json.dumps({"stale": token}).encode()
            answer = unix_request(broker.socket, "POST", "/v1/token/refresh", body=body)
            if answer.status != 200:  # a per-client rate limit may refuse some: not a refresh
                continue
            token = answer.json()["access_token"]
            answered.append(token)
        elapsed = time.monotonic() - started
    refreshes = len(issuer.posts("refresh_token"))
    # One refresh per window the burst lasted: one, unless this machine took over 5 s.
    assert 1 <= refreshes <= 1 + int(elapsed / WINDOW.total_seconds()), elapsed
    assert answered[0] == answered[-1] or refreshes > 1
    assert answered[-1] == stored(home)["tokens"]["access_token"]


def send_with_httpx(auth: CodexAuth, url: str) -> int:
    with httpx.Client(
        auth=CodexHttpxAuth(auth), trust_env=False, timeout=WAIT, verify=VERIFY
    ) as client:
        return client.get(url).status_code


def send_with_requests(auth: CodexAuth, url: str) -> int:
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, auth=CodexRequestsAuth(auth), timeout=WAIT).status_code


@pytest.mark.parametrize("send", [send_with_httpx, send_with_requests], ids=["httpx", "requests"])
def test_a_burst_of_401_retries_refreshes_once_per_window(
    home: Path, issuer: FakeIssuer, send: Callable[[CodexAuth, str], int]
) -> None:
    clock = SettableClock(datetime.now(UTC))  # the issuer's tokens are dated by the wall clock
    with (
        serving(LoopbackApi()) as api,
        CodexAuth(
            store=FileCredentialStore(home), issuer=issuer.url, environ={}, clock=clock
        ) as auth,
    ):
        api.refuse_all = True  # every token is refused: each request retries once after a 401
        statuses = [send(auth, f"{api.url}/v1/models") for _ in range(BURST)]
        assert statuses == [401] * BURST  # the caller sees the server's answer, as before
        assert len(issuer.posts("refresh_token")) == 1
        # The first request was retried with the new token; the others were answered by
        # the server at once: a retry with the token just refused would be refused again.
        assert len(api.seen) == BURST + 1
        clock.set(datetime.now(UTC) + 2 * WINDOW)  # time passes: the token is no longer new
        assert send(auth, f"{api.url}/v1/models") == 401
    assert len(issuer.posts("refresh_token")) == 2
