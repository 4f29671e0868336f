"""The UI's shape (issue 17): one package per feature, and wizard pages that share the wizard's state
instead of reaching into each other."""

from __future__ import annotations

import re
from pathlib import Path

UI = Path(__file__).resolve().parent.parent / "sr_studio" / "ui"


def test_every_ui_module_lives_in_its_feature_package() -> None:
    loose = sorted(path.name for path in UI.glob("*.py") if path.name not in ("__init__.py", "common.py"))
    assert loose == []
    features = sorted(path.name for path in UI.iterdir() if (path / "__init__.py").is_file())
    assert features == ["app", "batch", "gan", "jobs", "models", "upscale", "wizard"]


def test_wizard_pages_do_not_reach_into_each_other() -> None:
    reaching = re.compile(r"\bowner\.(\w+_page)\b")
    found = {
        path.name: sorted(set(reaching.findall(path.read_text(encoding="utf-8"))))
        for path in (UI / "wizard").glob("*_page.py")
    }
    assert len(found) == 5
    assert {name: pages for name, pages in found.items() if pages} == {}
