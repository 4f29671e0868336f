"""The package list in pyproject.toml is the tree: a new subpackage that is not listed would be missing
from every wheel and bundle while the source tree still runs."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_subpackage_of_sr_studio_is_listed() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    in_tree = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "sr_studio").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    mapped = config["package-dir"]
    assert mapped == {"sr_studio.resources": "resources"}
    assert (REPO / "resources" / "__init__.py").is_file()
    assert set(config["packages"]) == in_tree | set(mapped)


def test_the_frozen_entry_point_survives_a_windowed_build_without_streams(tmp_path: Path) -> None:
    """A windowed PyInstaller build sets sys.stdout and sys.stderr to None; printing must not crash it."""
    code = (
        "import runpy, sys; sys.stdout = sys.stderr = None; "
        "sys.argv = ['sr-studio', 'models', 'list']; "
        f"runpy.run_path({str(REPO / 'packaging' / 'entry.py')!r}, run_name='__main__')"
    )
    environment = {**os.environ, "SR_STUDIO_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""  # everything went to the null device, nothing crashed on the way
