"""Opening the authorization URL in the user's browser."""

from __future__ import annotations

import os
import sys
import threading
import webbrowser


class SystemBrowser:
    """Opens a graphical browser when there is one; the URL is always printed as well.

    Console browsers (lynx, w3m) are never started: they would take over the
    terminal that shows the URL. Opening runs in a thread so it can never block
    the login. ``display``: the X or Wayland display, if any (``$DISPLAY``,
    ``$WAYLAND_DISPLAY``); on Linux none means no graphical browser.
    """

    def __init__(self, display: str | None) -> None:
        self.display = display

    def graphical(self) -> bool:
        """Whether there may be a graphical browser to open (else ``open`` is a no-op)."""
        return self._has_display()

    def open(self, url: str) -> bool:
        if not self._has_display():
            return False
        opened: list[bool] = []
        worker = threading.Thread(target=lambda: opened.append(_open(url)), daemon=True)
        worker.start()
        worker.join(timeout=5)
        return bool(opened and opened[0])

    def _has_display(self) -> bool:
        return sys.platform in ("darwin", "win32") or bool(self.display)


def _open(url: str) -> bool:
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    if isinstance(browser, webbrowser.GenericBrowser) and _is_console(browser.name):
        return False
    try:
        return browser.open(url, new=2)
    except Exception:  # a broken browser must not break the login
        return False


def _is_console(name: str) -> bool:
    return os.path.basename(name) in {"www-browser", "links", "elinks", "lynx", "w3m"}
