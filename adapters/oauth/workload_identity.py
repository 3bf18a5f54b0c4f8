"""The workload-identity exchange, as the Codex CLI 0.171 sends it.

One form POST to the issuer's token endpoint (``https://auth.openai.com/oauth/token``
for OpenAI): ``grant_type`` JWT bearer, ``assertion`` the identity token read from its
file now (CI platforms rotate it), ``federation_rule_id``, and
``workload_identity_context`` when set. Through the shared transport: its size limit,
no redirects, foreign errors translated.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from urllib.parse import urlencode

from codex_login.adapters import os_flags
from codex_login.adapters.clock import SystemClock
from codex_login.adapters.oauth.transport import Transport
from codex_login.domain.errors import ConfigurationError
from codex_login.domain.workload_identity import (
    JWT_BEARER_GRANT,
    MAX_ASSERTION_BYTES,
    TOKEN_FILE_VARIABLE,
    WorkloadGrant,
    WorkloadIdentity,
    check_not_expired,
    checked_assertion,
    read_workload_grant,
)

WHAT = "the workload identity exchange"


# A link is followed (a projected service-account token is one); a FIFO or a terminal in
# its place must not make the read wait for a writer.
OPEN_FLAGS = os.O_RDONLY | os_flags.NONBLOCK | os_flags.NOCTTY | os_flags.CLOEXEC


def read_identity_token(path: Path) -> str:
    """The identity token in ``path``, read now; an unreadable file is a ConfigurationError."""
    try:
        fd = os.open(path, OPEN_FLAGS)
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
            raw = os.read(fd, MAX_ASSERTION_BYTES + 1) if regular else b""
        finally:
            os.close(fd)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(f"cannot read {TOKEN_FILE_VARIABLE} {path}: {reason}") from exc
    if not regular:  # a FIFO, a directory, a device
        raise ConfigurationError(f"cannot read {TOKEN_FILE_VARIABLE} {path}: not a regular file")
    assertion = checked_assertion(raw, path)
    check_not_expired(assertion, path, SystemClock().now())
    return assertion


async def identity_token(identity: WorkloadIdentity) -> str:
    """The identity token for this exchange, from its source, read or fetched now."""
    if identity.spiffe is not None:
        from codex_login.adapters import spiffe_workload_api  # noqa: PLC0415  (grpcio: an extra)

        return await asyncio.to_thread(spiffe_workload_api.fetch_identity_token, identity.spiffe)
    if identity.token_file is None:
        raise ConfigurationError(f"workload identity requires {TOKEN_FILE_VARIABLE}")
    return await asyncio.to_thread(read_identity_token, identity.token_file)


def exchange_form(identity: WorkloadIdentity, assertion: str) -> str:
    """The request body, its fields in the Codex CLI's order."""
    fields = [
        ("grant_type", JWT_BEARER_GRANT),
        ("assertion", assertion),
        ("federation_rule_id", identity.rule_id),
    ]
    if identity.context is not None:
        fields.append(("workload_identity_context", identity.context))
    return urlencode(fields)


async def exchange_workload_identity(
    transport: Transport, url: str, identity: WorkloadIdentity
) -> WorkloadGrant:
    assertion = await identity_token(identity)
    answer = await transport.request(
        "POST", url, form=exchange_form(identity, assertion), what=WHAT
    )
    return read_workload_grant(answer.success(WHAT))
