"""Save the whole X screen as a PNG: the frozen app's screenshot under Xvfb for packaging/README.md.

xvfb-run -a -s "-screen 0 1200x800x24" sh -c 'dist/sr-studio/sr-studio PICTURE & sleep 15;
    QT_QPA_PLATFORM=xcb .venv/bin/python packaging/grab_screen.py OUT.png; kill $!'
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QGuiApplication


def main() -> int:
    app = QGuiApplication(sys.argv[:1])
    shot = app.primaryScreen().grabWindow(0)
    if len(sys.argv) != 2 or not shot.save(sys.argv[1]):
        print("usage: grab_screen.py OUT.png (and a screen to grab)", file=sys.stderr)
        return 1
    print(f"{sys.argv[1]}: {shot.width()}×{shot.height()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
