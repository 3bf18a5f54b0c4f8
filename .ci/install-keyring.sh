#!/usr/bin/env bash
# Installs Debian's gnome-keyring and D-Bus for the keyring tests, which start their own
# Secret Service (tests/support/secret_service.py: dbus-daemon and gnome-keyring-daemon
# on a private bus). Does nothing when both are there; without apt-get, says so and
# exits 0 (those tests then skip with "Secret Service unavailable", which
# tests/conftest.py fails under CI). libsecret-tools brings secret-tool, for inspecting.
set -euo pipefail

if command -v gnome-keyring-daemon >/dev/null 2>&1 && command -v dbus-daemon >/dev/null 2>&1; then
    echo "gnome-keyring and dbus are installed: $(gnome-keyring-daemon --version 2>/dev/null | head -1)"
    exit 0
fi
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" gnome-keyring gnome-keyring dbus libsecret-tools
if command -v gnome-keyring-daemon >/dev/null 2>&1; then  # apt-install.sh says why when it could not
    echo "gnome-keyring installed: $(gnome-keyring-daemon --version 2>/dev/null | head -1)"
fi
