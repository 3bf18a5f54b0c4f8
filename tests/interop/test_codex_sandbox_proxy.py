"""The real Codex CLI in a sandbox that holds no credential (issue 24, item 6).

The host: a ChatGPT login from oidc-provider (codex-login's own browser login) and
``codex-login serve --tcp PORT --secret-file F --upstream <a loopback model server>``,
whose ``/openai/v1/`` route forwards to that server with the login's headers.

The sandbox: a ``CODEX_HOME`` holding only ``config.toml``, whose custom provider points
at the proxy and takes its API key from ``SANDBOX_KEY``; an environment with nothing
else (``codex_env``: PATH, a private HOME, CODEX_HOME, LANG). Codex sends the sandbox
key as ``Authorization: Bearer``; the proxy checks it, drops it and signs the request
with the host's login.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codex_login.domain.claims import token_times
from codex_login.domain.refresh_policy import MIN_TOKEN_AGE_FOR_FORCED_REFRESH
from interop.peers.browser_login import login_with_browser
from interop.peers.codex_peer import clean_stderr, codex_env
from interop.peers.oidc_issuer import Event, OidcIssuer, issuer_unavailable_reason
from interop.peers.responses_api import (
    ResponsesApi,
    serving_responses_api,
    write_loopback_config,
)
from support.broker import ServedBroker, free_port, running_broker
from support.cli import clean_env
from support.waiting import wait_until

REASON = issuer_unavailable_reason()
pytestmark = [pytest.mark.interop, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

PROVIDER_ID = "sandbox"
KEY_VARIABLE = "SANDBOX_KEY"
ACCOUNT = "acc-123"  # the account oidc-provider's test issuer puts in its ID tokens
SECRET_TOKENS = ("access_token", "refresh_token", "id_token")


@dataclass
class Host:
    """The host side: the login's CODEX_HOME, the issuer, and the proxy's secret."""

    home: Path
    issuer: OidcIssuer
    secret_file: Path

    @property
    def key(self) -> str:
        return self.secret_file.read_text().strip()

    def tokens(self) -> dict[str, str]:
        document = json.loads((self.home / "auth.json").read_bytes())
        tokens: dict[str, str] = document["tokens"]
        return tokens

    def issued_at(self) -> datetime:
        """When the login's tokens were issued: the later of ``last_refresh`` (our clock,
        whole seconds, rounded up) and the access token's ``iat`` (the issuer's)."""
        document = json.loads((self.home / "auth.json").read_bytes())
        stored = datetime.strptime(document["last_refresh"][:19], "%Y-%m-%dT%H:%M:%S")
        moments = [stored.replace(tzinfo=UTC) + timedelta(seconds=1)]
        issued, _ = token_times(document["tokens"]["access_token"])
        moments += [issued] if issued is not None else []
        return max(moments)

    def wait_until_a_refresh_may_be_forced(self) -> None:
        """A forced refresh answers a token younger than the guard's window as it is (a
        token just issued is not the one that is wrong, so a refusing server cannot make
        the proxy hammer the issuer). A login in use is older; this one was made a moment
        ago, so wait, with a deadline, until it has aged past the window."""
        old_enough = self.issued_at() + MIN_TOKEN_AGE_FOR_FORCED_REFRESH
        wait_until(
            lambda: datetime.now(UTC) > old_enough,
            timeout=MIN_TOKEN_AGE_FOR_FORCED_REFRESH.total_seconds() + 5,
            what="the login to age past the forced-refresh guard",
        )

    def secrets_held(self) -> set[str]:
        """The access, refresh and ID tokens the login holds now."""
        tokens = self.tokens()
        return {tokens[name] for name in SECRET_TOKENS}


@dataclass
class Sandbox:
    """The sandbox side: Codex's home (config.toml only), its HOME and working directory."""

    codex_home: Path
    work: Path
    env: dict[str, str]

    def roots(self) -> list[Path]:
        return [self.codex_home, self.work, Path(self.env["HOME"])]


def is_refresh(event: Event) -> bool:
    return event.get("event") == "grant.success" and event.get("grant_type") == "refresh_token"


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    home = tmp_path / "host"
    with OidcIssuer() as issuer:
        login = login_with_browser(home, issuer)
        assert login.returncode == 0, login.stderr
        secret_file = tmp_path / "proxy.secret"
        secret_file.write_text(secrets.token_urlsafe(32) + "\n")
        secret_file.chmod(0o600)
        yield Host(home, issuer, secret_file)


def serving_proxy(host: Host, api: ResponsesApi) -> AbstractContextManager[ServedBroker]:
    """``codex-login serve`` for the host's login, forwarding to ``api`` on loopback TCP."""
    return running_broker(
        host.home,
        "--tcp",
        str(free_port()),
        "--secret-file",
        str(host.secret_file),
        "--upstream",
        api.base_url,
        env=clean_env(host.home, CODEX_LOGIN_ISSUER=host.issuer.issuer),
    )


def write_sandbox_config(codex_home: Path, proxy_url: str) -> Path:
    """The sandbox's only file: a custom provider on the proxy, its key from the environment.

    Plugins and analytics are off and ``chatgpt_base_url`` is the proxy, so Codex talks
    to nothing but the proxy; no retries, so that a 401 reaching Codex would fail the turn.
    """
    return write_loopback_config(
        codex_home,
        provider_id=PROVIDER_ID,
        name="codex-login proxy",
        chatgpt_base_url=f"{proxy_url}/backend-api",
        base_url=f"{proxy_url}/openai/v1",
        more=[f"env_key = {json.dumps(KEY_VARIABLE)}"],
    )


@pytest.fixture
def sandbox(tmp_path: Path, host: Host) -> Sandbox:
    codex_home = tmp_path / "sandbox" / "codex"
    work = tmp_path / "sandbox" / "work"
    codex_home.mkdir(parents=True)
    work.mkdir()
    env = codex_env(codex_home, {KEY_VARIABLE: host.key})
    return Sandbox(codex_home, work, env)


def run_sandboxed_codex(
    codex: Path, sandbox: Sandbox, proxy: ServedBroker
) -> subprocess.CompletedProcess[str]:
    """One ``codex exec`` turn in the sandbox, its provider on ``proxy``."""
    assert proxy.url is not None, "the proxy listens on no TCP port"
    write_sandbox_config(sandbox.codex_home, proxy.url)
    assert [path.name for path in sandbox.codex_home.iterdir()] == ["config.toml"]
    return subprocess.run(
        [str(codex), "exec", "--skip-git-repo-check", "say hi"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=sandbox.work,
        env=sandbox.env,
        timeout=120,
        check=False,
    )


def assert_turn_finished(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, clean_stderr(result.stderr)
    assert result.stdout.strip() == "hi", (result.stdout, clean_stderr(result.stderr))


def files_holding(roots: list[Path], needles: set[str]) -> list[str]:
    """Every file under ``roots`` whose bytes contain one of ``needles``."""
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [str(path) for needle in needles if needle.encode() in data]
    return found


def assert_nothing_leaked(host: Host, sandbox: Sandbox, tokens: set[str]) -> None:
    """No file of the sandbox and no variable of its environment holds a login token."""
    assert files_holding(sandbox.roots(), tokens) == []
    assert sorted(sandbox.env) == ["CODEX_HOME", "HOME", "LANG", "PATH", KEY_VARIABLE]
    assert [name for name, value in sandbox.env.items() if any(t in value for t in tokens)] == []


def assert_signed_by_the_host(api: ResponsesApi, host: Host, access_tokens: list[str]) -> None:
    """Each model call carried the host login's token and account, never the sandbox key."""
    calls = api.model_calls()
    assert [call.bearer for call in calls] == access_tokens
    assert {call.header("chatgpt-account-id") for call in calls} == {ACCOUNT}
    for request in api.requests:
        assert not [value for _, value in request.headers if host.key in value], request.path


def test_codex_in_a_sandbox_completes_a_turn_through_the_proxy(
    codex: Path, host: Host, sandbox: Sandbox
) -> None:
    with serving_responses_api() as api, serving_proxy(host, api) as proxy:
        result = run_sandboxed_codex(codex, sandbox, proxy)
        assert_turn_finished(result)
        assert proxy.stop() == 0
    access = host.tokens()["access_token"]
    assert_signed_by_the_host(api, host, [access])
    assert [(call.status, call.path) for call in api.model_calls()] == [(200, "/v1/responses")]
    assert not any(map(is_refresh, host.issuer.events()))
    held = host.secrets_held()
    assert [secret for secret in {*held, host.key} if secret in proxy.stderr()] == []
    assert_nothing_leaked(host, sandbox, held)


def test_an_upstream_401_is_retried_once_after_one_refresh_at_oidc_provider(
    codex: Path, host: Host, sandbox: Sandbox
) -> None:
    before = host.tokens()
    host.wait_until_a_refresh_may_be_forced()
    with (
        serving_responses_api(ResponsesApi(refuse_first=1)) as api,
        serving_proxy(host, api) as proxy,
    ):
        result = run_sandboxed_codex(codex, sandbox, proxy)
        assert_turn_finished(result)
        assert proxy.stop() == 0
    after = host.tokens()
    assert after["access_token"] != before["access_token"]
    assert_signed_by_the_host(api, host, [before["access_token"], after["access_token"]])
    assert [call.status for call in api.model_calls()] == [401, 200]
    refreshes = host.issuer.wait_for_count(is_refresh, 1)
    assert len(refreshes) == 1, refreshes
    held = {before[name] for name in SECRET_TOKENS} | host.secrets_held()
    assert [secret for secret in {*held, host.key} if secret in proxy.stderr()] == []
    assert_nothing_leaked(host, sandbox, held)
