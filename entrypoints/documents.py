"""The CLI's JSON documents: ``status --json``, ``token --json``, ``accounts --json``,
``demo --json``, the ``--json`` error document and ``token --format exec-credential``.

Each document is an attrs class written by one converter, its keys in the fields'
order; modes are spelled as auth.json spells them, moments written as auth.json
writes them. Scripts read these documents: a key is never renamed or moved. The
contract's documents begin with ``"version": 1`` (``VERSION``) and each has a JSON
Schema in ``schemas/`` (docs/json.md): a new key may appear within a version; a key
removed, renamed or given another type is a new version.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
from cattrs.gen import make_dict_unstructure_fn, override

from codex_login.domain.access_tokens import kind_of
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import mode_name
from codex_login.domain.timestamps import format_timestamp

if TYPE_CHECKING:
    from codex_login.application.status import Status
    from codex_login.domain.accounts import Account
    from codex_login.domain.model_api import ModelApi
    from codex_login.domain.tokens import AccessToken


@attrs.frozen(repr=False)
class NotLoggedInDocument(FieldsRepr):
    """``status --json`` with no login; ``refused`` says why a stored one does not count."""

    logged_in: bool = False
    refused: str | None = None  # omitted when there is no refusal


@attrs.frozen(kw_only=True, repr=False)
class BrokeredStatusDocument(FieldsRepr):
    """``status --json`` in a sandbox: the login the broker hands tokens out for."""

    logged_in: bool = True
    mode: str
    broker: str
    account_id: str | None
    access_token_expires_at: datetime | None
    kind: str  # in the Codex CLI's words, as status's first line says it

    @classmethod
    def of(cls, token: AccessToken, broker: str) -> BrokeredStatusDocument:
        return cls(
            mode=mode_name(token.mode),
            broker=broker,
            account_id=token.account_id,
            access_token_expires_at=token.expires_at,
            kind=kind_of(token),
        )


@attrs.frozen(kw_only=True, repr=False)
class StatusDocument(FieldsRepr):
    """``status --json`` of a login."""

    logged_in: bool = True
    mode: str
    foreign_login: str | None
    source: str
    email: str | None
    plan: str | None
    account_id: str | None
    issuer: str | None
    client_id: str | None
    last_refresh: datetime | None
    access_token_expires_at: datetime | None
    refresh_due: bool | None
    api_key: str | None  # masked
    overridden_by: str | None
    warnings: list[str]
    kind: str  # in the Codex CLI's words: "ChatGPT", "API key", "personal access token"...

    @classmethod
    def of(cls, status: Status) -> StatusDocument:
        return cls(
            mode=mode_name(status.mode),
            foreign_login=status.foreign,
            source=status.source,
            email=status.email,
            plan=status.plan,
            account_id=status.account_id,
            issuer=status.issuer,
            client_id=status.client_id,
            last_refresh=status.last_refresh,
            access_token_expires_at=status.access_token_expires_at,
            refresh_due=status.refresh_due,
            api_key=status.masked_api_key,
            overridden_by=status.overridden_by,
            warnings=list(status.warnings),
            kind=status.kind,
        )


@attrs.frozen(repr=False)
class TokenDocument(FieldsRepr):
    """``token --json``: the credential, its mode and expiry, and the model API to call
    with it: its base URL and every header a request must carry."""

    token: str = attrs.field(repr=False)
    mode: str
    expires_at: datetime | None
    account_id: str | None
    base_url: str
    headers: dict[str, str] = attrs.field(repr=False)

    @classmethod
    def of(cls, token: AccessToken, api: ModelApi) -> TokenDocument:
        return cls(
            token.token,
            mode_name(token.mode),
            token.expires_at,
            token.account_id,
            api.base_url,
            dict(api.headers),
        )


@attrs.frozen(repr=False)
class AccountDocument(FieldsRepr):
    """One entry of ``accounts --json``."""

    name: str
    active: bool
    mode: str
    email: str | None
    plan: str | None
    workspace_id: str | None
    issuer: str | None
    kind: str  # in the Codex CLI's words: "ChatGPT", "API key", ...
    api_key: str | None  # masked

    @classmethod
    def of(cls, account: Account) -> AccountDocument:
        return cls(
            account.name,
            account.active,
            account.mode,
            account.email,
            account.plan,
            account.workspace,
            account.issuer,
            account.kind,
            account.masked_api_key,
        )


@attrs.frozen(repr=False)
class AccountsDocument(FieldsRepr):
    """``accounts --json``: the stored logins, the active one first."""

    accounts: list[AccountDocument]


@attrs.frozen(repr=False)
class ErrorDetail(FieldsRepr):
    """What failed (``code``: a kind of ``domain/outcomes.py``), said in one line, and
    what to do about it (None when the message says it all)."""

    code: str
    message: str
    action: str | None


@attrs.frozen(repr=False)
class ErrorDocument(FieldsRepr):
    """A ``--json`` command's failure, on stdout beside the line on stderr."""

    error: ErrorDetail


EXEC_CREDENTIAL_API = "client.authentication.k8s.io/v1"
# The versions whose ExecCredential has this shape (v1alpha1 is gone from kubectl).
EXEC_CREDENTIAL_APIS = (EXEC_CREDENTIAL_API, "client.authentication.k8s.io/v1beta1")


def exec_credential_api(exec_info: str | None) -> str:
    """The apiVersion kubectl asks for in KUBERNETES_EXEC_INFO (an ExecCredential of its
    own) when it is one of ours, else v1. Its ``spec.interactive`` needs nothing here:
    ``token`` never prompts."""
    try:
        asked = json.loads(exec_info or "{}").get("apiVersion")
    except (ValueError, AttributeError):  # not JSON, or not an object: kubectl's is both
        asked = None
    return asked if asked in EXEC_CREDENTIAL_APIS else EXEC_CREDENTIAL_API


@attrs.frozen(repr=False)
class ExecCredentialStatus(FieldsRepr):
    token: str = attrs.field(repr=False)
    expirationTimestamp: datetime | None = None  # noqa: N815  (Kubernetes' spelling)


@attrs.frozen(kw_only=True, repr=False)
class ExecCredentialDocument(FieldsRepr):
    """``token --format exec-credential``: a Kubernetes exec plugin's answer. No
    ``expirationTimestamp`` for a credential without expiry (an API key): kubectl then
    keeps it until the server refuses it."""

    apiVersion: str = EXEC_CREDENTIAL_API  # noqa: N815
    kind: str = "ExecCredential"
    status: ExecCredentialStatus

    @classmethod
    def of(
        cls, token: AccessToken, api_version: str = EXEC_CREDENTIAL_API
    ) -> ExecCredentialDocument:
        # Whole seconds, rounded down: as Kubernetes writes a time, never past the expiry.
        expiry = None if token.expires_at is None else token.expires_at.replace(microsecond=0)
        return cls(apiVersion=api_version, status=ExecCredentialStatus(token.token, expiry))


# -- demo --json: one entry per step, its facts' keys after its outcome ---------------


@attrs.frozen(kw_only=True, repr=False)
class SignInFacts(FieldsRepr):
    how: str  # "browser" or "http"
    callback_port: int
    email: str | None
    plan: str


@attrs.frozen(kw_only=True, repr=False)
class StatusFacts(FieldsRepr):
    exit_status: int
    output: list[str]


@attrs.frozen(kw_only=True, repr=False)
class TokenFacts(FieldsRepr):
    refresh_requests: int
    expires_in: float


@attrs.frozen(kw_only=True, repr=False)
class RefreshFacts(FieldsRepr):
    waited: float
    refresh_requests: int
    refresh_token_rotated: bool
    old_refresh_token_works: bool


@attrs.frozen(kw_only=True, repr=False)
class ProcessesFacts(FieldsRepr):
    waited: float
    processes: int
    refresh_requests: int
    same_token: bool


@attrs.frozen(kw_only=True, repr=False)
class LogoutFacts(FieldsRepr):
    revoke_requests: int
    removed: bool
    refresh_token_works: bool


DemoFacts = SignInFacts | StatusFacts | TokenFacts | RefreshFacts | ProcessesFacts | LogoutFacts


@attrs.frozen(kw_only=True, repr=False)
class DemoStepDocument(FieldsRepr):
    """One step of ``demo --json``: its name, outcome and time, then why it failed
    (``error``) or what it found (its facts' keys, in the same object)."""

    step: str
    ok: bool
    seconds: float
    error: str | None = None  # omitted when the step passed
    facts: DemoFacts | None = None


@attrs.frozen(kw_only=True, repr=False)
class DemoDocument(FieldsRepr):
    """``demo --json``: the whole run, emitted also when a step failed."""

    ok: bool
    issuer: str | None
    codex_home: str
    seconds: float
    codex_home_removed: bool
    steps: list[DemoStepDocument]


@attrs.frozen(repr=False)
class DoctorCheckDocument(FieldsRepr):
    """One check of ``doctor --json``: ``fix`` null when it passed."""

    name: str
    ok: bool
    said: str
    fix: str | None


@attrs.frozen(repr=False)
class DoctorDocument(FieldsRepr):
    """``doctor --json``: every check, and whether all passed."""

    checks: list[DoctorCheckDocument]
    ok: bool


VERSION = 1
# The documents of the versioned contract (docs/json.md), each with its schema.
Versioned = (
    NotLoggedInDocument
    | StatusDocument
    | BrokeredStatusDocument
    | TokenDocument
    | AccountsDocument
    | ErrorDocument
    | DoctorDocument
)
Document = Versioned | DemoDocument | ExecCredentialDocument


def dumps(document: Document) -> str:
    """The document as the CLI prints it: JSON, 2-space indent, ASCII; a versioned one
    with ``"version"`` first."""
    data = _converter().unstructure(document)
    if isinstance(document, Versioned):
        data = {"version": VERSION} | data
    return json.dumps(data, indent=2)


def error_document(code: str, message: str, action: str | None) -> ErrorDocument:
    return ErrorDocument(ErrorDetail(code, message, action or None))


@functools.cache
def _converter() -> cattrs.Converter:
    """Built on first use: a command that prints no JSON never pays for it."""
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, format_timestamp)
    converter.register_unstructure_hook(
        NotLoggedInDocument,
        make_dict_unstructure_fn(
            NotLoggedInDocument, converter, refused=override(omit_if_default=True)
        ),
    )
    step_fields = make_dict_unstructure_fn(
        DemoStepDocument,
        converter,
        error=override(omit_if_default=True),
        facts=override(omit=True),
    )

    def demo_step(step: DemoStepDocument) -> dict[str, Any]:
        facts = {} if step.facts is None else converter.unstructure(step.facts)
        return step_fields(step) | facts

    converter.register_unstructure_hook(DemoStepDocument, demo_step)
    converter.register_unstructure_hook(
        ExecCredentialStatus,
        make_dict_unstructure_fn(
            ExecCredentialStatus, converter, expirationTimestamp=override(omit_if_default=True)
        ),
    )

    return converter
