"""Workload identity: a CI job signs in with its platform's identity token, no stored secret.

As the Codex CLI 0.171 does (``codex-rs/login/src/auth/workload_identity.rs``, the
``codex-workload-identity`` crate): ``OPENAI_FEDERATION_RULE_ID`` and
``OPENAI_IDENTITY_TOKEN_FILE`` select it (either one; the other missing is an error,
never a fallback to another login). The token in the file (an OIDC JWT the platform
rotates) is posted to the issuer's token endpoint as a JWT-bearer assertion at each
exchange; the answer, a short-lived ChatGPT access token, is held in memory only and
exchanged again when the refresh policy says it is due. The identity it names (user,
workspace, membership) must not change between exchanges.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from codex_login.domain.errors import ConfigurationError, TokenEndpointError

if TYPE_CHECKING:
    from codex_login.domain.issuer import IssuerConfig
    from codex_login.domain.refresh_policy import RefreshPolicy

RULE_VARIABLE = "OPENAI_FEDERATION_RULE_ID"
TOKEN_FILE_VARIABLE = "OPENAI_IDENTITY_TOKEN_FILE"  # noqa: S105  (a name, not a secret)
SOURCE_VARIABLE = "OPENAI_IDENTITY_TOKEN_SOURCE"
CONTEXT_VARIABLE = "OPENAI_WORKLOAD_IDENTITY_CONTEXT"
# What `status` and the login policy's messages call it (the Codex CLI's words).
SOURCE = "workload identity"

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105  (a URN)
MAX_ASSERTION_BYTES = 16 * 1024  # the Codex CLI's limit on the identity token


@attrs.frozen
class WorkloadIdentity:
    """The federation rule and where the platform keeps the current identity token."""

    rule_id: str
    token_file: Path
    # Bounded JSON for the issuer's audit log: forwarded as it is, never parsed.
    context: str | None = attrs.field(default=None, repr=False)


def select_workload_identity(
    *,
    rule_id: str | None,
    token_file: str | None,
    source: str | None = None,
    context: str | None = None,
) -> WorkloadIdentity | None:
    """The workload identity these variables select, None when none of them is set.

    A partial configuration raises ConfigurationError: with a marker set, no other
    login is used (the Codex CLI fails closed the same way).
    """
    if not (rule_id or token_file or source):
        return None
    if source is not None and source != "file":
        if source == "spiffe":
            raise ConfigurationError(
                f"{SOURCE_VARIABLE}=spiffe (a JWT-SVID from the SPIFFE Workload API) is not "
                f"supported by codex-login; write the JWT-SVID to a file and set "
                f"{TOKEN_FILE_VARIABLE} to its absolute path"
            )
        raise ConfigurationError(f"{SOURCE_VARIABLE} must be file or spiffe, not {source!r}")
    rule = (rule_id or "").strip()
    if not rule:
        raise ConfigurationError(
            f"workload identity requires {RULE_VARIABLE} ({TOKEN_FILE_VARIABLE} is set)"
        )
    if not token_file:
        raise ConfigurationError(
            f"workload identity requires {TOKEN_FILE_VARIABLE} ({RULE_VARIABLE} is set)"
        )
    path = Path(token_file)
    if not path.is_absolute():
        raise ConfigurationError(f"{TOKEN_FILE_VARIABLE} must be an absolute path: {token_file}")
    return WorkloadIdentity(rule, path, context)


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


@attrs.frozen
class Subject:
    """Whom an exchange signed in: the same for every exchange of one process."""

    user_id: str
    account_id: str
    account_user_id: str


@attrs.frozen
class WorkloadGrant:
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
