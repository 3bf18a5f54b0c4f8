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
    the login.
    """

    def open(self, url: str) -> bool:
        if not _has_display():
            return False
        opened: list[bool] = []
        worker = threading.Thread(target=lambda: opened.append(_open(url)), daemon=True)
        worker.start()
        worker.join(timeout=5)
        return bool(opened and opened[0])


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


def _has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
