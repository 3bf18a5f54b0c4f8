"""The fake issuer served on 127.0.0.1 from a thread of its own."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from codex_login.testing.loopback import serving

if TYPE_CHECKING:
    from codex_login.testing.issuer.fake import FakeIssuer


@contextmanager
def running_issuer(
    issuer: FakeIssuer, *, tls: ssl.SSLContext | None = None
) -> Iterator[FakeIssuer]:
    """Serve ``issuer`` on 127.0.0.1 from a background thread until the block ends.

    No pytest needed: ``with running_issuer(FakeIssuer()) as issuer: ...``. With
    ``tls`` (a server ``SSLContext``) it serves HTTPS, and ``issuer.url`` says so.
    """
    with serving(issuer.app(), name="fake-issuer", tls=tls) as url:
        issuer.url = url
        yield issuer
