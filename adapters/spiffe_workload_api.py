"""A JWT-SVID from the SPIFFE Workload API: ``FetchJWTSVID`` over gRPC on a unix socket.

The identity-token source of ``OPENAI_IDENTITY_TOKEN_SOURCE=spiffe``, asked again at each
exchange (a JWT-SVID is short-lived; the agent rotates it). One unary call per fetch
on a channel of its own, with the security header the Workload API specification
requires (``workload.spiffe.io: true``) and a deadline. The messages are encoded by hand
(``protobuf_wire``), passed to grpcio as the call's serializers: no generated code.

grpcio is the ``spiffe`` extra, imported on the first fetch only (``status`` and
``token`` without SPIFFE never load it). Its errors become the project's here: the
Workload API unavailable or too slow is TryAgain (an agent may be starting), any other
gRPC status, a missing extra or an unusable answer a ConfigurationError.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codex_login.adapters.protobuf_wire import (
    decode_fields,
    encode_fields,
    messages,
    strings,
)
from codex_login.domain.errors import ConfigurationError, TryAgain
from codex_login.domain.workload_identity import (
    SOURCE_VARIABLE,
    WORKLOAD_API,
    JwtSvid,
    SpiffeSource,
    chosen_svid,
)

if TYPE_CHECKING:
    from types import ModuleType

SERVICE = "SpiffeWorkloadAPI"
METHOD = f"/{SERVICE}/FetchJWTSVID"
SECURITY_HEADER = ("workload.spiffe.io", "true")
TIMEOUT = 10.0  # seconds for one fetch, connecting included
MISSING = (
    f"{SOURCE_VARIABLE}=spiffe needs grpcio, the spiffe extra: pip install "
    "'codex-login[spiffe]' (from a checkout: pip install '.[spiffe]')"
)
_UNAVAILABLE = {"UNAVAILABLE", "DEADLINE_EXCEEDED"}

# workload.proto: JWTSVIDRequest{repeated string audience = 1; string spiffe_id = 2;}
# JWTSVIDResponse{repeated JWTSVID svids = 1;} JWTSVID{string spiffe_id = 1; string svid = 2;}
AUDIENCE, REQUEST_SPIFFE_ID = 1, 2
SVIDS = 1
SVID_SPIFFE_ID, SVID_TOKEN = 1, 2


def encode_request(audience: list[str], spiffe_id: str | None = None) -> bytes:
    fields: list[tuple[int, str | bytes]] = [(AUDIENCE, name) for name in audience]
    if spiffe_id:  # proto3: an empty string is not sent
        fields.append((REQUEST_SPIFFE_ID, spiffe_id))
    return encode_fields(fields)


def decode_request(data: bytes) -> tuple[list[str], str]:
    """The audience and SPIFFE ID (empty: any) a JWTSVIDRequest asks for."""
    fields = decode_fields(data)
    spiffe_ids = strings(fields, REQUEST_SPIFFE_ID)
    return strings(fields, AUDIENCE), spiffe_ids[-1] if spiffe_ids else ""


def encode_response(svids: list[JwtSvid]) -> bytes:
    return encode_fields(
        (SVIDS, encode_fields([(SVID_SPIFFE_ID, svid.spiffe_id), (SVID_TOKEN, svid.token)]))
        for svid in svids
    )


def decode_response(data: bytes) -> list[JwtSvid]:
    """The JWT-SVIDs of a JWTSVIDResponse; fields this version does not know are skipped."""
    svids = []
    for raw in messages(decode_fields(data), SVIDS):
        fields = decode_fields(raw)
        ids, tokens = strings(fields, SVID_SPIFFE_ID), strings(fields, SVID_TOKEN)
        svids.append(JwtSvid(ids[-1] if ids else "", tokens[-1] if tokens else ""))
    return svids


def _source_request(source: SpiffeSource) -> bytes:
    return encode_request([source.audience], source.spiffe_id)


def grpc_module() -> ModuleType:
    """grpcio, or the one-line error that names the extra."""
    try:
        return importlib.import_module("grpc")
    except ImportError as exc:
        raise ConfigurationError(MISSING) from exc


def fetch_jwt_svids(source: SpiffeSource, *, timeout: float = TIMEOUT) -> list[JwtSvid]:
    """Every JWT-SVID the Workload API at ``source.socket`` answers for its audience."""
    grpc = grpc_module()
    with grpc.insecure_channel(f"unix:{source.socket}") as channel:
        fetch = channel.unary_unary(
            METHOD, request_serializer=_source_request, response_deserializer=decode_response
        )
        try:
            answer: list[JwtSvid] = fetch(source, timeout=timeout, metadata=[SECURITY_HEADER])
        except grpc.RpcError as exc:
            raise rpc_failure(exc, source) from exc
    return answer


def rpc_failure(exc: Any, source: SpiffeSource) -> Exception:
    """The project's error for a failed call (``exc`` a grpc.RpcError, also a grpc.Call)."""
    code = exc.code().name
    details = " ".join(str(exc.details() or "").split())
    if code in _UNAVAILABLE:
        return TryAgain(
            f"{WORKLOAD_API} at unix:{source.socket} is unavailable or timed out"
            + (f" ({details})" if details else "")
        )
    if code == "INTERNAL" and "deserializ" in details:  # decode_response raised
        return ConfigurationError(f"{WORKLOAD_API} returned an invalid response")
    return ConfigurationError(
        f"{WORKLOAD_API} rejected the request with gRPC status {code}"
        + (f": {details}" if details else "")
    )


def fetch_identity_token(source: SpiffeSource) -> str:
    """The JWT-SVID to exchange, fetched now (blocking: run it off the event loop)."""
    return chosen_svid(fetch_jwt_svids(source), source)
