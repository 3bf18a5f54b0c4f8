"""Refresh storms against real peers: the oidc-provider issuer, and the Codex CLI refreshing too."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interop.peers.browser_login import login_with_browser
from interop.peers.codex_peer import (
    AppServerError,
    LoopbackServer,
    chatgpt_backend_routes,
    refresh_with_app_server,
)
from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from support.cli import CLI, clean_env, run_all
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import issuer_env, write_login
from support.tokens import access_token

pytestmark = pytest.mark.interop


def expire_access_token(home: Path) -> None:
    """Keep the real refresh token; make the access token look expired."""
    document = json.loads((home / "auth.json").read_bytes())
    document["tokens"]["access_token"] = access_token(datetime.now(UTC) - timedelta(minutes=1))
    (home / "auth.json").write_text(json.dumps(document, indent=2))


def is_refresh(event: Event) -> bool:
    return event.get("grant_type") == "refresh_token"


@pytest.mark.skipif(
    issuer_unavailable_reason() is not None, reason=issuer_unavailable_reason() or ""
)
def test_a_storm_against_oidc_provider_refreshes_once(tmp_path: Path) -> None:
    home = tmp_path / "codex"
    with OidcIssuer() as issuer:
        assert login_with_browser(home, issuer).returncode == 0
        expire_access_token(home)
        env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer)
        results = run_all("token", count=16, env=env)
        assert [r.stderr for r in results if r.returncode != 0] == []
        assert len({r.stdout for r in results}) == 1
        # The stored refresh token still works: one more forced refresh succeeds.
        expire_access_token(home)
        again = subprocess.run(
            [str(CLI), "token"], env=env, capture_output=True, text=True, check=False
        )
        assert again.returncode == 0, again.stderr
        refreshes = issuer.wait_for_count(
            lambda e: e.get("event") == "grant.success" and is_refresh(e), 2
        )
        assert len(refreshes) == 2  # one for the storm of 16, one for the check
        assert issuer.events("grant.error") == []
        assert issuer.events("grant.revoked") == []


def test_a_mixed_storm_with_the_codex_cli(tmp_path: Path, codex: Path) -> None:
    """Codex posts refreshes without holding a lock, so a mixed storm can spend a token twice.

    What we guarantee is on our side: none of our processes ever posts a refresh
    token twice, none crashes, and the file is never corrupted. The outcome is
    printed (pytest -s) so that it can be reported as measured.
    """
    home = tmp_path / "codex"
    with (
        running_issuer(FakeIssuer()) as issuer,
        LoopbackServer(chatgpt_backend_routes("acc-123")) as backend,
    ):
        first = issuer.new_refresh_token()
        write_login(home, first, expires_in=timedelta(minutes=-1))
        codex_errors: list[str] = []

        def codex_refresh() -> None:
            try:
                refresh_with_app_server(
                    codex, home, refresh_url=f"{issuer.url}/oauth/token", base_url=backend.url
                )
            except AppServerError as exc:
                codex_errors.append(str(exc).splitlines()[0])

        threads = [threading.Thread(target=codex_refresh) for _ in range(4)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        ours = run_all("token", count=12, env=issuer_env(home, issuer))
        for thread in threads:
            thread.join(timeout=120)
        elapsed = time.monotonic() - started

    posts = issuer.posts("refresh_token")
    our_posts = [p.json["refresh_token"] for p in posts if "refresh_reason" not in p.json]
    codex_posts = [p.json["refresh_token"] for p in posts if "refresh_reason" in p.json]
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    failures = [r.stderr.strip() for r in ours if r.returncode != 0]
    session_alive = issuer.refresh_token_works(document["tokens"]["refresh_token"])
    print(
        f"\nmixed storm: {len(posts)} refresh requests ({len(our_posts)} ours, "
        f"{len(codex_posts)} Codex), {len(failures)}/12 of ours failed, "
        f"Codex errors {len(codex_errors)}/4, session alive afterwards: {session_alive}, "
        f"{elapsed:.1f} s"
    )
    assert len(our_posts) == len(set(our_posts)), "we posted a refresh token twice"
    assert all("Traceback" not in r.stderr for r in ours)
    assert all(len(message.splitlines()) == 1 for message in failures)
    for failure in failures:
        assert "run `codex-login login`" in failure
