"""Report assets for one training run: a curves PNG, preview sheets and a Markdown metrics block.

Each shipped model has a report in training/reports/NAME.md; this builds its pictures and numbers from the
run folder (events.jsonl, previews/) the same way for every run, so nothing in a report is copied by hand.

    .venv/bin/python training/report.py training/runs/srresnet-x4 [--out training/reports] [--markdown FILE]

Resumes: a `start` at step S forgets the steps and evaluations logged after S (the resumed run repeats
them from its checkpoint), and a later entry for a step replaces an earlier one. Wall time is the sum over
sessions (a `start` and the events up to the next one) of the time from the `start` event to the
session's last event: the time between a stop or crash and the resume is not counted, while steps lost to
a crash (redone after the resume) are, since the machine spent that time. Periodic evaluations (on
`eval_images` images) make the curve; the final one (on all images) has its own table row. Mean it/s is
the harmonic mean of the logged rates: steps over time, since each covers `log_every` steps.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget

from sr_studio.ui.wizard.curves import CurvePlot

LOSS_PARTS = ("content", "perceptual", "adversarial", "feature_matching", "discriminator")
MAX_PREVIEW_WIDTH = 1200
CURVES_SIZE = (1000, 360)
EVAL_PANELS = {  # task: the metric, the panel's title, the reference lines (metrics key, label)
    "upscale": ("psnr", "Validation Y-PSNR (dB)", (("bicubic", "bicubic"), ("base", "base model"))),
    "sample": (
        "frechet",
        "Fréchet distance (log scale, lower is better)",
        (("real_halves", "real halves"), ("untrained", "untrained")),
    ),
}


@dataclass
class Run:
    """What a run's log says once resumes are resolved: the entries that count, by step."""

    folder: Path
    name: str = ""
    task: str = "upscale"
    steps: int = 0  # the recipe's total
    setups: list[str] = field(default_factory=list)  # "device / precision" of each session, deduplicated
    losses: dict[int, dict[str, Any]] = field(default_factory=dict)  # step -> the step event
    evals: dict[int, dict[str, Any]] = field(default_factory=dict)  # step -> metrics, periodic ones
    final: dict[str, Any] | None = None  # the final evaluation's event (step, metrics, best_step)
    seconds: float = 0.0
    sessions: int = 0
    lineage: list[dict[str, Any]] = field(default_factory=list)  # earlier segments this run continues

    @property
    def offset(self) -> int:
        """Steps trained before this run: its curve starts there, so a model's curve spans its segments."""
        return sum(int(segment.get("steps") or 0) for segment in self.lineage)

    def previews(self) -> dict[int, Path]:
        """The preview sheets of the evaluations that count, by step."""
        steps = sorted({*self.evals, *([self.final["step"]] if self.final else [])})
        paths = {step: self.folder / "previews" / f"step-{step:07d}.png" for step in steps}
        return {step: path for step, path in paths.items() if path.is_file()}


def read_run(folder: Path) -> Run:
    """Parse `folder`/events.jsonl (an unreadable line, e.g. cut short by kill -9, is skipped)."""
    run = Run(folder)
    session_start = session_end = None
    for line in (folder / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        kind, step = event.get("event"), event.get("step")
        if kind == "start":
            if session_start is not None:
                run.seconds += session_end - session_start
            session_start, run.sessions = event["time"], run.sessions + 1
            run.name, run.task, run.steps = event["name"], event["task"], event["steps"]
            run.lineage = event.get("lineage", run.lineage)
            setup = f"{event['device']} / {event['precision']}"
            run.setups += [setup] if setup not in run.setups else []
            run.losses = {s: e for s, e in run.losses.items() if s <= step}
            run.evals = {s: m for s, m in run.evals.items() if s <= step}
            run.final = run.final if run.final and run.final["step"] <= step else None
        elif kind == "step":
            run.losses[step] = event
        elif kind == "eval" and event.get("final"):
            run.final = event
        elif kind == "eval":
            run.evals[step] = event["metrics"]
        session_end = event.get("time", session_end)
    if session_start is not None:
        run.seconds += session_end - session_start
    return run


def running_mean(values: list[float], half: int) -> list[float]:
    """Each value's geometric mean with `half` neighbours on either side: a mean along the log axis."""
    return [statistics.geometric_mean(values[max(0, i - half) : i + half + 1]) for i in range(len(values))]


def render_curves(run: Run, path: Path) -> None:
    """The loss panel (log y, smoothed) beside the evaluation panel; needs a QApplication."""
    steps = sorted(run.losses)
    half = max(1, len(steps) // 16)
    loss_plot = CurvePlot(
        f"Training loss (log scale, running mean of {2 * half + 1} logged steps)", log_y=True
    )
    total = "generator" if run.task == "sample" else "loss (total)"
    for key, label in (("loss", total), *((part, part) for part in LOSS_PARTS)):
        values = [run.losses[s].get(key) for s in steps]
        if key != "loss" and values == [run.losses[s].get("loss") for s in steps]:
            continue  # the total's only part: the same line
        kept = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None and v > 0]  # log axis
        for (step, _), value in zip(kept, running_mean([v for _, v in kept], half), strict=True):
            loss_plot.add_point(label, run.offset + step, value)
    key, title, references = EVAL_PANELS[run.task]
    eval_plot = CurvePlot(f"{title}, periodic evaluations", log_y=key == "frechet")
    for step, metrics in sorted(run.evals.items()):  # references: their latest periodic value
        images = f"({metrics.get('images')} images)"
        if key in metrics.get("model", {}):
            eval_plot.add_point(f"model {images}", run.offset + step, metrics["model"][key])
        for name, label in references:
            if key in metrics.get(name, {}):
                eval_plot.set_reference(f"{label} {images}", metrics[name][key])
    done = 0
    for segment in run.lineage:  # their logs are gone with their run folders; their cards keep the end
        done += int(segment.get("steps") or 0)
        value = (segment.get("val_after") or {}).get(key)
        if value is not None:
            eval_plot.add_point(f"earlier segments' end ({segment.get('val_images')} images)", done, value)
    widget = QWidget()
    layout = QHBoxLayout(widget)
    for plot in (loss_plot, eval_plot):
        plot.set_x_range(run.offset + run.steps)
        layout.addWidget(plot)
    widget.resize(*CURVES_SIZE)
    layout.activate()
    if not widget.grab().save(str(path)):
        raise OSError(f"cannot write {path}")


def copy_previews(run: Run, out: Path) -> list[Path]:
    """The last preview sheet, and for a GAN the first too; reduced to MAX_PREVIEW_WIDTH if wider."""
    previews = run.previews()
    if not previews:
        return []
    written = []
    for step in sorted({min(previews), max(previews)} if run.task == "sample" else {max(previews)}):
        source, target = previews[step], out / f"{run.name}-preview-step{step:07d}.png"
        with Image.open(source) as image:
            if image.width > MAX_PREVIEW_WIDTH:
                height = round(image.height * MAX_PREVIEW_WIDTH / image.width)
                image.resize((MAX_PREVIEW_WIDTH, height), Image.Resampling.LANCZOS).save(target)
            else:
                shutil.copyfile(source, target)
        written.append(target)
    return written


def _pair(metrics: dict[str, Any], key: str) -> str:
    numbers = metrics.get(key, {})
    return f"{numbers['psnr']:.2f} / {numbers['ssim']:.4f}" if "psnr" in numbers else "—"


def _number(metrics: dict[str, Any], key: str) -> str:
    return f"{metrics[key]['frechet']:.3f}" if "frechet" in metrics.get(key, {}) else "—"


def _delta(metrics: dict[str, Any]) -> str:
    model, bicubic = metrics.get("model", {}), metrics.get("bicubic", {})
    return f"{model['psnr'] - bicubic['psnr']:+.2f} dB" if "psnr" in model and "psnr" in bicubic else "—"


def markdown(run: Run) -> str:
    """The evaluations table (periodic ones, then the final one) and a one-line summary of the run."""
    rows = [(str(step), metrics) for step, metrics in sorted(run.evals.items())]
    if run.final:
        step, best = run.final["step"], run.final.get("best_step")
        weights = f", weights of step {best}" if best not in (None, step) else ""
        rows.append((f"{step} (final{weights})", run.final["metrics"]))
    if run.task == "sample":
        header = ["step", "images", "Fréchet: model", "real halves", "untrained"]
        cells = [
            [s, str(m.get("images")), *(_number(m, k) for k in ("model", "real_halves", "untrained"))]
            for s, m in rows
        ]
    else:
        keys = ["model", "bicubic", *(["base"] if any("base" in m for _, m in rows) else [])]
        header = ["step", "images", *(f"{k} Y-PSNR dB / SSIM" for k in keys), "Δ PSNR vs bicubic"]
        cells = [[s, str(m.get("images")), *(_pair(m, k) for k in keys), _delta(m)] for s, m in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    rates = [e["it_s"] for e in run.losses.values() if e.get("it_s")]
    rate = f"{statistics.harmonic_mean(rates):.3f} it/s mean" if rates else "no rate logged"
    minutes, seconds = divmod(round(run.seconds), 60)
    last = max(run.losses, default=0)
    if run.lineage:
        lines.append(
            f"\nThis run continues {len(run.lineage)} earlier segment(s) of {run.offset} steps; "
            "its steps are counted from there in the curves."
        )
    lines.append(
        f"\n{last} of {run.steps} steps, wall time {minutes // 60} h {minutes % 60:02d} min {seconds:02d} s "
        f"over {run.sessions} session(s), {rate}, {', '.join(run.setups)}."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("training/reports"))
    parser.add_argument("--markdown", type=Path, help="write the Markdown block here instead of stdout")
    parser.add_argument(
        "--lineage-card",
        type=Path,
        help="a run from before starts logged their lineage: take the earlier segments from this card",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QApplication.instance() or QApplication([])  # alive while the curves are painted
    run = read_run(args.run_dir)
    if args.lineage_card and not run.lineage:
        run.lineage = json.loads(args.lineage_card.read_text(encoding="utf-8"))["extra"]["segments"][:-1]
    args.out.mkdir(parents=True, exist_ok=True)
    curves = args.out / f"{run.name}-curves.png"
    render_curves(run, curves)
    written = [curves, *copy_previews(run, args.out)]
    text = markdown(run)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
        written.append(args.markdown)
    else:
        sys.stdout.write(text)
    print("wrote " + ", ".join(map(str, written)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
