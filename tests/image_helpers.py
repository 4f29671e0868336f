"""Helpers shared by the image and atomic-write tests: an sRGB profile, a folder's names, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ImageCms

from sr_studio.core.errors import ImageError


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def files_in(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}


def assert_one_line_naming(error: pytest.ExceptionInfo[ImageError], path: Path) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert path.name in message
