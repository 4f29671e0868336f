"""The frozen app's entry point: the same program as the `sr-studio` command.

`freeze_support` comes first, before anything imports torch or Qt, so that a multiprocessing child of the
frozen executable runs its task instead of a second app. A windowed build has no console: print() to a
`None` stream would raise, so such streams go to the null device (the log file keeps what matters).
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (lives with the process)

    from sr_studio.cli import main

    sys.exit(main())
