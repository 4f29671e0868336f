"""Helpers shared by the image and atomic-write tests: an sRGB profile, a folder's names."""

from __future__ import annotations

from pathlib import Path

from PIL import ImageCms


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def files_in(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}
