#!/usr/bin/env bash
# Installs Debian's Chromium for the page tests (tests/integration/test_pages.py), which
# drive it headless over the DevTools protocol. Never a downloaded browser. Does nothing
# when `chromium` is already there; without apt-get, says so and exits 0 (the page tests
# then skip with "chromium is not installed", which tests/conftest.py fails under CI).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium is installed: $(chromium --version 2>/dev/null)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get is unavailable: not installing chromium; the page tests will skip"
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
echo "chromium installed: $(chromium --version 2>/dev/null)"
