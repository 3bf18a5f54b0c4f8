"""Every setting codex-login reads from the environment, read in one place.

``Settings.from_environ()`` takes one snapshot of the environment; bootstrap wires
the adapters from it, and each command's ``--help`` lists the variables it reads
from the declarations below (name, help text, the help section they belong to).
Values stay text here: each is checked where it is used (a bad lock timeout only
matters to a command that opens a store), with the variable's name in the error.
The files whose place follows from these settings (the credential directory, its
``config.toml``, the managed ``requirements.toml``) are derived here too, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from codex_login.domain.fields_repr import FieldsRepr

# The help sections a command's --help lists, in this order within each section.
STORE = "store"
API_KEY = "api key"
ISSUER = "issuer"
NETWORK = "network"
BROKER = "broker"
BROWSER = "browser"
SERVE = "serve"
POLICY = "policy"
MODEL_API = "model api"
WORKLOAD_IDENTITY = "workload identity"

DEFAULT_HOME = "~/.codex"
CONFIG_FILE = "config.toml"  # the Codex CLI's, in the credential directory
DEFAULT_REQUIREMENTS = Path("/etc/codex/requirements.toml")  # the Codex CLI's managed file
REQUIREMENTS_VARIABLE = "CODEX_LOGIN_REQUIREMENTS"

LABEL_WIDTH = 27  # the column where a variable's help text starts, after two spaces


@attrs.frozen(repr=False, eq=False)
class Variable(FieldsRepr):
    """An environment variable, as ``--help`` shows it.

    ``section`` None: read, but not listed (said by another variable's line, or a
    detail of the platform). ``label``: the left column when it is not ``name``.
    """

    name: str
    help: str
    section: str | None
    label: str | None = None

    def line(self) -> str:
        label = self.label or self.name
        first, *more = self.help.split("\n")
        if len(label) < LABEL_WIDTH:
            head = [f"  {label:<{LABEL_WIDTH}}{first}"]
        else:
            head = [f"  {label}", f"  {'':<{LABEL_WIDTH}}{first}"]
        return "\n".join(head + [f"  {'':<{LABEL_WIDTH}}{text}" for text in more]) + "\n"


def _setting(name: str, help: str, section: str | None = None, **more: Any) -> Any:
    """A field of Settings, read from the variable ``name`` (None when unset or empty)."""
    return attrs.field(default=None, metadata={"variable": Variable(name, help, section, **more)})


def _secret(name: str, help: str, section: str | None = None) -> Any:
    """A setting that may hold a secret: kept out of repr()."""
    return attrs.field(
        default=None, repr=False, metadata={"variable": Variable(name, help, section)}
    )


@attrs.frozen(repr=False, eq=False)
class Settings(FieldsRepr):
    """The environment codex-login reads, read once; each value None when unset or empty."""

    codex_home: str | None = _setting(
        "CODEX_HOME", "credential directory (default ~/.codex)", STORE
    )
    store: str | None = _setting(
        "CODEX_LOGIN_STORE",
        "file, keyring, auto, redis or memory (default:\n"
        "config.toml's cli_auth_credentials_store, or file)",
        STORE,
    )
    redis_url: str | None = _secret(  # may carry a password
        "CODEX_LOGIN_REDIS_URL", "the redis store's server", STORE
    )
    redis_prefix: str | None = _setting(
        "CODEX_LOGIN_REDIS_PREFIX", "the redis store's key prefix", STORE
    )
    redis_password: str | None = _secret(
        "REDISCLI_AUTH", "the redis store's password when the URL has none", STORE
    )
    lock_timeout: str | None = _setting(
        "CODEX_LOGIN_LOCK_TIMEOUT", "seconds to wait for a held lock (default 90)", STORE
    )
    trust_owner: str | None = _setting(
        "CODEX_LOGIN_TRUST_OWNER",
        "one more owner of CODEX_HOME to trust (a uid or\na user name)",
        STORE,
    )
    dumpable: str | None = _setting(
        "CODEX_LOGIN_DUMPABLE",
        "1: let debuggers attach (py-spy, gdb); by default\n"
        "the process is not dumpable while it holds tokens",
        STORE,
    )
    requirements: str | None = _setting(
        REQUIREMENTS_VARIABLE,
        f"the managed login policy file (default\n{DEFAULT_REQUIREMENTS})",
        POLICY,
    )
    openai_api_key: str | None = _secret(
        "OPENAI_API_KEY", "an API-key login, used when nothing is stored", API_KEY
    )
    codex_api_key: str | None = _secret(
        "CODEX_API_KEY", "an API key handed out instead of the login", API_KEY
    )
    federation_rule_id: str | None = _setting(
        "OPENAI_FEDERATION_RULE_ID",
        "workload identity (CI): the federation rule; with\n"
        "OPENAI_IDENTITY_TOKEN_FILE, used instead of any\n"
        "other login or key (CODEX_API_KEY included)",
        WORKLOAD_IDENTITY,
    )
    identity_token_file: str | None = _setting(
        "OPENAI_IDENTITY_TOKEN_FILE",
        "the absolute path of the file holding the current\n"
        "OIDC identity token, read again at each exchange",
        WORKLOAD_IDENTITY,
    )
    identity_token_source: str | None = _setting(
        "OPENAI_IDENTITY_TOKEN_SOURCE",
        "file (default), or spiffe: a JWT-SVID fetched from\n"
        "the SPIFFE Workload API at each exchange (needs\nthe spiffe extra)",
        WORKLOAD_IDENTITY,
    )
    spiffe_endpoint_socket: str | None = _setting(
        "SPIFFE_ENDPOINT_SOCKET",
        "spiffe: the Workload API's unix: socket URI",
        WORKLOAD_IDENTITY,
    )
    spiffe_audience: str | None = _setting(
        "OPENAI_SPIFFE_AUDIENCE",
        "spiffe: the audience of the JWT-SVID (required)",
        WORKLOAD_IDENTITY,
    )
    spiffe_id: str | None = _setting(
        "OPENAI_SPIFFE_ID",
        "spiffe: the SPIFFE ID to ask for when the workload\nhas several",
        WORKLOAD_IDENTITY,
    )
    workload_identity_context: str | None = _setting(
        "OPENAI_WORKLOAD_IDENTITY_CONTEXT",
        "JSON sent with each exchange for the audit log",
        WORKLOAD_IDENTITY,
    )
    codex_access_token: str | None = _secret(
        "CODEX_ACCESS_TOKEN",
        "an access token (at-...) handed out instead of the\nstored login (Business, Enterprise)",
        API_KEY,
    )
    authapi_base_url: str | None = _setting(
        "CODEX_AUTHAPI_BASE_URL",
        "where access tokens are checked (whoami; default\n"
        "https://auth.openai.com/api/accounts; https, or\nplain http to loopback only)",
        NETWORK,
    )
    openai_organization: str | None = _setting(
        "OPENAI_ORGANIZATION", "sent as OpenAI-Organization to the model API", MODEL_API
    )
    openai_project: str | None = _setting(
        "OPENAI_PROJECT", "sent as OpenAI-Project to the model API", MODEL_API
    )
    broker: str | None = _setting(
        "CODEX_LOGIN_BROKER", "a broker's socket path or http://127.0.0.1:PORT", BROKER
    )
    broker_secret_file: str | None = _setting(
        "CODEX_LOGIN_BROKER_SECRET_FILE", "the file holding a TCP broker's secret", BROKER
    )
    issuer: str | None = _setting(
        "CODEX_LOGIN_ISSUER", "the issuer of a new login (--issuer wins)", ISSUER
    )
    client_id: str | None = _setting(
        "CODEX_LOGIN_CLIENT_ID",
        "the client id of a new login (--client-id wins);\n"
        "required for any issuer but auth.openai.com",
        ISSUER,
    )
    issuer_profile: str | None = _setting(
        "CODEX_LOGIN_ISSUER_PROFILE", "openai or standard: how to talk to the issuer", ISSUER
    )
    trusted_origins: str | None = _setting(
        "CODEX_LOGIN_TRUSTED_ENDPOINT_ORIGINS",
        "origins besides the issuer's own where its metadata\n"
        "may put endpoints (e.g. https://oauth2.example.com)",
        ISSUER,
    )
    refresh_url: str | None = _setting(
        "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
        "replace the refresh and revoke endpoints (only on\nthe login's issuer's origin)",
        NETWORK,
        label="CODEX_REFRESH_TOKEN_URL_OVERRIDE, CODEX_REVOKE_TOKEN_URL_OVERRIDE",
    )
    revoke_url: str | None = _setting(
        "CODEX_REVOKE_TOKEN_URL_OVERRIDE",
        "replace the revoke endpoint (see the refresh one)",
    )
    ca_certificate: str | None = _setting(
        "CODEX_CA_CERTIFICATE", "an extra CA bundle to trust (else SSL_CERT_FILE)", NETWORK
    )
    ssl_cert_file: str | None = _setting(
        "SSL_CERT_FILE", "the CA bundle when no CODEX_CA_CERTIFICATE"
    )
    xdg_runtime_dir: str | None = _setting(
        "XDG_RUNTIME_DIR", "where a login's claim on its callback port is kept"
    )
    tmpdir: str | None = _setting("TMPDIR", "the claims' place when no XDG_RUNTIME_DIR")
    display: str | None = _setting("DISPLAY", "an X display: a browser can be opened")
    wayland_display: str | None = _setting(
        "WAYLAND_DISPLAY", "a Wayland display: a browser can be opened"
    )
    listen_pid: str | None = _setting("LISTEN_PID", "systemd: the process LISTEN_FDS are for")
    listen_fds: str | None = _setting(
        "LISTEN_FDS", "systemd socket activation: serve the sockets given", SERVE
    )
    kubernetes_exec_info: str | None = _setting(
        "KUBERNETES_EXEC_INFO",
        "set by kubectl: the ExecCredential version to print",
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``environ`` (default ``os.environ``), read once."""
        env = os.environ if environ is None else environ
        return cls(**{field.name: env.get(variable(field).name) or None for field in _FIELDS})

    def with_home(self, override: Path | str | None) -> Settings:
        """These settings with ``--codex-home`` (or ``codex_home=``) in CODEX_HOME's place."""
        return attrs.evolve(self, codex_home=os.fspath(override)) if override else self

    @property
    def home(self) -> Path:
        """The credential directory: ``CODEX_HOME``, else ``~/.codex``; always absolute."""
        return Path(os.path.abspath(Path(self.codex_home or DEFAULT_HOME).expanduser()))

    @property
    def config_file(self) -> Path:
        """The Codex CLI's ``config.toml`` in the credential directory: the user's login
        policy, the store (when no CODEX_LOGIN_STORE) and the keyring layout."""
        return self.home / CONFIG_FILE

    @property
    def requirements_file(self) -> Path:
        """The managed requirements file: ``CODEX_LOGIN_REQUIREMENTS``, else the Codex CLI's
        ``/etc/codex/requirements.toml``."""
        return Path(self.requirements) if self.requirements else DEFAULT_REQUIREMENTS

    @property
    def requirements_named(self) -> str | None:
        """The variable that named the requirements file (which must then exist), if any."""
        return REQUIREMENTS_VARIABLE if self.requirements else None

    @property
    def graphical_display(self) -> str | None:
        """The X or Wayland display a browser can open on, if any."""
        return self.display or self.wayland_display

    @property
    def ca_file(self) -> str | None:
        """The extra CA bundle: ``CODEX_CA_CERTIFICATE``, else ``SSL_CERT_FILE``."""
        return self.ca_certificate or self.ssl_cert_file


def variable(field: attrs.Attribute[Any]) -> Variable:
    found: Variable = field.metadata["variable"]
    return found


_FIELDS = attrs.fields(Settings)

# Read by the libraries codex-login uses, not by codex-login: listed, not held.
LIBRARY_VARIABLES = (
    Variable("HTTPS_PROXY", "proxies", NETWORK, label="HTTPS_PROXY, NO_PROXY"),
    Variable("BROWSER", "the browser to open (on Linux, DISPLAY is needed)", BROWSER),
    # Decided: as the Codex CLI 0.171 (measured), the model API does not follow it.
    Variable(
        "OPENAI_BASE_URL",
        "not read (as by the Codex CLI): to move the model\n"
        "API, set openai_base_url in config.toml",
        MODEL_API,
    ),
)


# Files whose place follows from the settings: listed beside the variables that move them.
FILES = (
    Variable(
        CONFIG_FILE,
        "the user's login policy (forced_login_method,\n"
        "forced_chatgpt_workspace_id), the store when no\n"
        "CODEX_LOGIN_STORE (cli_auth_credentials_store:\n"
        "file, keyring, auto or ephemeral), keyring layout",
        POLICY,
        label=f"$CODEX_HOME/{CONFIG_FILE}",
    ),
    Variable(
        CONFIG_FILE,
        "openai_base_url: the model API of every login\n(https, or plain http to loopback only)",
        MODEL_API,
        label=f"$CODEX_HOME/{CONFIG_FILE}",
    ),
)


def declared() -> tuple[Variable, ...]:
    """Every variable (and file), in the order --help lists them."""
    return tuple(variable(field) for field in _FIELDS) + LIBRARY_VARIABLES + FILES


def variable_names() -> frozenset[str]:
    """The names of the variables codex-login itself reads."""
    return frozenset(variable(field).name for field in _FIELDS)


def environment_help(*sections: str) -> str:
    """The lines of a --help's environment section: each variable of ``sections``."""
    listed = declared()
    return "".join(
        entry.line() for section in sections for entry in listed if entry.section == section
    )
