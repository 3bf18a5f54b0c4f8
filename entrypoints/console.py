"""The ``codex-login`` console script: Ctrl-C is one line and exit 130 from the start.

Loading the command's modules takes a while (about 100 ms on a slow machine); Python's
own SIGINT handler would stop that import with a traceback. This module (run after the
package's small ``__init__``) imports only modules built into the interpreter, installs
a handler that ends the process with one line (nothing has started, so nothing can be
lost), loads the command, then gives Ctrl-C back to Python (``KeyboardInterrupt``),
which the command turns into one line.
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import signal as _signal  # the same functions, typed
    from types import FrameType
else:
    import _signal  # signal.py's C half, loaded with the interpreter (signal.py adds enums)

EXIT_INTERRUPTED = 130
CANCELLED = "Cancelled."


def main() -> int:
    _signal.signal(_signal.SIGINT, _cancelled_while_loading)
    # The modules' objects live as long as the process, yet each garbage collection
    # while they load walks all of them again (about a tenth of a short command's
    # start-up): none while they load, and frozen, left out of the command's own.
    # The price: what loading left for a collection stays (about 0.5 MiB, mostly what
    # attrs discards as it builds the classes); collecting it costs as much as it saves.
    # The command's own module, and argparse when there is something to parse, load
    # later, under Python's Ctrl-C and with collections on (few objects: they are frozen).
    gc.disable()
    try:
        from codex_login.entrypoints import cli  # noqa: PLC0415  (after the handler: see above)
    finally:
        gc.freeze()
        gc.enable()
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)
    try:
        return cli.main()
    except KeyboardInterrupt:  # between the handler and the command's own try
        cli.say_interrupted(None)
        return EXIT_INTERRUPTED


def _cancelled_while_loading(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    os.write(2, f"{CANCELLED}\n".encode())
    os._exit(EXIT_INTERRUPTED)
