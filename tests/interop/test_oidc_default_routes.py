"""codex-login against oidc-provider with its own routes, found only through its metadata.

The server keeps oidc-provider's default routes (`/auth`, `/token`, `/token/revocation`,
`/device/auth`), none of OpenAI's paths: every request lands only if codex-login read the
issuer's discovery document. Refresh and logout run without CODEX_LOGIN_ISSUER, so they
also prove that a login is bound to the issuer recorded in `tokens.oauth_provenance`.
"""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from interop.peers.scripted_browser import approve_device, complete_authorization
from support.cli import clean_env, run_cli, start_device_login, start_until
from support.tokens import access_token

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

# support.cli.AUTHORIZE_URL knows only OpenAI's /oauth/authorize path.
AUTHORIZE_URL = re.compile(r"^(http://127\.0\.0\.1:\d+/\S*\?\S+)$", re.MULTILINE)


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer(default_routes=True, device_interval=1) as running:
        yield running


def stored(home: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((home / "auth.json").read_bytes())
    return document


def grant_event(issuer: OidcIssuer, grant_type: str, *, count: int = 1) -> list[Event]:
    """The `grant.success` events of `grant_type` (a suffix), once there are `count`."""
    return issuer.wait_for_count(
        lambda e: (
            e.get("event") == "grant.success" and str(e.get("grant_type")).endswith(grant_type)
        ),
        count,
    )


def browser_login(home: Path, issuer: OidcIssuer) -> tuple[str, subprocess.CompletedProcess[str]]:
    """`login --no-browser --port 0 --issuer ...`; the URL it printed, and how it ended."""
    child, seen = start_until(
        ["login", "--no-browser", "--port", "0", "--issuer", issuer.issuer],
        clean_env(home, CODEX_LOGIN_CLIENT_ID=issuer.client_id),
        lambda _, seen: AUTHORIZE_URL.search(seen) is not None,
    )
    found = AUTHORIZE_URL.search(seen)
    assert found is not None
    url = found.group(1)
    try:
        complete_authorization(url)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return url, subprocess.CompletedProcess(child.args, child.returncode, stdout, seen + stderr)


def logged_in(home: Path, issuer: OidcIssuer) -> dict[str, Any]:
    _, result = browser_login(home, issuer)
    assert result.returncode == 0, result.stderr
    return stored(home)


def expire_access_token(home: Path) -> None:
    """Keep the real refresh token; make the stored access token look expired."""
    document = stored(home)
    document["tokens"]["access_token"] = access_token(datetime.now(UTC) - timedelta(minutes=1))
    (home / "auth.json").write_text(json.dumps(document, indent=2))


def refresh_token_works(issuer: OidcIssuer, refresh_token: str) -> bool:
    """Whether the token endpoint still accepts `refresh_token` (it rotates it if so)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": issuer.client_id,
    }
    request = urllib.request.Request(
        issuer.token_url, data=urllib.parse.urlencode(form).encode(), method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError as error:
        with error:
            return False


def test_the_discovery_document_lists_oidc_providers_own_routes(issuer: OidcIssuer) -> None:
    """The helper's URLs are the routes the server really announces (none of OpenAI's)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(issuer.discovery_url, timeout=10) as answer:
        metadata = json.loads(answer.read())
    assert metadata["issuer"] == issuer.issuer
    assert (
        metadata["authorization_endpoint"],
        metadata["token_endpoint"],
        metadata["revocation_endpoint"],
        metadata["device_authorization_endpoint"],
    ) == (
        f"{issuer.issuer}/auth",
        f"{issuer.issuer}/token",
        f"{issuer.issuer}/token/revocation",
        f"{issuer.issuer}/device/auth",
    )
    assert (issuer.authorize_url, issuer.token_url, issuer.revoke_url) == (
        metadata["authorization_endpoint"],
        metadata["token_endpoint"],
        metadata["revocation_endpoint"],
    )
    assert issuer.device_authorization_url == metadata["device_authorization_endpoint"]


def test_a_browser_login_uses_the_routes_from_the_metadata(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    home = tmp_path / "codex"
    url, result = browser_login(home, issuer)
    assert result.returncode == 0, result.stderr
    assert "Successfully logged in" in result.stderr
    assert urllib.parse.urlsplit(url).path == "/auth"
    document = stored(home)
    tokens = document["tokens"]
    assert document["auth_mode"] == "chatgpt"
    assert document["OPENAI_API_KEY"].startswith("sk-proj-")  # the exchange at /token too
    assert all(tokens[name] for name in ("id_token", "access_token", "refresh_token"))
    assert tokens["account_id"] == "acc-123"
    assert tokens["oauth_provenance"] == {"issuer": issuer.issuer, "client_id": issuer.client_id}
    (code,) = grant_event(issuer, "authorization_code")
    assert (code["path"], code["client_id"]) == ("/token", issuer.client_id)
    exchange = grant_event(issuer, "token-exchange")
    assert [e["path"] for e in exchange] == ["/token"]
    discovery = issuer.wait_for_event(lambda e: e.get("event") == "discovery")
    assert discovery["path"] == "/.well-known/openid-configuration"
    assert discovery["status"] == 200
    assert issuer.events("grant.error") == []


def test_token_refreshes_at_the_recorded_issuer_without_an_issuer_setting(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    home = tmp_path / "codex"
    before = logged_in(home, issuer)["tokens"]
    expire_access_token(home)
    env = clean_env(home)
    assert not any(key.startswith("CODEX_LOGIN_") for key in env)
    result = run_cli("token", env=env)
    assert result.returncode == 0, result.stderr
    (refresh,) = grant_event(issuer, "refresh_token")
    assert (refresh["path"], refresh["client_id"]) == ("/token", issuer.client_id)
    after = stored(home)["tokens"]
    assert result.stdout.strip() == after["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and stored
    assert after["oauth_provenance"] == before["oauth_provenance"]
    assert issuer.events("grant.error") == []
    saved = issuer.wait_for_event(
        lambda e: e.get("event") == "refresh_token.saved" and e.get("rotations") == 1
    )
    assert saved["grant_id"] == refresh["grant_id"]


def test_logout_revokes_at_the_recorded_issuer_without_an_issuer_setting(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    home = tmp_path / "codex"
    refresh_token = logged_in(home, issuer)["tokens"]["refresh_token"]
    result = run_cli("logout", env=clean_env(home))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "Successfully logged out"
    assert not (home / "auth.json").exists()
    revoked = issuer.wait_for_event(lambda e: e.get("event") == "revocation.success")
    assert revoked == {**revoked, "path": "/token/revocation", "token_type_hint": "refresh_token"}
    grant = issuer.wait_for_event(lambda e: e.get("event") == "grant.revoked")
    assert grant["route"] == "revocation"
    assert issuer.events("revocation.error") == []
    assert not refresh_token_works(issuer, refresh_token)


def test_a_device_login_uses_the_device_route_from_the_metadata(
    tmp_path: Path, issuer: OidcIssuer
) -> None:
    home = tmp_path / "codex"
    env = clean_env(home, CODEX_LOGIN_ISSUER=issuer.issuer, CODEX_LOGIN_CLIENT_ID=issuer.client_id)
    child, page, code, _ = start_device_login(env)
    try:
        assert page == issuer.verification_url
        approve_device(page, code)
        _, rest = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, rest
    started = issuer.wait_for_event(lambda e: e.get("event") == "device_authorization.success")
    assert (started["path"], started["user_code"]) == ("/device/auth", code)
    (success,) = grant_event(issuer, "device_code")
    assert success["path"] == "/token"
    tokens = stored(home)["tokens"]
    assert tokens["refresh_token"]
    assert tokens["oauth_provenance"] == {"issuer": issuer.issuer, "client_id": issuer.client_id}


def test_metadata_naming_another_issuer_is_refused(tmp_path: Path, issuer: OidcIssuer) -> None:
    """Same server, reached as localhost: its metadata says 127.0.0.1, so nothing is sent."""
    home = tmp_path / "codex"
    port = urllib.parse.urlsplit(issuer.issuer).port
    alias = f"http://localhost:{port}"
    result = run_cli(
        "login",
        "--device-auth",
        env=clean_env(home, CODEX_LOGIN_ISSUER=alias, CODEX_LOGIN_CLIENT_ID=issuer.client_id),
        timeout=30,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert issuer.issuer in lines[0]
    assert alias in lines[0]
    discovery = issuer.wait_for_event(lambda e: e.get("event") == "discovery")
    assert discovery["host"] == f"localhost:{port}"
    assert issuer.events("device_authorization.success") == []
    assert issuer.events("grant.success") == []
    assert not (home / "auth.json").exists()
