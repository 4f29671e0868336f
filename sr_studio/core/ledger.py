"""The result ledger: one JSON line per file's fate in the output folder, written as each fate is known.

A batch's report lives only as long as its process; the ledger outlasts a crash, a killed client or a
scheduler's job, and tells which files a run wrote, skipped or failed, with which model and settings.
Each shard keeps its own file (`sr-studio-ledger-K-of-N.jsonl`) so that shard jobs on shared storage never
append to one file. Lines are appended (a re-run adds its own) and flushed one by one; the file is a log,
not an output, so it is appended to rather than replaced atomically. It is no image, so a batch's scan of
the folder passes over it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sr_studio.core.errors import SRStudioError, first_line

if TYPE_CHECKING:
    from sr_studio.core.batch import OutputOptions
    from sr_studio.core.batch_file import FileFate
    from sr_studio.core.library import ModelEntry
    from sr_studio.core.shard import Shard

LEDGER_NAME = "sr-studio-ledger.jsonl"


def ledger_name(shard: Shard | None = None) -> str:
    """The ledger's file name: one per shard, so shards never share a file."""
    if shard is None:
        return LEDGER_NAME
    return f"sr-studio-ledger-{shard.index}-of-{shard.count}.jsonl"


class Ledger:
    """Appends one line per fate to `folder/ledger_name(shard)`; use it as a context manager."""

    def __init__(
        self,
        folder: Path,
        model: ModelEntry,
        options: OutputOptions,
        requested: dict[str, object],
        *,
        shard: Shard | None = None,
        cluster: str | None = None,
    ) -> None:
        self.path = Path(folder) / ledger_name(shard)
        self._fixed: dict[str, object] = {
            "model": model.name,
            "sha256": model.card.sha256,
            **({"shard": str(shard)} if shard is not None else {}),
            **({"cluster": cluster} if cluster is not None else {}),
        }
        self._requested = requested
        self._output = dataclasses.asdict(options)
        self._file: IO[str] | None = None

    def __enter__(self) -> Ledger:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
            if _ends_torn(self.path):  # a killed writer's half line stays on a line of its own
                self._file.write("\n")
        except OSError as error:
            raise SRStudioError(f"cannot write the ledger: {first_line(error)}", self.path) from None
        return self

    def __exit__(self, *_: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def record(self, fate: FileFate) -> None:
        """Append `fate` as one line and flush it, so that a crash right after loses no fate."""
        if self._file is None:
            raise RuntimeError("the ledger is not open")
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "fate": fate.status,
            "source": str(fate.source),
            "output": None if fate.output is None else str(fate.output),
            "reason": fate.reason,
            "notes": list(fate.notes),
            **self._fixed,
            "settings": {**self._requested, **fate.settings, "output": self._output},
        }
        try:
            self._file.write(json.dumps(line, default=str) + "\n")
            self._file.flush()
        except OSError as error:  # a full disk stops the batch with one line, like any unwritable output
            raise SRStudioError(f"cannot write the ledger: {first_line(error)}", self.path) from None


def _ends_torn(path: Path) -> bool:
    """Whether the file's last line lacks its newline (its writer was killed in the middle of it)."""
    with open(path, "rb") as file:
        if file.seek(0, 2) == 0:
            return False
        file.seek(-1, 2)
        return file.read(1) != b"\n"


def read_ledger(path: Path) -> list[dict[str, object]]:
    """Every whole line of a ledger, oldest first (for tests and tools that sum up a run); the torn last
    line of a killed writer is passed over."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
