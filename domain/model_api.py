"""Where a login's model requests go, and the headers they carry: the Codex CLI's rules.

Measured with Codex 0.171 and read in codex-rs (the built-in ``openai`` model provider):

- the model API of a ChatGPT login is ``https://chatgpt.com/backend-api/codex``; that of
  an API key ``https://api.openai.com/v1``;
- ``openai_base_url`` in ``$CODEX_HOME/config.toml`` moves it, for every kind of login;
  ``OPENAI_BASE_URL`` in the environment moves neither (Codex 0.171 no longer reads it),
  so codex-login does not read it either;
- every request carries ``Authorization: Bearer <token>``, and ``ChatGPT-Account-ID``
  when the login belongs to an account or workspace (a ChatGPT login's
  ``tokens.account_id``); ``OpenAI-Organization`` and ``OpenAI-Project`` when
  ``OPENAI_ORGANIZATION`` / ``OPENAI_PROJECT`` are set (not blank).

Codex's own ``originator``, ``user-agent`` and ``version`` headers name the Codex CLI:
they are not part of the login, and a client sends its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from codex_login.domain.errors import ConfigurationError
from codex_login.domain.fields_repr import FieldsRepr
from codex_login.domain.modes import AuthMode
from codex_login.domain.tokens import AccessToken

CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex"
API_KEY_BASE_URL = "https://api.openai.com/v1"
AUTHORIZATION = "Authorization"
ACCOUNT_HEADER = "ChatGPT-Account-ID"
ORGANIZATION_HEADER = "OpenAI-Organization"
PROJECT_HEADER = "OpenAI-Project"
BASE_URL_KEY = "openai_base_url"  # the config.toml key


def _header_names(headers: Mapping[str, str]) -> str:
    # The values hold the bearer token: a repr shows which headers there are, not what.
    return f"<{', '.join(headers)}>"


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(headers))


@attrs.frozen(repr=False)
class ModelApi(FieldsRepr):
    """The model API of a login: its base URL and every header a request must carry.

    ``headers`` holds the bearer token; neither ``repr`` nor ``str`` shows its values.
    """

    base_url: str
    headers: Mapping[str, str] = attrs.field(
        # Read-only; compared by its items, left out of the hash (a mapping has none).
        converter=_frozen_headers,
        repr=_header_names,
        eq=dict,
        hash=False,
    )


@attrs.frozen(repr=False)
class ModelApiSettings(FieldsRepr):
    """What the configuration says about the model API, whatever the login:
    ``openai_base_url`` (config.toml) and the ``OPENAI_ORGANIZATION`` / ``OPENAI_PROJECT``
    environment variables; each None when not set."""

    base_url: str | None = None
    organization: str | None = None
    project: str | None = None

    def model_api(self, token: AccessToken) -> ModelApi:
        """The model API to call with ``token``."""
        return ModelApi(self.base_url or default_base_url(token.mode), self.headers(token))

    def headers(self, token: AccessToken) -> dict[str, str]:
        """Every header a request signed with ``token`` carries."""
        headers = {AUTHORIZATION: token.authorization}
        if token.account_id:
            headers[ACCOUNT_HEADER] = token.account_id
        if self.organization and self.organization.strip():
            headers[ORGANIZATION_HEADER] = self.organization
        if self.project and self.project.strip():
            headers[PROJECT_HEADER] = self.project
        return headers


def header_value(variable: str, value: str | None) -> str | None:
    """The environment's ``value`` of ``variable`` as a header carries it: trimmed, None
    when blank. A line break or another character a header cannot carry (a control
    character, anything outside ASCII) is refused: it would end the header early or
    fail every request."""
    trimmed = (value or "").strip()
    if any(not (" " <= char <= "~") for char in trimmed):
        raise ConfigurationError(
            f"{variable} holds a character an HTTP header cannot carry (a line break, a "
            "control character or a letter outside ASCII); set it to the id alone"
        )
    return trimmed or None


def default_base_url(mode: AuthMode) -> str:
    """The model API of a login of ``mode`` when nothing moves it."""
    return CHATGPT_BASE_URL if mode is AuthMode.CHATGPT else API_KEY_BASE_URL


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a model API's base URL, or None when it can.

    An https URL, or plain http to a loopback host (127.0.0.0/8, ::1, localhost): the
    bearer token must never cross a network in the clear.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415  (only a configured override pays)

    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return "must be an http(s) URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s) URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry user info"
    if parts.scheme == "http" and not is_loopback(host):
        return "must be https:// (plain http:// only to 127.0.0.1, ::1 or localhost)"
    return None


def is_loopback(host: str) -> bool:
    """``localhost``, an address in 127.0.0.0/8, or ``::1``."""
    if host.lower() == "localhost":
        return True
    import ipaddress  # noqa: PLC0415  (only a configured override pays for it)

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
