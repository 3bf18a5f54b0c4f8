"""The fake OAuth issuer, from the testing kit we ship (``codex_login.testing.issuer``).

Tests import it from here or from the kit alike: the project's own tests use the
kit, so the kit cannot rot.
"""

from __future__ import annotations

from codex_login.testing.issuer import Device, Failure, FakeIssuer, Recorded, Visit, running_issuer

__all__ = ["Device", "Failure", "FakeIssuer", "Recorded", "Visit", "running_issuer"]
