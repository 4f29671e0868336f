"""Add SR Studio to this user's application menu and to "Open with" on Linux (freedesktop.org).

Writes the desktop entry, with `Exec` pointing at this very install (the bundle's executable, or the
`sr-studio` script of this environment) and `MimeType` listing what it reads, and the icons at every
size into the user's icon theme folder. Nothing needs root; removing the files undoes it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from sr_studio.core import paths
from sr_studio.core.atomic import write_bytes_atomic, write_text_atomic

DESKTOP_FILE = "sr-studio.desktop"
ICON_NAME = "sr-studio"


def data_home() -> Path:
    """$XDG_DATA_HOME, or ~/.local/share when it is unset (the freedesktop default)."""
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launch_command() -> str:
    """How the desktop starts this install: the frozen executable, or this environment's `sr-studio`."""
    if getattr(sys, "frozen", False):
        return shlex.quote(sys.executable)
    script = Path(sys.executable).with_name("sr-studio")
    if script.is_file():
        return shlex.quote(str(script))
    found = shutil.which("sr-studio")
    return shlex.quote(found) if found else f"{shlex.quote(sys.executable)} -m sr_studio"


# Formats Pillow names no MIME type for, by their freedesktop.org (shared-mime-info) names.
_MORE_MIME_TYPES = {"DDS": ("image/x-dds",), "HEIF": ("image/heif", "image/heic")}


def mime_types() -> list[str]:
    """The MIME types of every format this install reads (HEIC only where pillow-heif is installed)."""
    from PIL import Image

    from sr_studio.core.formats import readable_formats

    types = set()
    for name in readable_formats():
        types.update(_MORE_MIME_TYPES.get(name, ()))
        if name in Image.MIME and not Image.MIME[name].startswith("application/"):
            types.add(Image.MIME[name])
    return sorted(types)


def desktop_entry(command: str) -> str:
    """The packaged entry with `Exec` set to `command` and `MimeType` to what this install reads."""
    text = (paths.resources_dir() / DESKTOP_FILE).read_text(encoding="utf-8")
    replaced = {"Exec=": f"Exec={command} %F", "MimeType=": f"MimeType={';'.join(mime_types())};"}
    lines = [next((v for k, v in replaced.items() if line.startswith(k)), line) for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def install(target: Path | None = None) -> list[Path]:
    """Write the entry and icons under `target` (default: the user's data folder); return what was written."""
    target = target or data_home()
    written = [target / "applications" / DESKTOP_FILE]
    written[0].parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(written[0], desktop_entry(launch_command()))
    icons = paths.resources_dir() / "icons"
    for source in sorted(icons.glob(f"{ICON_NAME}*")):
        size = source.stem.removeprefix(ICON_NAME).lstrip("-")
        folder = "scalable" if source.suffix == ".svg" else f"{size}x{size}"
        destination = target / "icons" / "hicolor" / folder / "apps" / f"{ICON_NAME}{source.suffix}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(destination, source.read_bytes())
        written.append(destination)
    return written
