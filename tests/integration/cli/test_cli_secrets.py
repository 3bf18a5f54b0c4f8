"""Messages that quote the issuer or a stored field never show a stored secret."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from codex_login.testing.issuer.app import IssuerRoutes, issuer_app
from support.cli import run_in_process
from support.fake_issuer import Failure, FakeIssuer, running_issuer
from support.logins import issuer_env, stored, write_login
from support.records import chatgpt_document

REFRESH = "rt-stored-secret-0123456789"
STORED_KEY = "sk-stored-0123456789"
ENV_KEY = "sk-environment-0123456789"


class EchoingRevocation(IssuerRoutes):
    """A revocation endpoint that fails and quotes the token it was sent."""

    async def revoke(self, request: web.Request) -> web.Response:
        recorded = await self.record(request)
        token = recorded.json["token"]
        return web.json_response(
            {"error": "invalid_request", "error_description": f"cannot revoke {token}"},
            status=400,
        )


class EchoingRevoker(FakeIssuer):
    """An issuer whose revocation endpoint fails and quotes the token it was sent."""

    def app(self) -> web.Application:
        return issuer_app(self, EchoingRevocation)


@pytest.mark.parametrize("echoed", ["refresh_token", "access_token", "stored key", "env key"])
def test_an_issuer_error_quoting_a_secret_is_printed_without_it(
    tmp_path: Path, issuer: FakeIssuer, echoed: str
) -> None:
    write_login(tmp_path, REFRESH, expires_in=timedelta(minutes=1))  # due for refresh
    document = stored(tmp_path)
    document["OPENAI_API_KEY"] = STORED_KEY
    (tmp_path / "auth.json").write_text(json.dumps(document))
    secret = {
        "refresh_token": REFRESH,
        "access_token": document["tokens"]["access_token"],
        "stored key": STORED_KEY,
        "env key": ENV_KEY,
    }[echoed]
    issuer.refresh_failure = Failure(
        400,
        json.dumps({"error": "invalid_grant", "error_description": f"{secret} is not valid"}),
    )
    env = {**issuer_env(tmp_path, issuer), "OPENAI_API_KEY": ENV_KEY}
    result = run_in_process("token", env=env)
    assert (result.returncode, result.stdout) == (4, "")  # the session ended: log in again
    assert result.stderr.splitlines() == [
        "Error: the issuer no longer accepts your refresh token "
        "(HTTP 400: invalid_grant: *** is not valid); run `codex-login login` to sign in again"
    ]
    assert secret not in result.stderr


def test_a_stored_field_quoted_in_a_warning_is_printed_without_a_secret(tmp_path: Path) -> None:
    document = chatgpt_document(last_refresh=REFRESH)
    document["tokens"]["refresh_token"] = REFRESH
    (tmp_path / "auth.json").write_text(json.dumps(document))
    result = run_in_process("status", home=tmp_path)
    assert result.returncode == 0
    assert result.stderr.splitlines()[:2] == [
        'Warning: ignoring last_refresh "***": not an RFC 3339 timestamp',
        "Logged in using ChatGPT",
    ]


def test_a_failed_revoke_quoting_the_deleted_token_is_printed_without_it(tmp_path: Path) -> None:
    with running_issuer(EchoingRevoker()) as issuer:
        write_login(tmp_path, REFRESH, expires_in=timedelta(hours=1))
        env = {
            **issuer_env(tmp_path, issuer),
            "CODEX_REVOKE_TOKEN_URL_OVERRIDE": f"{issuer.url}/oauth/revoke",
        }
        result = run_in_process("logout", env=env)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "Warning: could not revoke the login at the issuer: the issuer did not revoke the token "
        "(HTTP 400: invalid_request: cannot revoke ***)",
        "Successfully logged out",
    ]
    assert not (tmp_path / "auth.json").exists()
