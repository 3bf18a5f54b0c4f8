"""``GET /metrics`` on a real ``codex-login serve`` child (issue 24, item 5).

The Prometheus text format, under the same access rules as ``/v1/token``; tokens
served and forced refreshes by outcome are counted; no token, key, secret or
account id appears anywhere in a scrape; without the ``metrics`` extra the route
answers 404 naming it.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.broker import free_port, running_broker, tcp_request, unix_request
from support.fake_issuer import FakeIssuer
from support.logins import issuer_env, stored

KEY = "sandbox-a-" + secrets.token_urlsafe(24)
PREFIX = "codex_login_broker"


@pytest.fixture
def tcp_args(tmp_path: Path) -> tuple[str, ...]:
    keys = tmp_path / "clients"
    keys.write_text(f"sandbox-a {KEY}\n")
    keys.chmod(0o600)
    secret = tmp_path / "broker.secret"
    secret.write_text(secrets.token_urlsafe(32) + "\n")
    secret.chmod(0o600)
    return (
        "--socket",
        str(tmp_path / "b.sock"),
        "--tcp",
        str(free_port()),
        "--client-keys",
        str(keys),
        "--secret-file",
        str(secret),
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def values(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_follow_the_access_rules(
    home: Path, issuer: FakeIssuer, tcp_args: tuple[str, ...]
) -> None:
    with running_broker(home, *tcp_args, env=issuer_env(home, issuer)) as broker:
        assert broker.socket is not None
        refused = tcp_request(broker.port, target="/metrics")
        assert (refused.status, refused.json()["error"]) == (403, "forbidden")
        wrong = tcp_request(broker.port, target="/metrics", headers=bearer(KEY[:-1]))
        assert wrong.status == 403
        for answer in (
            tcp_request(broker.port, target="/metrics", headers=bearer(KEY)),
            unix_request(broker.socket, target="/metrics"),
        ):
            assert answer.status == 200
            assert (answer.header("Content-Type") or "").startswith("text/plain; version=")
            assert answer.header("Cache-Control") == "no-store"
            assert f"# TYPE {PREFIX}_tokens_served_total counter" in answer.body.decode()
        broker.wait_for_line(lambda line: "client=sandbox-a GET /metrics 200 " in line)


def test_tokens_and_refreshes_are_counted_and_no_secret_is_in_a_scrape(
    home: Path, issuer: FakeIssuer, tcp_args: tuple[str, ...]
) -> None:
    with running_broker(home, *tcp_args, env=issuer_env(home, issuer)) as broker:
        first = tcp_request(broker.port, headers=bearer(KEY)).json()["access_token"]
        assert tcp_request(broker.port, headers=bearer(KEY)).status == 200
        stale = json.dumps({"stale": first}).encode()
        refreshing = {**bearer(KEY), "Content-Type": "application/json"}
        for _ in range(2):  # the first refreshes; the second gets the current token
            answer = tcp_request(
                broker.port, "POST", "/v1/token/refresh", body=stale, headers=refreshing
            )
            assert answer.status == 200
        current = stored(home)["tokens"]["access_token"]
        kept = stored(home)["tokens"]
        (home / "auth.json").unlink()  # logged out on the host: the next refresh fails
        failed = tcp_request(
            broker.port,
            "POST",
            "/v1/token/refresh",
            body=json.dumps({"stale": current}).encode(),
            headers=refreshing,
        )
        assert (failed.status, failed.json()["error"]) == (401, "not_logged_in")
        scrape = tcp_request(broker.port, target="/metrics", headers=bearer(KEY))
    assert scrape.status == 200
    found = values(scrape.body)
    assert found[f"{PREFIX}_tokens_served_total", ()] == 4
    refreshes = f"{PREFIX}_refreshes_total"
    assert found[refreshes, (("error", ""), ("outcome", "refreshed"))] == 1
    assert found[refreshes, (("error", ""), ("outcome", "current"))] == 1
    assert found[refreshes, (("error", "not_logged_in"), ("outcome", "failed"))] == 1
    assert found[f"{PREFIX}_streams_in_flight", ()] == 0
    body = scrape.raw()
    for value in (first, current, kept["refresh_token"], kept["id_token"], KEY, "acc-123"):
        assert value not in body, "a secret or an account id in a scrape"
    secret = Path(tcp_args[tcp_args.index("--secret-file") + 1]).read_text().strip()
    assert secret not in body


def test_without_the_extra_metrics_answer_404_naming_it(
    tmp_path: Path, home: Path, issuer: FakeIssuer
) -> None:
    hidden = tmp_path / "hide"
    (hidden / "prometheus_client").mkdir(parents=True)
    (hidden / "prometheus_client" / "__init__.py").write_text(
        'raise ImportError("prometheus_client is not installed here")\n'
    )
    env = {**issuer_env(home, issuer), "PYTHONPATH": str(hidden)}
    with running_broker(home, "--socket", str(tmp_path / "b.sock"), env=env) as broker:
        assert broker.socket is not None
        answer = unix_request(broker.socket, target="/metrics")
        assert answer.status == 404
        assert answer.json() == {
            "error": "not_found",
            "message": "metrics need the metrics extra: pip install 'codex-login[metrics]' "
            "(from a checkout: pip install '.[metrics]')",
        }
        assert unix_request(broker.socket).status == 200  # tokens are served the same
