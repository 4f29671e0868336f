"""What the wizard's pages decide, kept in one place the wizard owns.

Each page writes its decision here when the user moves on and later pages read it, so no page reaches into
another (the data page's scan, the settings page's plan, the train page's result).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the scan's module brings torch: never at start-up
    from sr_studio.train.data import ScanSummary
    from sr_studio.ui.wizard.plan import Plan
    from sr_studio.ui.wizard.training_process import UnfinishedRun


@dataclass
class RunOutcome:
    """A run that ended with `done`: what the finish page shows and installs."""

    task: str
    name: str
    run_dir: Path | None
    done: dict[str, Any]
    baseline: dict[str, Any]
    base_name: str | None


@dataclass
class WizardState:
    resume: UnfinishedRun | None = None  # what page: a stopped run to continue instead of a new one
    folder: Path | None = None  # data page: the pictures, their scan and the validation share
    summary: ScanSummary | None = None
    val_share: float = 0.0
    plan: Plan | None = None  # settings page: the new run
    outcome: RunOutcome | None = None  # train page: the finished run
