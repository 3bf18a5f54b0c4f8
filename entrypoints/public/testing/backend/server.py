"""The fake backend served on 127.0.0.1 from a thread of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from codex_login.testing.loopback import serving

if TYPE_CHECKING:
    from codex_login.testing.backend.fake import FakeBackend


@contextmanager
def running_backend(backend: FakeBackend) -> Iterator[FakeBackend]:
    """Serve ``backend`` on 127.0.0.1 from a background thread until the block ends.

    Its issuer runs on its own (``running_issuer``): the backend only asks it, in
    process, which tokens are current.
    """
    with serving(backend.app(), name="fake-backend") as url:
        backend.url = url
        yield backend
