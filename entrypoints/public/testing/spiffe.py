"""A fake SPIFFE Workload API: JWT-SVIDs on a unix socket (``IDENTITY_TOKEN_SOURCE=spiffe``).

Needs grpcio (``pip install 'codex-login[spiffe]'``). ``running_workload_api()`` serves
``FetchJWTSVID`` from a grpcio server on a socket in a private temporary directory
until the block ends; ``api.endpoint`` is the value for ``SPIFFE_ENDPOINT_SOCKET``::

    from codex_login.testing.issuer import FakeIssuer, WorkloadRule, running_issuer
    from codex_login.testing.spiffe import running_workload_api

    with running_issuer(FakeIssuer()) as issuer, running_workload_api() as api:
        issuer.trust_workload("idpm_ci", WorkloadRule(subject=api.spiffe_ids[0]))
        env = {
            "CODEX_LOGIN_ISSUER": issuer.url,
            "OPENAI_FEDERATION_RULE_ID": "idpm_ci",
            "OPENAI_IDENTITY_TOKEN_SOURCE": "spiffe",
            "SPIFFE_ENDPOINT_SOCKET": api.endpoint,
            "OPENAI_SPIFFE_AUDIENCE": "https://auth.openai.com",
        }
        ...  # run your CI step with env; api.requests holds what it asked for

As a SPIRE agent does: a request without the ``workload.spiffe.io: true`` header, or
without an audience, is refused (INVALID_ARGUMENT); each answer holds a fresh JWT-SVID
(``sub`` the SPIFFE ID, ``aud`` the audience asked for, ``exp`` ``ttl`` ahead; unsigned,
like the testing kit's other tokens) for every one of ``spiffe_ids``, or for the one
the request names (PERMISSION_DENIED, "no identity issued", when it is not one of them).
A ``WorkloadRule(subject=spiffe_id)`` of the fake issuer accepts them. Set ``failure``
to a gRPC status name (``"UNAVAILABLE"``) to refuse every call with it, or ``answer``
to a list of ``JwtSvid`` to send exactly that.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from codex_login.adapters.spiffe_workload_api import (
    SECURITY_HEADER,
    SERVICE,
    decode_request,
    encode_response,
    grpc_module,
)
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.workload_identity import JwtSvid
from codex_login.testing.tokens import make_jwt

__all__ = ["FakeWorkloadApi", "FetchRequest", "JwtSvid", "running_workload_api"]

TRUST_DOMAIN = "example.org"


@attrs.frozen(repr=False)
class FetchRequest(FieldsRepr):
    """One FetchJWTSVID call as the fake received it."""

    audience: tuple[str, ...]
    spiffe_id: str  # empty: any identity of the workload
    metadata: tuple[tuple[str, str], ...]

    @property
    def security_header(self) -> str | None:
        return dict(self.metadata).get(SECURITY_HEADER[0])


@attrs.define(repr=False)
class FakeWorkloadApi(FieldsRepr):
    """The state of a fake Workload API; served by ``running_workload_api()``."""

    spiffe_ids: list[str] = attrs.Factory(lambda: [f"spiffe://{TRUST_DOMAIN}/ci"])
    ttl: float = 300.0  # seconds a JWT-SVID is valid
    now: Callable[[], float] = time.time  # the clock of iat and exp (the issuer's, in tests)
    failure: str | None = None  # a grpc.StatusCode name to refuse every call with
    answer: list[JwtSvid] | None = None  # sent as it is instead of fresh JWT-SVIDs
    socket: Path | None = None
    requests: list[FetchRequest] = attrs.Factory(list)
    issued: list[str] = attrs.field(factory=list, repr=False)  # every JWT-SVID sent
    _serials: Iterator[int] = attrs.field(factory=itertools.count, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    @property
    def endpoint(self) -> str:
        """The ``SPIFFE_ENDPOINT_SOCKET`` value (``unix:///...``) while it serves."""
        if self.socket is None:
            raise RuntimeError("the fake Workload API is not running")
        return f"unix://{self.socket}"

    def jwt_svid(self, spiffe_id: str, audience: list[str]) -> str:
        """A fresh JWT-SVID for ``spiffe_id``, valid for ``ttl`` seconds."""
        now = int(self.now())
        return make_jwt(
            {
                "sub": spiffe_id,
                "aud": audience,
                "iat": now,
                "exp": now + int(self.ttl),
                "jti": f"svid-{next(self._serials)}",
            }
        )

    def fetch(self, request: tuple[list[str], str], context: Any) -> list[JwtSvid]:
        """The FetchJWTSVID handler (``context`` a grpc.ServicerContext)."""
        audience, spiffe_id = request
        metadata = tuple((item.key, item.value) for item in context.invocation_metadata())
        recorded = FetchRequest(tuple(audience), spiffe_id, metadata)
        status = grpc_module().StatusCode
        with self._lock:
            self.requests.append(recorded)
        if recorded.security_header != SECURITY_HEADER[1]:
            context.abort(status.INVALID_ARGUMENT, "security header missing from request")
        if self.failure is not None:
            context.abort(getattr(status, self.failure), f"scripted {self.failure}")
        if not audience:
            context.abort(status.INVALID_ARGUMENT, "audience must be specified")
        if self.answer is not None:
            return list(self.answer)
        ids = [one for one in self.spiffe_ids if not spiffe_id or one == spiffe_id]
        if not ids:
            context.abort(status.PERMISSION_DENIED, "no identity issued")
        svids = [JwtSvid(one, self.jwt_svid(one, audience)) for one in ids]
        with self._lock:
            self.issued.extend(svid.token for svid in svids)
        return svids


@contextmanager
def running_workload_api(api: FakeWorkloadApi | None = None) -> Iterator[FakeWorkloadApi]:
    """Serve ``api`` (a new ``FakeWorkloadApi`` by default) on a unix socket in a private
    temporary directory until the block ends; the directory goes with it."""
    grpc = grpc_module()
    api = api or FakeWorkloadApi()
    directory = Path(tempfile.mkdtemp(prefix="spiffe-"))  # short: socket paths are limited
    server = grpc.server(ThreadPoolExecutor(max_workers=4, thread_name_prefix="fake-spiffe"))
    handler = grpc.unary_unary_rpc_method_handler(
        api.fetch, request_deserializer=decode_request, response_serializer=encode_response
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SERVICE, {"FetchJWTSVID": handler})]
    )
    socket = directory / "agent.sock"
    server.add_insecure_port(f"unix:{socket}")
    server.start()
    api.socket = socket
    try:
        yield api
    finally:
        server.stop(None).wait()
        api.socket = None
        shutil.rmtree(directory, ignore_errors=True)
