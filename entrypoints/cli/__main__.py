"""``python -m codex_login.entrypoints.cli``: the console script's command."""

import sys

from codex_login.entrypoints.cli import main

sys.exit(main())
