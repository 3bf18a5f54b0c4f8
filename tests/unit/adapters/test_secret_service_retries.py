"""The Secret Service backend asks again when the daemon says, for a moment, that an
object it holds does not exist (seen from gnome-keyring while other clients wrote: a
reader's load failed with "Item does not exist!"); other failures are said at once.
A failed look-up of the collection closes the D-Bus connection it opened."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from keyring.backends import SecretService
from keyring.errors import KeyringError, KeyringLocked

from codex_login.adapters import secret_service
from codex_login.adapters.secret_service import AGAIN_AFTER, CodexSecretService

exceptions = pytest.importorskip("secretstorage.exceptions")


def vanishing(times: int, then: str = "value") -> Callable[[], str]:
    """An action the daemon answers "does not exist" ``times`` times, then ``then``."""
    calls = iter(range(times + 1))

    def action() -> str:
        if next(calls) < times:
            raise exceptions.ItemNotFoundException("Item does not exist!")
        return then

    return action


def test_an_object_that_vanished_for_a_moment_is_asked_for_again() -> None:
    paused: list[float] = []
    assert secret_service._again_if_vanished(vanishing(2), paused.append) == "value"
    assert paused == list(AGAIN_AFTER[:2])


def test_an_object_that_stays_vanished_is_one_error_after_every_pause() -> None:
    paused: list[float] = []
    action = vanishing(len(AGAIN_AFTER) + 1)
    with pytest.raises(KeyringError, match=r"^the Secret Service failed: Item does not exist!$"):
        secret_service._again_if_vanished(action, paused.append)
    assert paused == list(AGAIN_AFTER)


def test_any_other_failure_is_said_at_once() -> None:
    paused: list[float] = []

    def locked() -> str:
        raise exceptions.LockedException("the collection is locked")

    with pytest.raises(KeyringError, match="the collection is locked"):
        secret_service._again_if_vanished(locked, paused.append)
    assert paused == []


def test_a_read_goes_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = vanishing(1, then="the record")
    monkeypatch.setattr(
        SecretService.Keyring, "get_password", lambda self, service, username: answers()
    )
    assert CodexSecretService().get_password("Codex Auth", "cli|abc") == "the record"


def test_a_save_goes_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = vanishing(1)
    saved: list[tuple[str, str, str]] = []

    def write(self: CodexSecretService, service: str, username: str, password: str) -> None:
        answers()
        saved.append((service, username, password))

    monkeypatch.setattr(CodexSecretService, "_set", write)
    CodexSecretService().set_password("Codex Auth", "cli|abc", "{}")
    assert saved == [("Codex Auth", "cli|abc", "{}")]


class Bus:
    closed = False

    def close(self) -> None:
        self.closed = True


class Collection:
    """A default collection whose lock state the daemon answers with ``locked()``."""

    def __init__(self, locked: Callable[[], bool]) -> None:
        self.is_locked = locked
        self.unlocked = False

    def unlock(self) -> None:
        self.unlocked = True


def vanished() -> bool:
    raise exceptions.ItemNotFoundException("Item does not exist!")


def serving(monkeypatch: pytest.MonkeyPatch, collection: Collection) -> Bus:
    bus = Bus()
    monkeypatch.setattr("secretstorage.dbus_init", lambda: bus)
    monkeypatch.setattr("secretstorage.get_default_collection", lambda connection: collection)
    return bus


def test_a_failed_look_up_of_the_collection_closes_its_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bus = serving(monkeypatch, Collection(vanished))
    with pytest.raises(exceptions.ItemNotFoundException):
        CodexSecretService().get_preferred_collection()
    assert bus.closed


def test_a_collection_left_locked_closes_its_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    collection = Collection(lambda: True)
    bus = serving(monkeypatch, collection)
    with pytest.raises(KeyringLocked):
        CodexSecretService().get_preferred_collection()
    assert collection.unlocked
    assert bus.closed


def test_the_collection_found_keeps_its_connection_open(monkeypatch: pytest.MonkeyPatch) -> None:
    collection = Collection(lambda: False)
    bus = serving(monkeypatch, collection)
    assert CodexSecretService().get_preferred_collection() is collection
    assert not bus.closed
