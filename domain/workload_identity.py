"""Workload identity: a CI job signs in with its platform's identity token, no stored secret.

As the Codex CLI 0.171 does (``codex-rs/login/src/auth/workload_identity.rs``, the
``codex-workload-identity`` crate): ``OPENAI_FEDERATION_RULE_ID`` and
``OPENAI_IDENTITY_TOKEN_FILE`` select it (either one; the other missing is an error,
never a fallback to another login). ``OPENAI_IDENTITY_TOKEN_SOURCE=spiffe`` takes the
identity token from the SPIFFE Workload API instead (a JWT-SVID for
``OPENAI_SPIFFE_AUDIENCE``, optionally of ``OPENAI_SPIFFE_ID``, fetched over
``SPIFFE_ENDPOINT_SOCKET``). The token in the file (an OIDC JWT the platform
rotates), or the JWT-SVID fetched then, is posted to the issuer's token endpoint as a
JWT-bearer assertion at each exchange; the answer, a short-lived ChatGPT access token,
is held in memory only and exchanged again when the refresh policy says it is due. The
identity it names (user, workspace, membership) must not change between exchanges.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import attrs

from codex_login.domain.claims import token_expiry
from codex_login.domain.errors import ConfigurationError, InvalidJwt, TokenEndpointError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.jwt import decode_payload
from codex_login.domain.modes import WORKLOAD_IDENTITY
from codex_login.domain.timestamps import format_timestamp

if TYPE_CHECKING:
    from codex_login.domain.issuer import IssuerConfig
    from codex_login.domain.refresh_policy import RefreshPolicy

RULE_VARIABLE = "OPENAI_FEDERATION_RULE_ID"
TOKEN_FILE_VARIABLE = "OPENAI_IDENTITY_TOKEN_FILE"  # noqa: S105  (a name, not a secret)
SOURCE_VARIABLE = "OPENAI_IDENTITY_TOKEN_SOURCE"
SOCKET_VARIABLE = "SPIFFE_ENDPOINT_SOCKET"
AUDIENCE_VARIABLE = "OPENAI_SPIFFE_AUDIENCE"
SPIFFE_ID_VARIABLE = "OPENAI_SPIFFE_ID"
# What `status` and the login policy's messages call it (the Codex CLI's words).
SOURCE = WORKLOAD_IDENTITY

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105  (a URN)
MAX_ASSERTION_BYTES = 16 * 1024  # the Codex CLI's limit on the identity token


@attrs.frozen(repr=False)
class SpiffeSource(FieldsRepr):
    """Where a JWT-SVID comes from: the Workload API's socket, the audience it is asked
    for, and the SPIFFE ID to ask for when the workload has several."""

    socket: Path  # the absolute path of SPIFFE_ENDPOINT_SOCKET's unix: URI
    audience: str
    spiffe_id: str | None = None


@attrs.frozen(repr=False)
class WorkloadIdentity(FieldsRepr):
    """The federation rule and where the current identity token comes from: the file the
    platform keeps it in, or (``spiffe`` set, ``token_file`` None) the Workload API."""

    rule_id: str
    token_file: Path | None
    # Bounded JSON for the issuer's audit log: forwarded as it is, never parsed.
    context: str | None = attrs.field(default=None, repr=False)
    spiffe: SpiffeSource | None = None


def select_workload_identity(
    *,
    rule_id: str | None,
    token_file: str | None,
    source: str | None = None,
    context: str | None = None,
    spiffe_socket: str | None = None,
    spiffe_audience: str | None = None,
    spiffe_id: str | None = None,
) -> WorkloadIdentity | None:
    """The workload identity these variables select, None when none of them is set.

    Any of them but ``SPIFFE_ENDPOINT_SOCKET`` (a SPIRE agent's own variable) selects
    it. A partial configuration raises ConfigurationError: with a marker set, no other
    login is used (the Codex CLI fails closed the same way, in this order).
    """
    if not (rule_id or token_file or source or spiffe_audience or spiffe_id):
        return None
    if source is not None and source not in ("file", "spiffe"):
        raise ConfigurationError(f"{SOURCE_VARIABLE} must be file or spiffe, not {source!r}")
    rule = (rule_id or "").strip()
    if not rule:
        given = next(
            name
            for name, value in [
                (TOKEN_FILE_VARIABLE, token_file),
                (SOURCE_VARIABLE, source),
                (AUDIENCE_VARIABLE, spiffe_audience),
                (SPIFFE_ID_VARIABLE, spiffe_id),
            ]
            if value
        )
        raise ConfigurationError(f"workload identity requires {RULE_VARIABLE} ({given} is set)")
    if source == "spiffe":
        if token_file:
            raise ConfigurationError(f"SPIFFE authentication cannot also set {TOKEN_FILE_VARIABLE}")
        return WorkloadIdentity(
            rule, None, context, select_spiffe(spiffe_socket, spiffe_audience, spiffe_id)
        )
    if spiffe_audience or spiffe_id:
        raise ConfigurationError(f"SPIFFE settings require {SOURCE_VARIABLE}=spiffe")
    if not token_file:
        raise ConfigurationError(
            f"workload identity requires {TOKEN_FILE_VARIABLE} ({RULE_VARIABLE} is set)"
        )
    path = Path(token_file)
    if not path.is_absolute():
        raise ConfigurationError(f"{TOKEN_FILE_VARIABLE} must be an absolute path: {token_file}")
    return WorkloadIdentity(rule, path, context)


def select_spiffe(socket: str | None, audience: str | None, spiffe_id: str | None) -> SpiffeSource:
    """The Workload API source: a socket and an audience required (no default, as in the
    Codex CLI), the SPIFFE ID optional."""
    if not socket:
        raise ConfigurationError(f"workload identity requires {SOCKET_VARIABLE}")
    if not audience or not audience.strip():
        raise ConfigurationError(f"workload identity requires {AUDIENCE_VARIABLE}")
    path = unix_socket_path(socket)
    if "\0" in audience:
        raise ConfigurationError(f"{AUDIENCE_VARIABLE} must not contain NUL")
    if spiffe_id is not None and not is_spiffe_id(spiffe_id):
        raise ConfigurationError(f"{SPIFFE_ID_VARIABLE} is not a SPIFFE ID: {spiffe_id!r}")
    return SpiffeSource(path, audience.strip(), spiffe_id)


def unix_socket_path(endpoint: str) -> Path:
    """The socket path of a ``unix:`` URI (``unix:///run/agent.sock``, ``unix:/run/...``)."""
    parts = urlsplit(endpoint)
    path = Path(parts.path)
    if parts.scheme != "unix" or parts.netloc or not path.is_absolute():
        raise ConfigurationError(
            f"{SOCKET_VARIABLE} must be an absolute unix: socket URI "
            f"(unix:///path/to/agent.sock), not {endpoint!r}"
        )
    return path


def is_spiffe_id(value: str) -> bool:
    """``spiffe://trust-domain/path``: a host, no user, port, query or fragment."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return False
    return (
        parts.scheme == "spiffe"
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and port is None
        and not parts.query
        and not parts.fragment
    )


def checked_assertion(raw: bytes, path: Path) -> str:
    """The identity token read from ``path``: trimmed, non-empty, at most 16 KiB, text."""
    if len(raw) > MAX_ASSERTION_BYTES:
        raise ConfigurationError(f"the identity token in {path} exceeds 16 KiB")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"the identity token in {path} is not UTF-8 text") from exc
    if not text or "\0" in text:
        raise ConfigurationError(f"the identity token file {path} is empty")
    return text


# Clocks disagree: only a token expired by more than this is refused here (the issuer
# decides the rest).
EXPIRY_TOLERANCE = timedelta(minutes=5)


def check_not_expired(assertion: str, path: Path, now: datetime) -> None:
    """An identity token whose ``exp`` has passed is refused before it is sent, naming the
    file and the moment: the issuer's answer (``invalid_grant``) would not tell it from a
    rule the token does not match. A token that is not a readable JWT is the issuer's to
    judge."""
    expired_at = token_expiry(assertion)  # None: not a JWT, or no exp a datetime holds
    if expired_at is not None and expired_at < now - EXPIRY_TOLERANCE:
        raise ConfigurationError(
            f"the identity token in {path} expired at {format_timestamp(expired_at)}; "
            f"a CI provider writes a new one for each job: point {TOKEN_FILE_VARIABLE} at it"
        )


@attrs.frozen(repr=False)
class JwtSvid(FieldsRepr):
    """One JWT-SVID of a Workload API answer."""

    spiffe_id: str
    token: str = attrs.field(repr=False)


WORKLOAD_API = "the SPIFFE Workload API"


def chosen_svid(svids: list[JwtSvid], source: SpiffeSource) -> str:
    """The identity token in the Workload API's answer, checked as the Codex CLI checks
    it: exactly one JWT-SVID (several are refused even with a SPIFFE ID asked for), a
    JWT whose ``sub`` is a SPIFFE ID (the one asked for, if any) and whose ``aud``
    holds the audience; trimmed, at most 16 KiB. Its expiry is the issuer's to judge."""
    if not svids:
        raise ConfigurationError(f"{WORKLOAD_API} returned no JWT-SVID")
    if len(svids) > 1:
        hint = "" if source.spiffe_id else f"; set {SPIFFE_ID_VARIABLE} to the one to use"
        raise ConfigurationError(f"{WORKLOAD_API} returned {len(svids)} JWT-SVIDs{hint}")
    token = svids[0].token.strip()
    if len(token.encode()) > MAX_ASSERTION_BYTES:
        raise ConfigurationError(f"the JWT-SVID from {WORKLOAD_API} exceeds 16 KiB")
    problem = svid_problem(token, source)
    if problem:
        raise ConfigurationError(f"the JWT-SVID from {WORKLOAD_API} is invalid: {problem}")
    return token


def svid_problem(token: str, source: SpiffeSource) -> str | None:
    """What makes ``token`` no JWT-SVID for ``source``, None when it is one."""
    try:
        claims = decode_payload(token)
    except InvalidJwt:
        return "not a JWT"
    subject = claims.get("sub")
    if not isinstance(subject, str) or not is_spiffe_id(subject):
        return "its sub is not a SPIFFE ID"
    if source.spiffe_id is not None and subject != source.spiffe_id:
        return f"it is {subject}'s, not {source.spiffe_id}'s"
    audience = claims.get("aud")
    names = [audience] if isinstance(audience, str) else audience
    if not isinstance(names, list) or source.audience not in names:
        return f"its aud does not hold {source.audience!r}"
    return None


@attrs.frozen(repr=False)
class Subject(FieldsRepr):
    """Whom an exchange signed in: the same for every exchange of one process."""

    user_id: str
    account_id: str
    account_user_id: str


@attrs.frozen(repr=False)
class WorkloadGrant(FieldsRepr):
    """The issuer's answer to one exchange (the Codex CLI's required fields)."""

    access_token: str = attrs.field(repr=False)
    expires_in: int
    subject: Subject
    plan_type: str | None = None


def read_workload_grant(document: dict[str, Any]) -> WorkloadGrant:
    """The grant in the token endpoint's JSON answer; refused as the Codex CLI refuses it."""

    def text(name: str) -> str:
        value = document.get(name)
        if not isinstance(value, str) or not value.strip():
            raise TokenEndpointError(
                f"the workload identity exchange answered without {name}", status=200
            )
        return value

    if text("token_type").lower() != "bearer" or text("issued_token_type") != ACCESS_TOKEN_TYPE:
        raise TokenEndpointError(
            "the workload identity exchange answered with an unsupported token type", status=200
        )
    lifetime = document.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime <= 0:
        raise TokenEndpointError(
            "the workload identity exchange answered with an invalid token lifetime", status=200
        )
    plan = document.get("chatgpt_plan_type")
    return WorkloadGrant(
        access_token=text("access_token"),
        expires_in=lifetime,
        subject=Subject(
            user_id=text("user_id"),
            account_id=text("chatgpt_account_id"),
            account_user_id=text("chatgpt_account_user_id"),
        ),
        plan_type=plan if isinstance(plan, str) else None,
    )


def exchange_due_at(policy: RefreshPolicy, issued_at: datetime, expires_in: int) -> datetime:
    """When the next exchange is due: the refresh policy's rule (within its margin of the
    expiry, or at half the lifetime when that is shorter)."""
    expires_at = issued_at + timedelta(seconds=expires_in)
    return expires_at - policy.margin(issued_at, expires_at)


class WorkloadIdentityEndpoint(Protocol):
    """A token endpoint that exchanges an identity token (re-read at each call)."""

    async def exchange_workload_identity(
        self, issuer: IssuerConfig, identity: WorkloadIdentity
    ) -> WorkloadGrant: ...
