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
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get is unavailable: not installing gnome-keyring; the keyring tests will skip"
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq gnome-keyring dbus libsecret-tools >/dev/null
echo "gnome-keyring installed: $(gnome-keyring-daemon --version 2>/dev/null | head -1)"
