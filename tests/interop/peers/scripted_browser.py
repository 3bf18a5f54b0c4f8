"""A scripted browser for oidc-provider's development login and consent pages.

Standard library only. It walks the authorization request the way a person's browser
would: follows the issuer's redirects, fills the login form (any login name, any
password), submits the consent form, and stops at the redirect that leaves the issuer
for the client's loopback callback.

`approve_device` / `deny_device` play the user of a device-code login (RFC 8628): open
the verification page, enter the user code, confirm (or abort), sign in and consent.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, NoReturn

_MAX_STEPS = 20


class ScriptedBrowserError(Exception):
    """The issuer or the callback answered something a browser could not go on with."""


@dataclass
class _Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            method = attributes.get("method", "get").lower()
            self.forms.append(_Form(attributes.get("action", ""), method))
        elif tag == "input" and self.forms and "name" in attributes:
            self.forms[-1].fields[attributes["name"]] = attributes.get("value", "")


@dataclass(frozen=True)
class _Response:
    status: int
    url: str
    location: str | None
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # no automatic redirect: each one is looked at, and the last one kept


@dataclass(frozen=True)
class CallbackResponse:
    """What the client's callback answered, after following its redirects."""

    status: int
    url: str
    body: str


def _opener(*, follow_redirects: bool) -> urllib.request.OpenerDirector:
    # ProxyHandler({}): loopback traffic must never go through an *_proxy variable.
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if follow_redirects:
        return urllib.request.build_opener(*handlers)
    jar = http.cookiejar.CookieJar()
    handlers += [urllib.request.HTTPCookieProcessor(jar), _NoRedirect()]
    return urllib.request.build_opener(*handlers)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ScriptedBrowserError("the authorization did not complete in time")
    return left


def _fetch(
    opener: urllib.request.OpenerDirector,
    url: str,
    data: dict[str, str] | None,
    deadline: float,
) -> _Response:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ScriptedBrowserError(f"not a web URL: {url}")
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": "text/html"})
    try:
        with opener.open(request, timeout=_remaining(deadline)) as response:
            text = response.read().decode("utf-8", "replace")
            return _Response(response.status, response.geturl(), None, text)
    except urllib.error.HTTPError as error:
        with error:
            text = error.read().decode("utf-8", "replace")
            return _Response(error.code, url, error.headers.get("Location"), text)


def _text(html: str) -> str:
    """The readable text of an error page (oidc-provider's lists error and description)."""
    html = re.sub(r"(?is)<head>.*?</head>", "", html)
    return " ".join(re.sub(r"<[^>]*>", " ", html).split())[:2000]


def _fail(step: _Response, what: str) -> NoReturn:
    raise ScriptedBrowserError(f"{what}: HTTP {step.status} at {step.url}: {_text(step.body)}")


def _fill(form: _Form, login: str) -> dict[str, str]:
    fields = dict(form.fields)
    if "login" in fields:
        fields["login"] = login
        fields["password"] = "any password"
    return fields


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc


def authorization_redirect(authorize_url: str, *, login: str = "user", timeout: float = 30) -> str:
    """Sign in and consent at the issuer; return the callback URL it redirects to.

    The callback request itself is not made. The URL carries `code`, `state` and `iss`
    (or `error`, `error_description`, `state` and `iss` when the issuer refuses).
    """
    deadline = time.monotonic() + timeout
    opener = _opener(follow_redirects=False)
    issuer_origin = _origin(authorize_url)
    url, data = authorize_url, None
    for _ in range(_MAX_STEPS):
        step = _fetch(opener, url, data, deadline)
        if step.status in (301, 302, 303, 307, 308) and step.location:
            url, data = urllib.parse.urljoin(url, step.location), None
            if _origin(url) != issuer_origin:
                return url
            continue
        if step.status != 200:
            _fail(step, "the issuer refused the authorization")
        parser = _FormParser()
        parser.feed(step.body)
        if len(parser.forms) != 1 or parser.forms[0].method != "post":
            _fail(step, "expected one login or consent form")
        form = parser.forms[0]
        url, data = urllib.parse.urljoin(step.url, form.action), _fill(form, login)
    raise ScriptedBrowserError(f"more than {_MAX_STEPS} steps without reaching the callback")


def deliver_callback(callback_url: str, *, timeout: float = 30) -> CallbackResponse:
    """GET the callback URL as a browser would, following its redirect to /success."""
    opener = _opener(follow_redirects=True)
    try:
        with opener.open(callback_url, timeout=timeout) as response:
            body = response.read().decode("utf-8", "replace")
            return CallbackResponse(response.status, response.geturl(), body)
    except urllib.error.HTTPError as error:
        with error:
            body = error.read().decode("utf-8", "replace")
            return CallbackResponse(error.code, error.geturl(), body)


def complete_authorization(authorize_url: str, *, login: str = "user", timeout: float = 30) -> str:
    """Run the whole browser side of a login; return the callback URL that was delivered.

    Raises ScriptedBrowserError when the issuer refuses or the callback answers an error.
    """
    deadline = time.monotonic() + timeout
    callback_url = authorization_redirect(authorize_url, login=login, timeout=timeout)
    answer = deliver_callback(callback_url, timeout=_remaining(deadline))
    if answer.status >= 400:
        raise ScriptedBrowserError(
            f"the callback answered HTTP {answer.status} at {answer.url}: {_text(answer.body)}"
        )
    return callback_url


def approve_device(
    verification_uri: str, user_code: str, *, login: str = "user", timeout: float = 30
) -> None:
    """Enter `user_code` at the verification page, confirm, sign in and consent.

    Returns at the issuer's "Sign-in Success" page; the device's next poll gets tokens.
    """
    _device_steps(verification_uri, user_code, login=login, abort=False, timeout=timeout)


def deny_device(verification_uri: str, user_code: str, *, timeout: float = 30) -> None:
    """Enter `user_code`, then press Abort on the confirm page: the poll gets access_denied."""
    _device_steps(verification_uri, user_code, login="", abort=True, timeout=timeout)


def _device_steps(
    verification_uri: str, user_code: str, *, login: str, abort: bool, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    opener = _opener(follow_redirects=False)
    issuer_origin = _origin(verification_uri)
    url, data = verification_uri, None
    for _ in range(_MAX_STEPS):
        step = _fetch(opener, url, data, deadline)
        if step.status in (301, 302, 303, 307, 308) and step.location:
            url, data = urllib.parse.urljoin(url, step.location), None
            if _origin(url) != issuer_origin:
                _fail(step, "the device login left the issuer")
            continue
        if step.status != 200:
            _fail(step, "the issuer refused the device login")
        if "<title>Sign-in Success</title>" in step.body:
            if abort:
                _fail(step, "the device login was approved, not aborted")
            return
        if 'class="red"' in step.body:  # the code page again, with an error message
            if abort and "interrupted" in step.body:
                return
            _fail(step, "the issuer did not accept the user code")
        parser = _FormParser()
        parser.feed(step.body)
        if len(parser.forms) != 1 or parser.forms[0].method != "post":
            _fail(step, "expected one user code, confirm, login or consent form")
        form = parser.forms[0]
        fields = _fill(form, login)
        if "user_code" in fields:
            fields["user_code"] = fields["user_code"] or user_code
        if abort and fields.pop("confirm", None) is not None:
            fields["abort"] = "yes"  # the confirm page's [ Abort ] button
        url, data = urllib.parse.urljoin(step.url, form.action), fields
    raise ScriptedBrowserError(f"more than {_MAX_STEPS} steps without reaching the end")
