"""The device-code login: a code shown here, approved on another device."""

from __future__ import annotations

import attrs

from codex_login.domain.fields_repr import FieldsRepr

DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5: on slow_down, poll 5 seconds less often
MAX_WAIT = 15 * 60.0


@attrs.frozen(repr=False)
class DeviceCode(FieldsRepr):
    """What the user must see (where to go, which code) and what the poll needs."""

    verification_uri: str
    user_code: str
    device_code: str = attrs.field(repr=False)
    interval: float = DEFAULT_INTERVAL
    expires_in: float = MAX_WAIT
    verification_uri_complete: str | None = None


@attrs.frozen(repr=False)
class DevicePending(FieldsRepr):
    """Not approved yet; ``slow_down`` when the issuer asked us to poll less often."""

    slow_down: bool = False
