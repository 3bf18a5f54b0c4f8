"""``token --format exec-credential`` (issue 26, item 2): a Kubernetes ExecCredential,
read back as kubectl's exec credential plugin support (client-go) reads it.

kubectl is not installed here: ``kubectl_reads`` is the part of client-go's
``exec.go`` that matters to the plugin: the apiVersion it asked for, the kind, a token,
and an expirationTimestamp in RFC 3339 (``time.RFC3339``) when there is one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken
from codex_login.entrypoints import documents
from codex_login.entrypoints.bootstrap import bootstrap
from support.broker import broker_in_thread
from support.cli import clean_env, run_in_process
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, write_login
from support.schemas import validated

KEY = "sk-test-exec-credential-0123456789"
V1, V1BETA1 = "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"


def kubectl_reads(stdout: str, asked: str = V1) -> tuple[str, datetime | None]:
    """The token and expiry kubectl takes from a plugin's stdout, or AssertionError where
    it refuses the answer."""
    answer: dict[str, Any] = json.loads(stdout)
    assert answer["apiVersion"] == asked, "plugin returned a version it was not asked for"
    assert answer["kind"] == "ExecCredential"
    status = answer["status"]
    assert status.get("token"), "exec plugin didn't return a token or cert/key pair"
    stamp = status.get("expirationTimestamp")
    expiry = None if stamp is None else datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
    return status["token"], expiry


def exec_credential(stdout: str) -> dict[str, Any]:
    return validated("exec-credential", stdout)


def chatgpt_env(home: Path, issuer: FakeIssuer) -> dict[str, str]:
    write_login(home, issuer.new_refresh_token(), expires_in=timedelta(hours=1), issuer=issuer.url)
    return issuer_env(home, issuer)


def test_an_api_key_has_no_expiration_timestamp(home: Path) -> None:
    (home / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY}))
    result = run_in_process("token", "--format", "exec-credential", home=home)
    assert result.returncode == 0, result.stderr
    assert "expirationTimestamp" not in exec_credential(result.stdout)["status"]
    assert kubectl_reads(result.stdout) == (KEY, None)


def test_a_chatgpt_token_expires_when_its_access_token_does(
    home: Path, codex_fake_issuer: FakeIssuer
) -> None:
    env = chatgpt_env(home, codex_fake_issuer)
    as_json = json.loads(run_in_process("token", "--json", env=env).stdout)
    result = run_in_process("token", "--format", "exec-credential", env=env)
    assert result.returncode == 0, result.stderr
    exec_credential(result.stdout)
    token, expiry = kubectl_reads(result.stdout)
    assert token == as_json["token"]
    assert expiry == datetime.strptime(as_json["expires_at"], "%Y-%m-%dT%H:%M:%S%z")


def test_a_broker_backed_token_is_an_exec_credential(
    tmp_path: Path, home: Path, codex_fake_issuer: FakeIssuer
) -> None:
    chatgpt_env(home, codex_fake_issuer)
    service = bootstrap(codex_home=home, issuer=codex_fake_issuer.url, environ={})
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir(mode=0o700)
    with broker_in_thread(service, tmp_path / "broker.sock") as served:
        env = clean_env(sandbox, CODEX_LOGIN_BROKER=str(served.socket))
        result = run_in_process("token", "--format", "exec-credential", env=env)
    assert result.returncode == 0, result.stderr
    exec_credential(result.stdout)
    assert kubectl_reads(result.stdout)[1] is not None


@pytest.fixture
def api_key_home(home: Path) -> Path:
    (home / "auth.json").write_text(json.dumps({"auth_mode": "apikey", "OPENAI_API_KEY": KEY}))
    return home


@pytest.mark.parametrize(
    ("exec_info", "answered"),
    [
        (
            json.dumps(
                {"apiVersion": V1, "kind": "ExecCredential", "spec": {"interactive": False}}
            ),
            V1,
        ),
        (
            json.dumps(
                {"apiVersion": V1BETA1, "kind": "ExecCredential", "spec": {"interactive": True}}
            ),
            V1BETA1,
        ),
        (json.dumps({"apiVersion": "client.authentication.k8s.io/v9"}), V1),
        ("not json", V1),
        ("[]", V1),
    ],
    ids=["v1", "v1beta1", "unknown", "garbage", "not-an-object"],
)
def test_it_answers_in_the_version_kubectl_asks_for(
    api_key_home: Path, exec_info: str, answered: str
) -> None:
    """KUBERNETES_EXEC_INFO names the apiVersion; ``interactive`` needs nothing: ``token``
    never reads stdin (stdin is closed when kubectl runs a plugin non-interactively)."""
    env = clean_env(api_key_home, KUBERNETES_EXEC_INFO=exec_info)
    result = run_in_process("token", "--format", "exec-credential", env=env, stdin=None)
    assert result.returncode == 0, result.stderr
    exec_credential(result.stdout)
    assert kubectl_reads(result.stdout, asked=answered) == (KEY, None)


def test_format_with_json_is_a_usage_error(api_key_home: Path) -> None:
    result = run_in_process("token", "--format", "exec-credential", "--json", home=api_key_home)
    assert (result.returncode, result.stdout) == (2, "")
    assert "--format and --json" in result.stderr


def test_a_failure_leaves_stdout_empty_for_kubectl(home: Path) -> None:
    """kubectl shows the plugin's stderr and its exit code; stdout is no ExecCredential."""
    result = run_in_process("token", "--format", "exec-credential", home=home)
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr.startswith("Error: not logged in")


def test_the_expiry_is_whole_seconds_never_later_than_the_tokens() -> None:
    expiry = datetime(2030, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC)
    token = AccessToken(AuthMode.CHATGPT, KEY, expiry)
    printed = json.loads(documents.dumps(documents.ExecCredentialDocument.of(token)))
    assert printed == {
        "apiVersion": V1,
        "kind": "ExecCredential",
        "status": {"token": KEY, "expirationTimestamp": "2030-01-02T03:04:05Z"},
    }
