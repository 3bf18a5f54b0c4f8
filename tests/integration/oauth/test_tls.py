"""TLS verification is always on; CODEX_CA_CERTIFICATE and SSL_CERT_FILE add trust."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import trustme

from support.cli import clean_env, run_cli
from support.fake_issuer import FakeIssuer, running_issuer
from support.logins import stored, write_login


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def issuer(authority: trustme.CA) -> Iterator[FakeIssuer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    with running_issuer(FakeIssuer(), tls=context) as running:
        yield running


@pytest.fixture
def ca_file(authority: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return str(path)


def refresh_env(home: Path, issuer: FakeIssuer, **extra: str) -> dict[str, str]:
    return clean_env(
        home, CODEX_LOGIN_ISSUER=issuer.url, CODEX_LOGIN_ISSUER_PROFILE="openai", **extra
    )


def test_an_unknown_certificate_authority_is_refused(tmp_path: Path, issuer: FakeIssuer) -> None:
    before = write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    result = run_cli("token", env=refresh_env(tmp_path, issuer))
    assert result.returncode == 1
    assert "TLS error talking to https://127.0.0.1:" in result.stderr
    assert "certificate verify failed" in result.stderr
    assert issuer.requests == []
    assert (tmp_path / "auth.json").read_bytes() == before


@pytest.mark.parametrize("variable", ["CODEX_CA_CERTIFICATE", "SSL_CERT_FILE"])
def test_an_extra_ca_bundle_is_trusted(
    tmp_path: Path, issuer: FakeIssuer, ca_file: str, variable: str
) -> None:
    first = issuer.new_refresh_token()
    write_login(tmp_path, first, expires_in=timedelta(minutes=1))
    result = run_cli("token", env=refresh_env(tmp_path, issuer, **{variable: ca_file}))
    assert result.returncode == 0, result.stderr
    assert stored(tmp_path)["tokens"]["refresh_token"] != first


def test_an_unreadable_ca_bundle_is_a_clear_error(tmp_path: Path, issuer: FakeIssuer) -> None:
    write_login(tmp_path, issuer.new_refresh_token(), expires_in=timedelta(minutes=1))
    missing = str(tmp_path / "nope.pem")
    result = run_cli("token", env=refresh_env(tmp_path, issuer, CODEX_CA_CERTIFICATE=missing))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot load the CA bundle {missing}: No such file or directory; "
        "fix CODEX_CA_CERTIFICATE / SSL_CERT_FILE"
    )
