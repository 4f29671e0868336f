"""`--shard K/N`: one of N disjoint parts of a batch, for schedulers that start N plain jobs (Slurm arrays,
Kubernetes indexed jobs) instead of running one engine.

A file belongs to the shard picked by a stable hash (sha256) of its output path relative to its output
folder, written with forward slashes: the same on every machine, in every run, whatever order the folder
lists in, so N shard runs together write exactly the files that one run would.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sr_studio.core.errors import UsageError

if TYPE_CHECKING:
    from sr_studio.core.batch import BatchItem

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


@dataclass(frozen=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, relative_output: str) -> bool:
        """Whether the file with output `relative_output` (posix, under its folder) is this shard's."""
        digest = hashlib.sha256(relative_output.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index - 1

    def select(self, jobs: Sequence[tuple[BatchItem, Path]]) -> list[tuple[BatchItem, Path]]:
        """This shard's (input, output) pairs, in the plan's order."""
        return [(item, target) for item, target in jobs if self.owns(relative_output(item, target))]


def relative_output(item: BatchItem, target: Path) -> str:
    """`target` relative to its output folder: the input's sub-folder (mirrored) and the output name."""
    return (item.relative.parent / target.name).as_posix()


def parse_shard(text: str) -> Shard:
    """Read `K/N` with 1 <= K <= N; anything else is a usage error."""
    match = _SHARD.fullmatch(text)
    if match is None:
        raise UsageError(f"--shard must be K/N (for example 2/8), not {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text}: K must be between 1 and N, and N at least 1")
    return Shard(index, count)
