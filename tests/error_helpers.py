"""The check every bad-input test makes: the user sees one line, and it names the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sr_studio.core.errors import SRStudioError


def assert_one_line_naming(error: pytest.ExceptionInfo[SRStudioError], file: Path | str) -> None:
    """`file` is the path or the bare file name the message must contain."""
    message = str(error.value)
    assert "\n" not in message
    assert (file.name if isinstance(file, Path) else file) in message
