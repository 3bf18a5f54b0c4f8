#!/usr/bin/env bash
# Installs Debian packages for the tests that need a real peer, as root or through sudo:
#   apt-install.sh WHAT PACKAGE...
# Without apt-get, says so and exits 0: the tests that need WHAT then skip with their
# reason, which tests/conftest.py fails under CI.
set -euo pipefail
what=$1
shift
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get is unavailable: not installing $what; the tests that need it will skip"
    exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
