"""Whether a URL answers, for `doctor --online`: one GET with a short timeout, through
the standard library (no token is sent, nothing is kept)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request


def unreachable(url: str, *, ca_file: str | None = None, timeout: float = 5.0) -> str | None:
    """None when ``url`` answers 200; else why not, in one line."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        context = ssl.create_default_context()
        if ca_file:  # an extra bundle, beside the system's
            context.load_verify_locations(cafile=ca_file)
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310
            status = answer.status
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"{url} cannot be reached: {reason}"
    return None if status == 200 else f"{url} answered {status}"
