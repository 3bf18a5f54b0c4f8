#!/usr/bin/env bash
# Installs the oidc-provider test issuer (tests/interop/peers/issuer) from its lock file.
# Idempotent: skips npm when node_modules already matches package-lock.json.
# Without npm it only says so: the interop tests that need the issuer then skip.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/interop/peers/issuer" && pwd)"
if ! command -v npm >/dev/null 2>&1; then
    echo "install-issuer: npm not found; the oidc-provider interop tests will be skipped"
    exit 0
fi

stamp="$dir/node_modules/.installed-from-lock"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "install-issuer: oidc-provider already installed"
    exit 0
fi

(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
echo "install-issuer: oidc-provider installed in $dir/node_modules"
