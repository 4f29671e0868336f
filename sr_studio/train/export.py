"""A finished (or improved) run's network saved as a library model, with a card that says how it was made:
recipe, data manifest, every training segment, the machine, and the numbers before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sr_studio import __version__
from sr_studio.core.library import save_model_files
from sr_studio.core.system import cpu_name
from sr_studio.train.config import RunConfig, dump_toml
from sr_studio.train.data import Dataset
from sr_studio.train.segments import this_segment, totals


def machine(device: torch.device, processes: int = 1) -> str:
    """What trained it, for the card: the GPU, or the CPU and its threads; and how many processes."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        from sr_studio.core.engine import cpu_has_fast_bf16

        features = "native bf16" if cpu_has_fast_bf16() else "no native bf16"
        name = f"{cpu_name()} ({features}), {torch.get_num_threads()} torch threads"
    return name if processes == 1 else f"{name}, {processes} processes"


def export_model(
    config: RunConfig,
    trainer: Any,
    output: Path,
    metrics: dict[str, Any],
    state: dict[str, Any],
    device: torch.device,
    precision: str,
    seconds: float,
    *,
    complete: bool,
    processes: int = 1,
) -> Path:
    """Save the trained network as a library model whose card says how it was made and how good it is.

    A model for the user's own library names their folders as they are. One written to an explicit output
    folder (how the built-in models are made, to be shipped) names every path relative to that folder, so
    its card holds nothing of the machine it was built on but what it says in `machine`.
    """
    network, fields = trainer.export()
    dataset: Dataset = trainer.dataset
    anchor = output if config.output is not None else None
    segment = this_segment(
        steps=state["step"],
        seconds=seconds,
        machine=machine(device, processes),
        precision=precision,
        started=state["started"],
        metrics=metrics,
        before=state["before"],
    )
    segments = [*state["lineage"], segment]
    # "Before" numbers on the same images as "after": every evaluation carries its yardsticks (bicubic and
    # the base model; real halves and the untrained generator); the step-0 ones stand in when it has none.
    measured_alongside = {key: value for key, value in metrics.items() if key not in ("images", "model")}
    before = measured_alongside or {key: value for key, value in state["before"].items() if key != "images"}
    entry = save_model_files(
        output,
        network,
        name=config.name,
        overwrite=config.output is not None,
        description=config.description or _describe(config, trainer),
        licence="your own data" if config.output is None else "see data manifest",
        recipe=dump_toml(config, relative_to=anchor),
        data_manifest=dataset.manifest(relative_to=anchor),
        metrics={"images": metrics.get("images"), "before": before, "after": metrics.get("model", {})},
        extra={
            "base_model": trainer.base_name,
            "steps": config.train.steps,
            "steps_done": state["step"],
            "complete": complete,
            "best_step": state.get("best_step"),
            "wall_seconds": round(seconds, 1),
            "device": str(device),
            "machine": machine(device, processes),
            "precision": precision,
            "torch": torch.__version__,
            "sr_studio": __version__,
            "skipped_files": len(dataset.skipped),
            "segments": segments,
            "total": totals(segments),
        },
        **fields,
    )
    return entry.card_path


def _describe(config: RunConfig, trainer: Any) -> str:
    folders = ", ".join(Path(p).name for p in config.data.train)
    start = f"{trainer.base_name} fine-tuned" if trainer.base_name else "trained"
    return f"{start} on {folders} for {config.train.steps} steps"
