"""Workload identity: a CI job signs in with its identity token, no stored secret.

Against the testing kit's fake issuer on a real loopback socket; the identity token
is a real file, rewritten between exchanges as a CI platform rotates it.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from codex_login import CodexAuth
from codex_login.adapters.oauth.workload_identity import read_identity_token
from codex_login.domain.errors import ConfigurationError, WorkloadIdentityChanged
from codex_login.testing import SettableClock
from codex_login.testing.issuer.values import JWT_BEARER_GRANT, Failure, WorkloadRule
from codex_login.testing.tokens import make_jwt
from support.cli import clean_env, run_cli, run_in_process
from support.fake_issuer import FakeIssuer

RULE = "idpm_rule_ci"


def identity_token(subject: str = "repo:acme/app:ref:refs/heads/main", **claims: object) -> str:
    """An OIDC token as a CI platform mints it (the fake does not check its signature)."""
    return make_jwt({"iss": "https://token.actions.example", "sub": subject, **claims})


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "identity" / "token"
    path.parent.mkdir()
    path.write_text(identity_token() + "\n")
    return path


@pytest.fixture
def rule(issuer: FakeIssuer) -> WorkloadRule:
    return issuer.trust_workload(RULE, WorkloadRule(subject="repo:acme/app:ref:refs/heads/main"))


def wi_env(issuer: FakeIssuer, home: Path, token_file: Path | str, **more: str) -> dict[str, str]:
    return clean_env(
        home,
        CODEX_LOGIN_ISSUER=issuer.url,
        OPENAI_FEDERATION_RULE_ID=RULE,
        OPENAI_IDENTITY_TOKEN_FILE=str(token_file),
        **more,
    )


def test_an_exchange_sends_what_the_codex_cli_sends_and_keeps_nothing(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    result = run_in_process("token", "--json", env=wi_env(issuer, home, token_file))
    assert result.returncode == 0, result.stderr
    (post,) = issuer.posts(JWT_BEARER_GRANT)
    assert post.content_type == "application/x-www-form-urlencoded"
    assert list(post.form.items()) == [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", identity_token()),
        ("federation_rule_id", RULE),
    ]
    document = json.loads(result.stdout)
    assert document["mode"] == "chatgpt"
    assert document["account_id"] == rule.account_id
    assert document["headers"]["ChatGPT-Account-ID"] == rule.account_id
    assert not home.exists() or not any(home.iterdir())  # nothing written anywhere


def test_the_audit_context_is_forwarded_as_it_is(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    context = '{"instance_id":"job-7"}'
    env = wi_env(issuer, tmp_path, token_file, OPENAI_WORKLOAD_IDENTITY_CONTEXT=context)
    assert run_in_process("token", env=env).returncode == 0
    assert issuer.posts(JWT_BEARER_GRANT)[0].form["workload_identity_context"] == context


def auth_for(issuer: FakeIssuer, home: Path, token_file: Path, clock: SettableClock) -> CodexAuth:
    environ = {
        "CODEX_HOME": str(home),
        "OPENAI_FEDERATION_RULE_ID": RULE,
        "OPENAI_IDENTITY_TOKEN_FILE": str(token_file),
    }
    return CodexAuth(issuer=issuer.url, environ=environ, clock=clock)


def test_held_in_memory_and_exchanged_again_when_due_with_the_rotated_token(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    clock = SettableClock()
    issuer.clock = clock
    issuer.access_ttl = timedelta(hours=1)
    with auth_for(issuer, tmp_path, token_file, clock) as auth:
        first = auth.get_token()
        clock.advance(timedelta(minutes=50))
        assert auth.get_token() == first  # not due: no exchange
        assert len(issuer.posts(JWT_BEARER_GRANT)) == 1
        rotated = identity_token(jti="second")
        token_file.write_text(rotated)  # the platform rotates the file
        clock.advance(timedelta(minutes=6))  # within 5 minutes of the expiry: due
        second = auth.get_token()
    assert second != first
    posts = issuer.posts(JWT_BEARER_GRANT)
    assert [p.form["assertion"] for p in posts] == [identity_token(), rotated]


def test_a_changed_subject_is_refused_and_its_token_not_handed_out(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    clock = SettableClock()
    issuer.clock = clock
    with auth_for(issuer, tmp_path, token_file, clock) as auth:
        auth.get_token()
        rule.account_id = "ws-other"  # the rule's mapping changed under the process
        clock.advance(timedelta(hours=1))
        with pytest.raises(WorkloadIdentityChanged, match="ws-other"):
            auth.get_token()
        rule.account_id = "ws-ci"
        rule.account_user_id = "member-other"  # another membership: refused too
        with pytest.raises(WorkloadIdentityChanged):
            auth.get_token()


def test_n_threads_cause_one_exchange(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    gate = threading.Event()
    issuer.gates["workload_identity"] = gate
    tokens: list[str] = []
    with auth_for(issuer, tmp_path, token_file, SettableClock()) as auth:
        threads = [
            threading.Thread(target=lambda: tokens.append(auth.get_token())) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        gate.set()
        for thread in threads:
            thread.join(30)
    assert len(tokens) == 8
    assert len(set(tokens)) == 1
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1


@pytest.mark.parametrize(
    ("more", "missing"),
    [
        ({"OPENAI_FEDERATION_RULE_ID": RULE}, "OPENAI_IDENTITY_TOKEN_FILE"),
        ({"OPENAI_IDENTITY_TOKEN_FILE": "/run/identity/token"}, "OPENAI_FEDERATION_RULE_ID"),
        ({"OPENAI_IDENTITY_TOKEN_SOURCE": "file"}, "OPENAI_FEDERATION_RULE_ID"),
    ],
)
def test_a_partial_configuration_is_an_error_not_another_login(
    issuer: FakeIssuer, tmp_path: Path, more: dict[str, str], missing: str
) -> None:
    store = tmp_path / "home"
    store.mkdir(mode=0o700)
    from codex_login.stores import FileCredentialStore  # noqa: PLC0415

    FileCredentialStore(store).save(issuer.login_record())  # a usable stored login
    result = run_in_process("token", env=clean_env(store, CODEX_LOGIN_ISSUER=issuer.url, **more))
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"workload identity requires {missing}" in line
    assert issuer.posts(JWT_BEARER_GRANT) == []


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_an_unreadable_or_empty_token_file_is_a_one_line_error(
    issuer: FakeIssuer, rule: WorkloadRule, tmp_path: Path, content: str | None
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    result = run_in_process("token", env=wi_env(issuer, tmp_path / "home", path))
    (line,) = result.stderr.splitlines()
    assert result.returncode == 1
    assert str(path) in line
    assert issuer.posts(JWT_BEARER_GRANT) == []


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_a_token_file_that_is_no_file_is_a_one_line_error_not_a_hang(
    issuer: FakeIssuer, rule: WorkloadRule, tmp_path: Path, kind: str
) -> None:
    """A FIFO used to make `token` wait for a writer for ever (a plain open)."""
    path = tmp_path / "token"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    result = run_cli("token", env=wi_env(issuer, tmp_path / "home", path), timeout=30)
    (line,) = result.stderr.splitlines()
    assert result.returncode == 1
    assert line.startswith(f"Error: cannot read OPENAI_IDENTITY_TOKEN_FILE {path}: ")
    assert issuer.posts(JWT_BEARER_GRANT) == []


def test_reading_a_token_file_that_is_no_file_leaves_no_descriptor_open(tmp_path: Path) -> None:
    """A broker or an embedder reads the file at each exchange: one leak per attempt."""
    directory = tmp_path / "token"
    directory.mkdir()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(ConfigurationError, match="not a regular file"):
            read_identity_token(directory)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_token_file_reached_through_a_link_is_read(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    """As a projected service-account token is (a link into a ..data directory)."""
    link = tmp_path / "linked-token"
    link.symlink_to(token_file)
    result = run_in_process("token", env=wi_env(issuer, tmp_path / "home", link))
    assert result.returncode == 0, result.stderr
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1


def test_an_expired_identity_token_is_named_before_anything_is_sent(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    """The issuer would only answer invalid_grant, as for a subject the rule refuses."""
    token_file.write_text(identity_token(exp=1_700_000_000))  # 2023-11-14T22:13:20Z
    result = run_in_process("token", env=wi_env(issuer, tmp_path / "home", token_file))
    assert (result.returncode, result.stderr) == (
        1,
        f"Error: the identity token in {token_file} expired at 2023-11-14T22:13:20Z; a CI "
        "provider writes a new one for each job: point OPENAI_IDENTITY_TOKEN_FILE at it\n",
    )
    assert issuer.posts(JWT_BEARER_GRANT) == []


def test_a_relative_token_file_is_refused(issuer: FakeIssuer, tmp_path: Path) -> None:
    result = run_in_process("token", env=wi_env(issuer, tmp_path, "token"))
    (line,) = result.stderr.splitlines()
    assert result.returncode == 1
    assert "OPENAI_IDENTITY_TOKEN_FILE must be an absolute path" in line


def test_an_identity_token_the_rule_does_not_accept_is_refused(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    token_file.write_text(identity_token(subject="repo:evil/fork:ref:refs/heads/main"))
    result = run_in_process("token", env=wi_env(issuer, tmp_path / "home", token_file))
    (line,) = result.stderr.splitlines()
    assert result.returncode == 1
    assert "HTTP 401" in line
    assert "invalid_grant" in line
    assert identity_token() not in result.stderr


@pytest.mark.parametrize("variable", ["CODEX_API_KEY", "CODEX_ACCESS_TOKEN", "OPENAI_API_KEY"])
def test_workload_identity_wins_over_the_api_key_variables(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path, variable: str
) -> None:
    """As the Codex CLI 0.171 (measured: with both set, it reads the identity token)."""
    key = f"{'at' if variable == 'CODEX_ACCESS_TOKEN' else 'sk'}-test-override-0123456789"
    result = run_in_process("token", env=wi_env(issuer, tmp_path, token_file, **{variable: key}))
    assert result.returncode == 0, result.stderr
    assert key not in result.stdout
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 1


def test_the_login_policy_applies_as_to_a_chatgpt_login(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text('forced_login_method = "api"\n')
    result = run_in_process("token", env=wi_env(issuer, home, token_file))
    (line,) = result.stderr.splitlines()
    assert result.returncode == 4
    assert "permits ChatGPT authentication" in line
    # Not "log in": a workload identity wins over any login.
    remedy = (
        "; change the federation rule (OPENAI_FEDERATION_RULE_ID) or the login policy "
        "(config.toml, requirements.toml)"
    )
    assert line.endswith(remedy)
    assert issuer.posts(JWT_BEARER_GRANT) == []
    (home / "config.toml").write_text('forced_chatgpt_workspace_id = "ws-elsewhere"\n')
    refused = run_in_process("token", env=wi_env(issuer, home, token_file))
    assert refused.returncode == 4
    assert "ws-ci" in refused.stderr
    assert refused.stderr.endswith(  # a sentence after the Codex CLI's sentence
        ". Change the federation rule (OPENAI_FEDERATION_RULE_ID) or the login policy "
        "(config.toml, requirements.toml).\n"
    )


def test_the_real_cli_exchanges_in_a_child_process(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    result = run_cli("token", env=wi_env(issuer, tmp_path / "home", token_file))
    assert result.returncode == 0, result.stderr
    (post,) = issuer.posts(JWT_BEARER_GRANT)
    assert post.form["federation_rule_id"] == RULE
    assert result.stdout.strip().count(".") == 2  # a ChatGPT access token (a JWT)


def test_status_says_workload_identity_and_whom_it_signs_in(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    result = run_in_process("status", env=wi_env(issuer, tmp_path / "home", token_file))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "Logged in using workload identity"
    assert any(rule.account_id in line for line in lines[1:])
    assert any("idpm_rule_ci" in line for line in lines[1:])


def test_status_json_names_workload_identity_as_the_first_line_does(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    """Issue 25: --json names each kind of login in Codex's words, as the first line."""
    result = run_in_process("status", "--json", env=wi_env(issuer, tmp_path / "home", token_file))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == "Logged in using workload identity"
    assert json.loads(result.stdout)["kind"] == "workload identity"


def test_status_of_a_partial_configuration_is_an_error(issuer: FakeIssuer, tmp_path: Path) -> None:
    env = clean_env(tmp_path, OPENAI_FEDERATION_RULE_ID=RULE)
    result = run_in_process("status", env=env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert "workload identity requires OPENAI_IDENTITY_TOKEN_FILE" in line


def test_a_refused_token_is_exchanged_again_once_for_a_burst(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    clock = SettableClock()
    issuer.clock = clock
    with auth_for(issuer, tmp_path, token_file, clock) as auth:
        first = auth.get_token()
        clock.advance(timedelta(seconds=10))  # older than the forced-refresh window
        second = auth.refresh(stale=first).token
        again = [auth.refresh(stale=first).token for _ in range(3)]  # the burst's others
        young = auth.refresh().token  # just exchanged: answered as it is
    assert second != first
    assert again == [second] * 3
    assert young == second
    assert len(issuer.posts(JWT_BEARER_GRANT)) == 2


def test_an_issuer_outage_is_a_try_again_line(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    issuer.failures["workload_identity"] = Failure(503)
    result = run_in_process("token", env=wi_env(issuer, tmp_path / "home", token_file))
    (line,) = result.stderr.splitlines()
    assert result.returncode == 1
    assert "workload identity exchange failed" in line
    assert "503" in line


def test_status_json_describes_it(
    issuer: FakeIssuer, rule: WorkloadRule, token_file: Path, tmp_path: Path
) -> None:
    result = run_in_process("status", "--json", env=wi_env(issuer, tmp_path / "home", token_file))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["account_id"] == rule.account_id
    assert document["source"].startswith("workload identity")


def test_a_login_while_a_workload_identity_is_set_says_it_will_not_be_used(
    issuer: FakeIssuer, token_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = wi_env(issuer, home, token_file)
    result = run_in_process("login", "--with-api-key", env=env, stdin="sk-proj-wi-0123456789")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "  note: OPENAI_FEDERATION_RULE_ID is set, so status and token use the workload "
        "identity, not this login, until it and the identity token's variables are unset"
    )


def test_logout_is_refused_as_the_codex_cli_refuses_it(
    issuer: FakeIssuer, token_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    from codex_login.stores import FileCredentialStore  # noqa: PLC0415

    FileCredentialStore(home).save(issuer.login_record())
    result = run_in_process("logout", env=wi_env(issuer, home, token_file))
    assert result.returncode == 1
    assert result.stderr == (  # the Codex CLI's words, then what to do
        "Error: workload identity auth is managed by the host and cannot be logged out; "
        "unset OPENAI_FEDERATION_RULE_ID and the identity token's variables to act on the "
        "stored login\n"
    )
    assert (home / "auth.json").exists()  # the stored login is not touched
