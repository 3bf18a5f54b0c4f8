"""A browser's step that is not followed: where an address redirects to."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the browser "ends on" the redirect: it is not followed


def redirected(url: str) -> str:
    """GET ``url`` as a browser would; where its 302 sends the browser (not followed)."""
    browser = urllib.request.build_opener(urllib.request.ProxyHandler({}), _Stay())
    with pytest.raises(urllib.error.HTTPError) as answer:
        browser.open(url, timeout=30)
    with answer.value as redirect:
        assert redirect.code == 302
        return str(redirect.headers["Location"])
