"""The log file where bugs leave their tracebacks, while the user sees one line."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

from sr_studio.core.paths import user_data_dir


def log_path() -> Path:
    return user_data_dir() / "logs" / "sr-studio.log"


def log_exception(error: BaseException) -> str:
    """Append `error` with its traceback to the log file; return where it went (or why it could not)."""
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError as problem:
        return f"no log: {problem}"
    logger = logging.getLogger("sr_studio")
    logger.addHandler(handler)
    try:
        logger.error("".join(traceback.format_exception(error)))
    finally:
        logger.removeHandler(handler)
        handler.close()
    return str(path)


def send_warnings_to_log() -> None:
    """Library warnings (Pillow's "Invalid APNG…", torch's deprecations) go to the log file instead of the
    user's terminal, where they would read as errors with a source path; files' warnings are already notes."""
    import warnings

    def to_log(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: object = None,
        line: str | None = None,
    ) -> None:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        try:
            path = log_path()
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as log:
                log.write(text)
        except OSError:
            pass

    warnings.showwarning = to_log
