"""The CLI's wiring: the service or broker client a command asks for, from the
environment read once and the global options (bootstrap does the building)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from codex_login.entrypoints.bootstrap import (
    bootstrap,
    broker_address,
    broker_client,
)

if TYPE_CHECKING:
    from codex_login.application.service import AuthService
    from codex_login.domain.model_api import ModelApi
    from codex_login.domain.tokens import AccessToken
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.settings import Settings


class Factory:
    """Builds what a command works with, and remembers it for main's error messages:
    the service built (to scrub its secrets), whether a broker was asked."""

    def __init__(self, settings: Settings, codex_home: Path | None, io: IO) -> None:
        self.settings = settings
        self.codex_home = codex_home
        self.io = io
        self.built: AuthService | None = None
        self.brokered = False
        self.store_notice: str | None = None  # which store `auto` chose: said by `login`
        self._made: list[AuthService] = []

    def service(
        self, *, issuer: str | None = None, client_id: str | None = None, account: str | None = None
    ) -> AuthService:
        """The application service, wired from the environment."""

        def keep_notice(notice: str) -> None:
            self.store_notice = notice

        service = bootstrap(
            notify=self.io.say,
            store_notice=keep_notice,
            environ=self.settings,
            codex_home=self.codex_home,
            issuer=issuer,
            client_id=client_id,
        )
        self.built = service.for_account(account) if account else service
        self._made += [service, self.built]
        return self.built

    def close(self) -> None:
        """Hang up what the services' stores and shelves hold open (a Redis store's
        connections) as the process's exit would: ``main`` may run in a longer process."""
        for service in self._made:
            # The command's outcome stands: a hang-up that fails is the exit's to finish.
            with contextlib.suppress(Exception):
                service.close_storage()
        self._made.clear()

    def broker_address(self, chosen: str | None = None) -> str | None:
        """The broker to ask instead of a store (``--broker``, CODEX_LOGIN_BROKER), if any."""
        address = broker_address(self.settings, chosen)
        self.brokered = bool(address)
        return address

    def token_from_broker(self, address: str) -> AccessToken:
        """A sandbox's token: asked of the broker, which keeps the login (no store is read)."""
        return self.answer_from_broker(address)[0]

    def answer_from_broker(self, address: str) -> tuple[AccessToken, ModelApi]:
        """A sandbox's token and the model API to call with it, as the broker said them."""
        client = broker_client(address, self.settings, warn=self.io.say)
        token = client.fetch()
        return token, client.model_api_of(token)

    def home(self) -> Path:
        """The credential directory: --codex-home, else $CODEX_HOME, else ~/.codex."""
        return self.settings.with_home(self.codex_home).home
