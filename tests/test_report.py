"""training/report.py on a synthetic run folder: resumes resolved, wall time, table, curves and previews.

training/ is a folder of recipes and scripts, not a package: the script is loaded from its path.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parent.parent / "training" / "report.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("training_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


report = _load_script()


def _upscale(model: float | None, bicubic: float, images: int = 2) -> dict[str, Any]:
    metrics: dict[str, Any] = {"images": images, "bicubic": {"psnr": bicubic, "ssim": 0.5}}
    if model is not None:
        metrics["model"] = {"psnr": model, "ssim": 0.6}
    return metrics


def _write_run(folder: Path, events: list[dict[str, Any]], previews: dict[int, int]) -> Path:
    """events.jsonl (with a last line cut short, as kill -9 can leave it) and previews of given widths."""
    (folder / "previews").mkdir(parents=True)
    lines = [json.dumps(event) for event in events] + ['{"event": "st']
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for step, width in previews.items():
        Image.new("RGB", (width, 100), (step, 80, 160)).save(folder / "previews" / f"step-{step:07d}.png")
    return folder


def _start(time: float, step: int, task: str = "upscale", setup: tuple[str, str] = ("cpu", "fp32")) -> dict:
    device, precision = setup
    return {
        "event": "start",
        "time": time,
        "task": task,
        "name": "tiny",
        "step": step,
        "steps": 40,
        "device": device,
        "precision": precision,
        "resumed": step > 0,
    }


@pytest.fixture
def upscaler_run(tmp_path: Path) -> Path:
    """Stopped at step 30 after an evaluation there, resumed (much later) from the checkpoint at step 20."""
    events = [
        _start(1000.0, 0),
        {"event": "eval", "time": 1001.0, "step": 0, "metrics": _upscale(None, 20.0)},
        {"event": "step", "time": 1010.0, "step": 10, "loss": 0.5, "content": 0.5, "it_s": 1.0},
        {"event": "step", "time": 1020.0, "step": 20, "loss": 0.4, "content": 0.4, "it_s": 1.0},
        {"event": "eval", "time": 1021.0, "step": 20, "metrics": _upscale(21.0, 20.0), "final": False},
        {"event": "checkpoint", "time": 1022.0, "step": 20},
        {"event": "step", "time": 1030.0, "step": 30, "loss": 0.9, "content": 0.9, "it_s": 1.0},
        {"event": "eval", "time": 1031.0, "step": 30, "metrics": _upscale(19.0, 20.0), "final": False},
        {"event": "stopped", "time": 1032.0, "step": 30},
        _start(5000.0, 20),
        {"event": "step", "time": 5010.0, "step": 30, "loss": 0.3, "content": 0.3, "it_s": 2.0},
        {"event": "step", "time": 5020.0, "step": 40, "loss": 0.2, "content": 0.2, "it_s": 2.0},
        {"event": "eval", "time": 5021.0, "step": 40, "metrics": _upscale(22.0, 20.0), "final": False},
        {"event": "eval", "time": 5025.0, "step": 40, "metrics": _upscale(23.5, 21.0, 5), "final": True},
        {"event": "done", "time": 5026.0, "step": 40},
    ]
    return _write_run(tmp_path / "run", events, {20: 300, 30: 300, 40: 1500})


def test_read_run_resolves_the_resume(upscaler_run: Path) -> None:
    run = report.read_run(upscaler_run)
    assert (run.name, run.task, run.steps, run.setups) == ("tiny", "upscale", 40, ["cpu / fp32"])
    assert {step: event["loss"] for step, event in run.losses.items()} == {10: 0.5, 20: 0.4, 30: 0.3, 40: 0.2}
    assert sorted(run.evals) == [0, 20, 40]  # step 30's evaluation was rewound
    assert run.evals[40]["model"]["psnr"] == 22.0
    assert (run.final["step"], run.final["metrics"]["images"]) == (40, 5)
    assert run.seconds == pytest.approx((1032 - 1000) + (5026 - 5000))  # not the 4000 s stopped
    assert run.sessions == 2
    assert sorted(run.previews()) == [20, 40]


def test_main_writes_curves_previews_and_table(
    upscaler_run: Path, tmp_path: Path, qapp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert report.main([str(upscaler_run), "--out", str(out)]) == 0

    with Image.open(out / "tiny-curves.png") as curves:
        assert curves.size == report.CURVES_SIZE
        assert len(curves.convert("RGB").getcolors(maxcolors=1 << 20)) > 20  # lines, text and legend drawn
    assert sorted(path.name for path in out.iterdir()) == ["tiny-curves.png", "tiny-preview-step0000040.png"]
    with Image.open(out / "tiny-preview-step0000040.png") as preview:
        assert preview.size == (1200, 80)  # 1500×100 reduced to the maximum width

    text = capsys.readouterr().out
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()[2:] if "|" in line
    ]
    assert [row[0] for row in rows] == ["0", "20", "40", "40 (final)"]
    assert rows[0] == ["0", "2", "—", "20.00 / 0.5000", "—"]
    assert rows[1] == ["20", "2", "21.00 / 0.6000", "20.00 / 0.5000", "+1.00 dB"]
    assert rows[3] == ["40 (final)", "5", "23.50 / 0.6000", "21.00 / 0.5000", "+2.50 dB"]
    assert "40 of 40 steps, wall time 0 h 00 min 58 s over 2 session(s), 1.333 it/s mean, cpu / fp32." in text


def test_gan_report_keeps_first_and_last_previews(tmp_path: Path) -> None:
    frechet = {"images": 4, "untrained": {"frechet": 50.0}, "real_halves": {"frechet": 0.5}}
    events = [
        _start(0.0, 0, "sample", ("cuda", "bf16")),
        {"event": "eval", "time": 1.0, "step": 0, "metrics": frechet},
        {"event": "step", "time": 2.0, "step": 20, "loss": 2.0, "discriminator": 0.5, "it_s": 4.0},
        {"event": "eval", "time": 3.0, "step": 20, "metrics": {"images": 4, "model": {"frechet": 3.0}}},
        {"event": "step", "time": 4.0, "step": 40, "loss": 1.0, "discriminator": 0.6, "it_s": 4.0},
        {"event": "eval", "time": 5.0, "step": 40, "metrics": {"images": 4, "model": {"frechet": 1.25}}},
    ]
    run = report.read_run(_write_run(tmp_path / "gan", events, {20: 200, 40: 200}))
    out = tmp_path / "out"
    out.mkdir()
    written = report.copy_previews(run, out)
    assert [path.name for path in written] == ["tiny-preview-step0000020.png", "tiny-preview-step0000040.png"]
    rows = [line for line in report.markdown(run).splitlines() if line.startswith("| ")]
    assert rows[1:] == [
        "| 0 | 4 | — | 0.500 | 50.000 |",
        "| 20 | 4 | 3.000 | — | — |",
        "| 40 | 4 | 1.250 | — | — |",
    ]
    assert "40 of 40 steps" in report.markdown(run) and "cuda / bf16" in report.markdown(run)
