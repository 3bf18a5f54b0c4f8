"""The fake browser: follow an authorization URL (and the sign-in page's form, if any)
to wherever the redirects end, as a user who approves."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

from codex_login.testing.issuer.values import Visit


def approve(authorize_url: str, *, sign_in_page: bool, timeout: float) -> Visit:
    """GET the URL, submit the sign-in form if the issuer shows one, follow redirects."""
    if urlsplit(authorize_url).scheme not in ("http", "https"):
        raise ValueError(f"not a web URL: {authorize_url!r}")
    visit = _visit(authorize_url, timeout=timeout)
    form = _sign_in_form(visit) if sign_in_page else None
    if form is not None:
        action, fields = form
        visit = _visit(urljoin(visit.url, action), fields, timeout=timeout)
    return visit


def in_background(browse: Callable[[], object], errors: list[Exception]) -> threading.Thread:
    """Run ``browse`` in a started thread of its own; an exception lands in ``errors``."""

    def run() -> None:
        try:
            browse()
        except Exception as exc:  # nobody joins this thread: keep it for the test
            errors.append(exc)

    browser = threading.Thread(target=run, name="fake-issuer-browser", daemon=True)
    browser.start()
    return browser


class _FormReader(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and self.action is None:
            self.action, self._in_form = attributes.get("action", ""), True
        elif tag == "input" and self._in_form and "name" in attributes:
            self.fields[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _sign_in_form(visit: Visit) -> tuple[str, dict[str, str]] | None:
    """The sign-in page's form, when the visit ended on it (else None)."""
    if visit.status != 200 or urlsplit(visit.url).path != "/oauth/authorize":
        return None
    reader = _FormReader()
    reader.feed(visit.body)
    return None if reader.action is None else (reader.action, reader.fields)


def _visit(url: str, form: dict[str, str] | None = None, *, timeout: float) -> Visit:
    """GET ``url`` (or POST ``form`` to it) and follow every redirect, as a browser does."""
    # Loopback addresses only: never through a proxy from the environment.
    browser = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = None if form is None else urlencode(form).encode()
    try:
        with browser.open(url, data, timeout=timeout) as page:  # the caller checked the scheme
            return Visit(page.status, page.url, page.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        with exc:
            return Visit(exc.code, exc.url, exc.read().decode("utf-8", "replace"))
