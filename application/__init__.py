"""Use cases of codex-login; they talk to the domain's ports only."""
