"""The broker serves a workload identity like any login: on a CI runner it is the point
where one exchange serves every job step (no change to the broker or its proxy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_login.entrypoints.bootstrap import bootstrap
from codex_login.entrypoints.broker import Limits
from codex_login.testing.issuer.values import JWT_BEARER_GRANT, WorkloadRule
from codex_login.testing.tokens import make_jwt
from support.broker import broker_in_thread, running_broker, unix_request
from support.cli import clean_env, run_cli
from support.fake_issuer import FakeIssuer
from support.proxy_upstream import running_upstream

RULE = "idpm_rule_ci"
SUBJECT = "repo:acme/app:ref:refs/heads/main"


@pytest.fixture
def token_file(tmp_path: Path, issuer: FakeIssuer) -> Path:
    issuer.trust_workload(RULE, WorkloadRule(subject=SUBJECT))
    path = tmp_path / "identity-token"
    path.write_text(make_jwt({"sub": SUBJECT}))
    return path


def wi_environ(home: Path, token_file: Path, issuer: FakeIssuer) -> dict[str, str]:
    return clean_env(
        home,
        CODEX_LOGIN_ISSUER=issuer.url,
        OPENAI_FEDERATION_RULE_ID=RULE,
        OPENAI_IDENTITY_TOKEN_FILE=str(token_file),
    )


def test_one_exchange_serves_every_job_step(
    tmp_path: Path, token_file: Path, issuer: FakeIssuer
) -> None:
    home = tmp_path / "codex"
    home.mkdir(mode=0o700)
    with running_broker(home, env=wi_environ(home, token_file, issuer)) as broker:
        assert broker.socket is not None
        steps = [
            run_cli("token", "--broker", str(broker.socket), env=clean_env(home)) for _ in range(3)
        ]
    assert [step.returncode for step in steps] == [0, 0, 0], [s.stderr for s in steps]
    assert len({step.stdout for step in steps}) == 1
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1
    assert sorted(p.name for p in home.iterdir()) == [], "nothing is stored"


def test_the_proxy_sends_the_exchanged_token_and_its_workspace(
    tmp_path: Path, token_file: Path, issuer: FakeIssuer
) -> None:
    environ = wi_environ(tmp_path, token_file, issuer)
    service = bootstrap(environ=environ)
    with (
        running_upstream() as upstream,
        broker_in_thread(
            service,
            tmp_path / "broker.sock",
            upstream=f"{upstream.url}/base",
            limits=Limits(proxy_max_body=1 << 20),
        ) as broker,
    ):
        answer = unix_request(broker.socket, "POST", "/openai/v1/responses", body=b"{}")
        token = unix_request(broker.socket).json()
    assert answer.status == 200, answer.body
    [seen] = upstream.seen
    assert seen.headers["authorization"] == f"Bearer {token['access_token']}"
    assert seen.headers["chatgpt-account-id"] == "ws-ci"
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1
