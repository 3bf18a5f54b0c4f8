"""Access tokens (at-…) on the command line: login, refusals, CODEX_ACCESS_TOKEN, policy,
and when whoami (the fake issuer's) is asked."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from codex_login import CodexAuth
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import Failure, FakeIssuer
from support.terminal import at_a_terminal
from support.waiting import wait_until

WHOAMI = "/api/accounts/v1/user-auth-credential/whoami"
WORKSPACE = "ws-enterprise-1"


def env_for(home: Path, issuer: FakeIssuer, **more: str) -> dict[str, str]:
    return clean_env(home, CODEX_AUTHAPI_BASE_URL=issuer.authapi_base_url, **more)


def store_access_token(home: Path, token: str) -> bytes:
    home.mkdir(mode=0o700, exist_ok=True)
    data = json.dumps({"OPENAI_API_KEY": None, "personal_access_token": token}, indent=2).encode()
    (home / "auth.json").write_bytes(data)
    (home / "auth.json").chmod(0o600)
    return data


def unreachable_url() -> str:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/accounts"


def one_line_error(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# -- login --with-access-token -------------------------------------------------------------


def test_login_checks_the_token_at_whoami_and_says_who(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.add_access_token(email="ann@example.com", account_id=WORKSPACE)
    done = run_in_process(
        "login", "--with-access-token", stdin=f"  {token}\n", env=env_for(tmp_path, issuer)
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "Successfully logged in",
        "Logged in as ann@example.com (ChatGPT Enterprise)",
    ]
    [asked] = issuer.requests_to(WHOAMI)
    assert asked.headers["Authorization"] == f"Bearer {token}"
    assert json.loads((tmp_path / "auth.json").read_bytes()) == {
        "OPENAI_API_KEY": None,
        "personal_access_token": token,
    }


@pytest.mark.parametrize(
    ("stdin", "said"),
    [
        (
            "",
            "Error: the access token is empty; pipe it in: printenv CODEX_ACCESS_TOKEN | "
            "codex-login login --with-access-token",
        ),
        (
            "at-one\nat-two\n",
            "Error: the access token contains spaces, line breaks or control "
            "characters; give exactly one token on one line",
        ),
        (
            "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl",
            "Error: this is not an access token (those start with at-)",
        ),
    ],
    ids=["empty", "two lines", "agent identity"],
)
def test_login_refuses_bad_input_before_asking_whoami(
    tmp_path: Path, issuer: FakeIssuer, stdin: str, said: str
) -> None:
    done = run_in_process(
        "login", "--with-access-token", stdin=stdin, env=env_for(tmp_path, issuer)
    )
    assert done.returncode == 1
    assert one_line_error(done.stderr).startswith(said)
    assert issuer.requests_to(WHOAMI) == []
    assert not (tmp_path / "auth.json").exists()


def test_login_with_a_token_whoami_refuses_stores_nothing(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    done = run_in_process(
        "login", "--with-access-token", stdin="at-unknown", env=env_for(tmp_path, issuer)
    )
    assert done.returncode == 1
    line = one_line_error(done.stderr)
    assert "refused the access token (HTTP 401 Unauthorized)" in line
    assert "at-unknown" not in line
    assert not (tmp_path / "auth.json").exists()


def test_login_with_whoami_unreachable_is_a_try_again_failure(tmp_path: Path) -> None:
    env = clean_env(tmp_path, CODEX_AUTHAPI_BASE_URL=unreachable_url())
    done = run_in_process("login", "--with-access-token", stdin="at-test-1", env=env)
    assert done.returncode == 1
    assert "cannot reach http://127.0.0.1:" in one_line_error(done.stderr)
    assert not (tmp_path / "auth.json").exists()


def test_login_refuses_a_plain_http_whoami_off_loopback(tmp_path: Path) -> None:
    env = clean_env(tmp_path, CODEX_AUTHAPI_BASE_URL="http://auth.example.com/api/accounts")
    done = run_in_process("login", "--with-access-token", stdin="at-test-1", env=env)
    assert done.returncode == 1
    assert "CODEX_AUTHAPI_BASE_URL" in one_line_error(done.stderr)


def test_with_access_token_and_with_api_key_are_one_or_the_other(tmp_path: Path) -> None:
    done = run_in_process("login", "--with-access-token", "--with-api-key", home=tmp_path)
    assert done.returncode == 2
    assert "cannot be combined with --with-access-token" in done.stderr


# -- a stored access token -----------------------------------------------------------------


def test_token_alone_does_not_ask_whoami(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.add_access_token()
    store_access_token(tmp_path, token)
    done = run_in_process("token", env=env_for(tmp_path, issuer))
    assert (done.returncode, done.stdout) == (0, f"{token}\n")
    assert issuer.requests_to(WHOAMI) == []


def test_token_json_carries_the_workspace_whoami_names(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    done = run_in_process("token", "--json", env=env_for(tmp_path, issuer))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["mode"], document["account_id"]) == ("chatgpt", WORKSPACE)
    assert document["headers"]["ChatGPT-Account-ID"] == WORKSPACE


def test_whoami_unreachable_fails_what_needs_the_workspace_with_exit_1(tmp_path: Path) -> None:
    store_access_token(tmp_path, "at-test-1")
    env = clean_env(tmp_path, CODEX_AUTHAPI_BASE_URL=unreachable_url())
    for args in (("token", "--json"), ("status",)):
        done = run_cli(*args, env=env)
        assert done.returncode == 1, args
        assert "cannot reach http://127.0.0.1:" in one_line_error(done.stderr)
    assert run_cli("token", env=env).stdout == "at-test-1\n"  # the bearer alone still works


def test_a_token_whoami_refuses_ends_the_session_for_token_json(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    store_access_token(tmp_path, "at-revoked")
    done = run_in_process("token", "--json", env=env_for(tmp_path, issuer))
    assert done.returncode == 4  # a person must sign in
    assert "login --with-access-token" in one_line_error(done.stderr)


def test_whoami_is_asked_once_per_process(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    with CodexAuth(environ=env_for(tmp_path, issuer)) as auth:
        for _ in range(3):
            assert auth.model_api().headers["ChatGPT-Account-ID"] == WORKSPACE
    assert len(issuer.requests_to(WHOAMI)) == 1


# -- CODEX_ACCESS_TOKEN --------------------------------------------------------------------


def test_codex_access_token_is_handed_out_before_the_stored_login(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    stored = store_access_token(tmp_path, "at-stored")
    token = issuer.add_access_token(account_id=WORKSPACE)
    env = env_for(tmp_path, issuer, CODEX_ACCESS_TOKEN=f" {token}\n")
    assert run_in_process("token", env=env).stdout == f"{token}\n"
    status = run_in_process("status", env=env)
    assert status.stderr.splitlines()[0] == "Logged in using personal access token"
    assert f"  account id: {WORKSPACE}" in status.stderr.splitlines()
    assert (tmp_path / "auth.json").read_bytes() == stored


def test_codex_access_token_of_an_agent_identity_has_no_bearer(tmp_path: Path) -> None:
    env = clean_env(tmp_path, CODEX_ACCESS_TOKEN="eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    done = run_in_process("token", env=env)
    assert done.returncode == 4
    line = one_line_error(done.stderr)
    # The variable wins over any stored login: the fix is to unset it, not to log in.
    assert line.startswith("Error: CODEX_ACCESS_TOKEN holds an agent-identity token")
    assert "no token to hand out" in line
    assert line.endswith("unset CODEX_ACCESS_TOKEN to use a stored login")


# -- the login policy: an access token is a ChatGPT login (Codex's rule) ---------------------


def test_an_api_only_policy_refuses_a_stored_access_token(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    store_access_token(tmp_path, issuer.add_access_token())
    (tmp_path / "config.toml").write_text('forced_login_method = "api"\n')
    done = run_in_process("token", env=env_for(tmp_path, issuer))
    assert done.returncode == 4
    assert "holds an access token: ChatGPT login is disabled" in one_line_error(done.stderr)
    status = run_in_process("status", env=env_for(tmp_path, issuer))
    assert (status.returncode, status.stderr.splitlines()[0]) == (1, "Not logged in")


def test_a_workspace_policy_checks_the_workspace_whoami_names(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    (tmp_path / "config.toml").write_text('forced_chatgpt_workspace_id = "ws-other"\n')
    refused = run_in_process("token", env=env_for(tmp_path, issuer))
    assert refused.returncode == 4
    assert f"belongs to workspace {WORKSPACE}" in one_line_error(refused.stderr)
    (tmp_path / "config.toml").write_text(f'forced_chatgpt_workspace_id = "{WORKSPACE}"\n')
    assert run_in_process("token", env=env_for(tmp_path, issuer)).stdout == f"{token}\n"


def test_login_refuses_a_token_of_another_workspace(tmp_path: Path, issuer: FakeIssuer) -> None:
    token = issuer.add_access_token(account_id=WORKSPACE)
    tmp_path.joinpath("config.toml").write_text('forced_chatgpt_workspace_id = "ws-other"\n')
    done = run_in_process(
        "login", "--with-access-token", stdin=token, env=env_for(tmp_path, issuer)
    )
    assert done.returncode == 1
    assert "Login is restricted to workspace id(s) ws-other." in one_line_error(done.stderr)
    assert not (tmp_path / "auth.json").exists()


def test_whoami_failures_can_be_scripted_on_the_fake_issuer(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    store_access_token(tmp_path, issuer.add_access_token())
    issuer.failures["whoami"] = Failure(503, "busy")
    done = run_in_process("token", "--json", env=env_for(tmp_path, issuer))
    assert done.returncode == 1  # a later call may succeed
    assert "HTTP 503" in one_line_error(done.stderr)


# -- the broker: the same service path, whoami held for its lifetime --------------------------


def test_the_broker_serves_an_access_token_with_its_workspace(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    from support.broker import running_broker, unix_request  # noqa: PLC0415  (broker tests only)

    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    with running_broker(tmp_path, env=env_for(tmp_path, issuer)) as broker:
        assert broker.socket is not None
        answers = [unix_request(broker.socket) for _ in range(2)]
        sandbox = run_cli("token", "--json", "--broker", str(broker.socket), home=tmp_path)
        status = run_cli("status", env=clean_env(tmp_path, CODEX_LOGIN_BROKER=str(broker.socket)))
    for answer in answers:
        assert answer.status == 200, answer.body
        document = answer.json()
        assert (document["access_token"], document["account_id"]) == (token, WORKSPACE)
        assert document["headers"]["ChatGPT-Account-ID"] == WORKSPACE
    assert json.loads(sandbox.stdout)["headers"]["ChatGPT-Account-ID"] == WORKSPACE
    assert status.stderr.splitlines()[0] == "Logged in using personal access token"
    assert f"  account id: {WORKSPACE}" in status.stderr.splitlines()
    assert len(issuer.requests_to(WHOAMI)) == 1  # held by the broker


def test_the_broker_answers_503_while_whoami_is_unavailable(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    from support.broker import running_broker, unix_request  # noqa: PLC0415  (broker tests only)

    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    issuer.failures["whoami"] = Failure(503, "busy", times=1)
    with running_broker(tmp_path, env=env_for(tmp_path, issuer)) as broker:
        assert broker.socket is not None
        unavailable = unix_request(broker.socket)
        served = unix_request(broker.socket)  # the failure was for one answer only
    assert unavailable.status == 503, unavailable.body
    assert unavailable.header("Retry-After") is not None
    assert served.status == 200, served.body
    assert served.json()["headers"]["ChatGPT-Account-ID"] == WORKSPACE


def test_an_access_token_typed_at_a_terminal_is_hidden_and_stored(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    token = issuer.add_access_token()
    code, shown = at_a_terminal(
        ["login", "--with-access-token"], env_for(tmp_path, issuer), f"{token}\n".encode()
    )
    assert code == 0, shown
    assert "Paste your access token (input is hidden): " in shown
    assert token not in shown
    assert "Successfully logged in" in shown
    assert json.loads((tmp_path / "auth.json").read_text())["personal_access_token"] == token


def test_logout_forgets_an_access_token_login(tmp_path: Path, issuer: FakeIssuer) -> None:
    store_access_token(tmp_path, issuer.add_access_token())
    done = run_in_process("logout", env=env_for(tmp_path, issuer))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "auth.json").exists()
    assert issuer.requests_to("/oauth/revoke") == []  # an access token has nothing to revoke


def test_refresh_says_an_access_token_is_never_refreshed(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    token = issuer.add_access_token()
    stored = store_access_token(tmp_path, token)
    done = run_in_process("refresh", "--print-token", env=env_for(tmp_path, issuer))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "Nothing to refresh: the login is an access token, which is never refreshed"
    ]
    assert done.stdout == f"{token}\n"
    assert (tmp_path / "auth.json").read_bytes() == stored
    assert issuer.requests_to("/oauth/token") == []


def test_the_async_embedding_api_asks_whoami_off_its_loop(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    """Whoami is held at a gate that only a coroutine on the caller's loop opens: a call
    that blocked the loop would wait out the gate's timeout instead."""
    import asyncio  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from codex_login import AsyncCodexAuth  # noqa: PLC0415

    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    gate = threading.Event()
    issuer.gates["whoami"], issuer.gate_timeout = gate, 30.0

    async def main() -> float:
        async with AsyncCodexAuth(environ=env_for(tmp_path, issuer)) as auth:
            started = time.monotonic()
            asking = asyncio.create_task(auth.model_api())
            # The loop runs while whoami is asked; the wait is on a worker thread.
            await asyncio.to_thread(
                wait_until, lambda: issuer.requests_to(WHOAMI), 10, "whoami to be asked"
            )
            gate.set()
            api = await asking
            assert api.headers["ChatGPT-Account-ID"] == WORKSPACE
            return time.monotonic() - started

    assert asyncio.run(main()) < 10


def test_the_proxy_sends_an_access_token_with_its_workspace(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    from support.broker import running_broker, unix_request  # noqa: PLC0415  (broker tests only)
    from support.proxy_upstream import running_upstream  # noqa: PLC0415

    token = issuer.add_access_token(account_id=WORKSPACE)
    store_access_token(tmp_path, token)
    with (
        running_upstream() as upstream,
        running_broker(
            tmp_path, "--upstream", upstream.url, env=env_for(tmp_path, issuer)
        ) as broker,
    ):
        assert broker.socket is not None
        for _ in range(2):
            answer = unix_request(broker.socket, "POST", "/openai/v1/responses", body=b"{}")
            assert answer.status == 200, answer.body
    for seen in upstream.seen:
        assert seen.headers["authorization"] == f"Bearer {token}"
        assert seen.headers["chatgpt-account-id"] == WORKSPACE
    assert len(upstream.seen) == 2
    assert len(issuer.requests_to(WHOAMI)) == 1  # held by the broker


def test_the_proxy_keeps_serving_while_whoami_is_slow(tmp_path: Path, issuer: FakeIssuer) -> None:
    from support.broker import running_broker, unix_request  # noqa: PLC0415  (broker tests only)
    from support.proxy_upstream import running_upstream  # noqa: PLC0415

    store_access_token(tmp_path, issuer.add_access_token(account_id=WORKSPACE))
    issuer.gates["whoami"] = gate = threading.Event()
    env = env_for(tmp_path, issuer)
    with (
        running_upstream() as upstream,
        running_broker(tmp_path, "--upstream", upstream.url, env=env) as broker,
        ThreadPoolExecutor(1) as pool,
    ):
        assert broker.socket is not None
        path = broker.socket
        forwarded = pool.submit(unix_request, path, "POST", "/openai/v1/responses", body=b"{}")
        wait_until(lambda: issuer.requests_to(WHOAMI), what="the proxy to ask whoami")
        # whoami is held: the broker's loop must still answer others meanwhile.
        assert unix_request(path, "GET", "/healthz", timeout=5).status == 200
        assert not forwarded.done()
        gate.set()
        assert forwarded.result(timeout=30).status == 200
    assert [seen.headers["chatgpt-account-id"] for seen in upstream.seen] == [WORKSPACE]
