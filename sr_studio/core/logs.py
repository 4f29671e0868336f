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
