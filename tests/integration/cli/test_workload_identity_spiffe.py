"""Workload identity from SPIFFE: a JWT-SVID fetched from the Workload API at each exchange.

Against the testing kit's fake Workload API (a real grpcio server on a unix socket) and
its fake issuer (a real loopback socket); what the Codex CLI 0.171 sends to the same
fake is in tests/interop/test_codex_spiffe.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from codex_login import CodexAuth
from codex_login.adapters.spiffe_workload_api import METHOD
from codex_login.domain.workload_identity import JwtSvid
from codex_login.testing import SettableClock
from codex_login.testing.issuer.values import JWT_BEARER_GRANT, WorkloadRule
from codex_login.testing.spiffe import FakeWorkloadApi, running_workload_api
from support.broker import running_broker
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import FakeIssuer

RULE = "idpm_rule_spiffe"
AUDIENCE = "https://auth.openai.com"
CI_ID = "spiffe://example.org/ci"


@pytest.fixture
def api() -> Iterator[FakeWorkloadApi]:
    with running_workload_api(FakeWorkloadApi(spiffe_ids=[CI_ID])) as api:
        yield api


@pytest.fixture
def rule(issuer: FakeIssuer) -> WorkloadRule:
    return issuer.trust_workload(RULE, WorkloadRule(subject=CI_ID))


def spiffe_environ(api: FakeWorkloadApi, **more: str) -> dict[str, str]:
    return {
        "OPENAI_FEDERATION_RULE_ID": RULE,
        "OPENAI_IDENTITY_TOKEN_SOURCE": "spiffe",
        "SPIFFE_ENDPOINT_SOCKET": api.endpoint,
        "OPENAI_SPIFFE_AUDIENCE": AUDIENCE,
        **more,
    }


def spiffe_env(issuer: FakeIssuer, home: Path, api: FakeWorkloadApi, **more: str) -> dict[str, str]:
    return clean_env(home, CODEX_LOGIN_ISSUER=issuer.url, **spiffe_environ(api, **more))


def test_token_exchanges_the_jwt_svid_it_fetched_and_keeps_nothing(
    issuer: FakeIssuer, rule: WorkloadRule, api: FakeWorkloadApi, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    result = run_in_process("token", "--json", env=spiffe_env(issuer, home, api))
    assert result.returncode == 0, result.stderr
    (fetch,) = api.requests
    assert fetch.audience == (AUDIENCE,)
    assert fetch.spiffe_id == ""  # none asked for: the workload's one identity
    assert fetch.security_header == "true"  # the Workload API specification's header
    (post,) = issuer.posts(JWT_BEARER_GRANT)
    assert list(post.form.items()) == [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", api.issued[0]),
        ("federation_rule_id", RULE),
    ]
    document = json.loads(result.stdout)
    assert document["account_id"] == rule.account_id
    assert not home.exists() or not any(home.iterdir())


def test_the_spiffe_id_is_asked_for_as_configured(
    issuer: FakeIssuer, rule: WorkloadRule, api: FakeWorkloadApi, tmp_path: Path
) -> None:
    api.spiffe_ids.append("spiffe://example.org/other")  # the workload has two identities
    env = spiffe_env(issuer, tmp_path, api, OPENAI_SPIFFE_ID=CI_ID)
    result = run_in_process("token", env=env)
    assert result.returncode == 0, result.stderr
    (fetch,) = api.requests
    assert fetch.spiffe_id == CI_ID
    assert issuer.posts(JWT_BEARER_GRANT)[0].form["assertion"] == api.issued[0]


def test_the_jwt_svid_is_fetched_again_at_each_exchange(
    issuer: FakeIssuer, rule: WorkloadRule, api: FakeWorkloadApi, tmp_path: Path
) -> None:
    clock = SettableClock()
    issuer.clock = clock
    issuer.access_ttl = timedelta(hours=1)
    api.now = lambda: clock.now().timestamp()
    environ = {"CODEX_HOME": str(tmp_path), **spiffe_environ(api)}
    with CodexAuth(issuer=issuer.url, environ=environ, clock=clock) as auth:
        first = auth.get_token()
        clock.advance(timedelta(minutes=50))
        assert auth.get_token() == first  # not due: neither a fetch nor an exchange
        assert len(api.requests) == 1
        clock.advance(timedelta(minutes=6))  # due
        second = auth.get_token()
    assert second != first
    assert len(api.requests) == 2
    assert len(set(api.issued)) == 2
    posts = issuer.posts(JWT_BEARER_GRANT)
    assert [post.form["assertion"] for post in posts] == api.issued


def test_the_fake_refuses_a_request_without_the_security_header(api: FakeWorkloadApi) -> None:
    """The header is what a SPIRE agent checks first; the fake checks it too, so the
    tests above would fail without it."""
    import grpc  # noqa: PLC0415

    with grpc.insecure_channel(f"unix:{api.socket}") as channel:
        fetch = channel.unary_unary(METHOD)
        with pytest.raises(grpc.RpcError) as raised:
            fetch(b"\x0a\x03aud", timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert api.requests[0].security_header is None
    assert api.issued == []


def test_the_real_cli_fetches_and_exchanges_in_a_child_process(
    issuer: FakeIssuer, rule: WorkloadRule, api: FakeWorkloadApi, tmp_path: Path
) -> None:
    result = run_cli("token", env=spiffe_env(issuer, tmp_path / "home", api))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nothing from grpcio's own logging
    assert len(api.requests) == 1
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1


def one_line_failure(result: object) -> str:
    stdout, stderr, code = (getattr(result, name) for name in ("stdout", "stderr", "returncode"))
    assert code == 1, stderr
    assert stdout == ""
    (line,) = stderr.splitlines()
    return str(line)


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            {"failure": "PERMISSION_DENIED"},
            "rejected the request with gRPC status PERMISSION_DENIED",
        ),
        ({"failure": "UNAVAILABLE"}, "is unavailable or timed out"),
        ({"answer": []}, "returned no JWT-SVID"),
        (
            {"answer": [JwtSvid(CI_ID, "a.b.c"), JwtSvid(CI_ID, "d.e.f")]},
            "returned 2 JWT-SVIDs; set OPENAI_SPIFFE_ID",
        ),
        ({"answer": [JwtSvid(CI_ID, "not-a-jwt")]}, "JWT-SVID from the SPIFFE Workload API is"),
    ],
)
@pytest.mark.usefixtures("rule")
def test_a_workload_api_failure_is_one_line_and_no_exchange(
    issuer: FakeIssuer,
    api: FakeWorkloadApi,
    tmp_path: Path,
    script: dict[str, object],
    message: str,
) -> None:
    for name, value in script.items():
        setattr(api, name, value)
    line = one_line_failure(run_in_process("token", env=spiffe_env(issuer, tmp_path, api)))
    assert message in line
    assert issuer.posts(JWT_BEARER_GRANT) == []


def test_an_unreachable_socket_is_a_try_again_line(
    issuer: FakeIssuer, rule: WorkloadRule, tmp_path: Path
) -> None:
    env = clean_env(
        tmp_path,
        CODEX_LOGIN_ISSUER=issuer.url,
        OPENAI_FEDERATION_RULE_ID=RULE,
        OPENAI_IDENTITY_TOKEN_SOURCE="spiffe",
        SPIFFE_ENDPOINT_SOCKET=f"unix://{tmp_path}/no-agent.sock",
        OPENAI_SPIFFE_AUDIENCE=AUDIENCE,
    )
    result = run_in_process("token", "--json", env=env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert f"unix:{tmp_path}/no-agent.sock is unavailable or timed out" in line
    assert json.loads(result.stdout)["error"]["code"] == "unavailable"


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"SPIFFE_ENDPOINT_SOCKET": ""}, "workload identity requires SPIFFE_ENDPOINT_SOCKET"),
        ({"OPENAI_SPIFFE_AUDIENCE": ""}, "workload identity requires OPENAI_SPIFFE_AUDIENCE"),
        ({"OPENAI_IDENTITY_TOKEN_FILE": "/run/token"}, "cannot also set OPENAI_IDENTITY_TOKEN"),
        ({"OPENAI_IDENTITY_TOKEN_SOURCE": "file"}, "require OPENAI_IDENTITY_TOKEN_SOURCE=spiffe"),
        ({"OPENAI_FEDERATION_RULE_ID": ""}, "workload identity requires OPENAI_FEDERATION_RULE_ID"),
        ({"SPIFFE_ENDPOINT_SOCKET": "/run/agent.sock"}, "absolute unix: socket URI"),
    ],
)
def test_a_partial_configuration_is_an_error_not_another_login(
    issuer: FakeIssuer, api: FakeWorkloadApi, tmp_path: Path, more: dict[str, str], message: str
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    from codex_login.stores import FileCredentialStore  # noqa: PLC0415

    FileCredentialStore(home).save(issuer.login_record())  # a usable stored login
    env = {**spiffe_env(issuer, home, api), **more}
    env = {name: value for name, value in env.items() if value}
    assert message in one_line_failure(run_in_process("token", env=env))
    assert api.requests == []


def test_without_the_extra_the_error_names_it(
    issuer: FakeIssuer, rule: WorkloadRule, api: FakeWorkloadApi, tmp_path: Path
) -> None:
    code = (
        "import sys; sys.modules['grpc'] = None\n"  # as if grpcio were not installed
        "from codex_login.entrypoints.cli import main\n"
        "raise SystemExit(main(['token']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=spiffe_env(issuer, tmp_path, api),
        timeout=60,
        check=False,
    )
    line = one_line_failure(result)
    assert "pip install 'codex-login[spiffe]'" in line
    assert "pip install '.[spiffe]'" in line
    assert api.requests == []


def test_the_broker_fetches_and_exchanges_once_for_every_job_step(
    issuer: FakeIssuer, rule: WorkloadRule, api: FakeWorkloadApi, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    home.mkdir(mode=0o700)
    with running_broker(home, env=spiffe_env(issuer, home, api)) as broker:
        assert broker.socket is not None
        steps = [
            run_cli("token", "--broker", str(broker.socket), env=clean_env(home)) for _ in range(3)
        ]
    assert [step.returncode for step in steps] == [0, 0, 0], [s.stderr for s in steps]
    assert len({step.stdout for step in steps}) == 1
    assert len(api.requests) == 1
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1
