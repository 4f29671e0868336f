"""Where SR Studio keeps things: built-in models inside the package, the user's own in app data.

`SR_STUDIO_DATA_DIR` replaces the per-user folder, for tests and portable installs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "sr-studio"
DATA_DIR_VARIABLE = "SR_STUDIO_DATA_DIR"


def resources_dir() -> Path:
    """The app's assets: the top-level `resources/` of the source tree, installed as the package
    `sr_studio.resources` (pip, editable or PyInstaller)."""
    bundle = getattr(sys, "_MEIPASS", None)  # set by a PyInstaller-frozen app
    if bundle:
        return Path(bundle) / "sr_studio" / "resources"
    spec = importlib.util.find_spec("sr_studio.resources")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(__file__).resolve().parents[2] / "resources"  # a source tree on PYTHONPATH, never installed


def builtin_models_dir() -> Path:
    """The models shipped with the app."""
    return resources_dir() / "models"


def user_data_dir() -> Path:
    """The per-user data folder (XDG_DATA_HOME on Linux), unless SR_STUDIO_DATA_DIR names another."""
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def user_models_dir() -> Path:
    """Where the user's own imported, fine-tuned and trained models go."""
    return user_data_dir() / "models"
