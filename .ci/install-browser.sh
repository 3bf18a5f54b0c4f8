#!/usr/bin/env bash
# Installs Debian's Chromium for the page tests (tests/integration/oauth/test_pages.py), which
# drive it headless over the DevTools protocol. Never a downloaded browser. Does nothing
# when `chromium` is already there; without apt-get, says so and exits 0 (the page tests
# then skip with "chromium is not installed", which tests/conftest.py fails under CI).
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
    echo "chromium is installed: $(chromium --version 2>/dev/null)"
    exit 0
fi
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" chromium chromium chromium-driver
if command -v chromium >/dev/null 2>&1; then  # apt-install.sh says why when it could not
    echo "chromium installed: $(chromium --version 2>/dev/null)"
fi
