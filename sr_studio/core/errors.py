"""The errors a user can act on, and the one that ends a cancelled job.

Every face (CLI, GUI, training job) shows an `SRStudioError` as its one-line message and nothing else;
anything that is not one is a bug and gets logged with its traceback.
"""

from __future__ import annotations

from os import PathLike


class SRStudioError(Exception):
    """A problem the user can fix: a bad file, a missing model, an unsupported option."""

    def __init__(self, problem: str, path: str | PathLike[str] | None = None) -> None:
        self.problem = " ".join(str(problem).split())  # one line, whatever the cause said
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


class ImageError(SRStudioError):
    """An image that cannot be read or written."""


class ModelError(SRStudioError):
    """A model file or card that cannot be used."""


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set; every face treats it as a normal ending."""


class UsageError(SRStudioError):
    """A request that cannot be carried out as asked (unknown option value, impossible combination)."""


def first_line(error: BaseException | str, limit: int = 200) -> str:
    """The first line of an exception's (or a warning's) message, short enough for a one-line error."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
