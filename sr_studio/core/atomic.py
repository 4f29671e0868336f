"""Write files so that a reader never sees half of one: a crash, a full disk or an error leaves the old file
(or no file) in place, never a truncated one.

The data goes to a hidden temp file in the target's own folder (so the final rename stays on one filesystem),
is flushed to disk, and only then renamed over the target.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temp path next to `path` to write to; on a normal exit it replaces `path`, on an exception
    it is deleted and the exception goes on.

    With overwrite=False an existing `path` is refused up front (FileExistsError), and a file that appears
    while we write is not clobbered either: the temp is hard-linked into place, which fails if the name is
    taken; where hard links are unsupported we re-check and rename, which leaves only a tiny window.
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise _exists(path)
    temp = _create_temp(path)
    try:
        yield temp
        with open(temp, "rb+") as written:
            os.fsync(written.fileno())
        if overwrite:
            os.replace(temp, path)
        else:
            _move_without_clobbering(temp, path)
        _fsync_folder(path.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True) -> None:
    """Write `data` to `path` all or nothing."""
    with atomic_write(path, overwrite=overwrite) as temp:
        temp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str, *, overwrite: bool = True) -> None:
    """Write `text` as UTF-8 to `path` all or nothing."""
    with atomic_write(path, overwrite=overwrite) as temp:
        temp.write_text(text, encoding="utf-8")


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temp files that writers of `path` killed mid-write (SIGKILL, power loss) left behind.

    Only names of our own pattern for this one target are touched; call it where no other writer of the
    same target can be running (a batch owns its outputs). Returns what was removed.
    """
    path = Path(path)
    removed: list[Path] = []
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    for temp in candidates:
        if _TEMP_SUFFIX.fullmatch(temp.name[len(path.name) + 2 :]):
            try:
                temp.unlink()
            except OSError:
                continue
            removed.append(temp)
    return removed


_TEMP_SUFFIX = re.compile(r"[0-9a-f]{8}\.tmp")


def _create_temp(path: Path) -> Path:
    """Create `.NAME.XXXXXXXX.tmp` beside `path`; os.open with mode 0o666 lets the umask set the final
    file's permissions, which tempfile.mkstemp's 0o600 would not."""
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def _move_without_clobbering(temp: Path, path: Path) -> None:
    try:
        os.link(temp, path)  # atomic, and fails if `path` exists
    except FileExistsError:
        raise _exists(path) from None
    except OSError:  # the filesystem has no hard links (FAT, some network shares)
        if os.path.lexists(path):
            raise _exists(path) from None
        os.replace(temp, path)
    else:
        temp.unlink()


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort, since some systems (Windows) cannot open a folder."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
