#!/usr/bin/env bash
# Install the real Codex CLI (npm @openai/codex) as an interoperability peer.
# Idempotent; installs into a cache outside the repository and prints the native
# binary's path on the last stdout line. Without npm it says so on stderr and exits 0.
set -euo pipefail

CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
PEERS_DIR="${CODEX_LOGIN_PEERS:-$HOME/.cache/codex-login-peers}"
DIR="$PEERS_DIR/codex"

find_bin() {
  local f
  for f in "$DIR"/node_modules/@openai/codex-*/vendor/*/bin/codex; do
    if [ -x "$f" ]; then printf '%s\n' "$f"; return 0; fi
  done
  return 1
}

installed_version() {
  sed -n '/^ *"version":/{s/^ *"version": *"\([^"]*\)".*/\1/p;q;}' \
    "$DIR/node_modules/@openai/codex/package.json" 2>/dev/null || true
}

if bin="$(find_bin)" && [ "$(installed_version)" = "$CODEX_VERSION" ]; then
  echo "codex $CODEX_VERSION already installed" >&2
  printf '%s\n' "$bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: skipping the Codex CLI peer install" >&2
  exit 0
fi

mkdir -p "$DIR"
echo "installing @openai/codex@$CODEX_VERSION into $DIR" >&2
npm install --prefix "$DIR" --no-audit --no-fund --no-save \
  "@openai/codex@$CODEX_VERSION" >&2

if ! bin="$(find_bin)"; then
  echo "codex native binary not found under $DIR after install" >&2
  exit 1
fi
printf '%s\n' "$bin"
