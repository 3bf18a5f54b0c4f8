#!/usr/bin/env bash
# Installs the interoperability peers for tests/interop: the Codex CLI (into a cache
# outside the repository) and the oidc-provider issuer. Without npm, says so and
# exits 0; the interop tests then skip with that reason.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/install-codex.sh" >/dev/null
bash "$here/install-issuer.sh"
