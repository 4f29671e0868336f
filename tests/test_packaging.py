"""The package list in pyproject.toml is the tree: a new subpackage that is not listed would be missing
from every wheel and bundle while the source tree still runs."""

from __future__ import annotations

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
