"""A run's files that bring it back: the checkpoint (resume exactly where it stopped) and the best weights.

The checkpoint holds only tensors and plain values and is read with `weights_only=True`: a run folder is
a file on disk like any other, never unpickled as arbitrary objects. A run on several processes adds every
rank's batch-generator state (`generators`), so each rank resumes its own stream of batches.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from sr_studio.core.atomic import atomic_write, write_bytes_atomic
from sr_studio.core.errors import SRStudioError
from sr_studio.train.distributed import data_seed
from sr_studio.train.protocol import BEST


def save_best(trainer: Any, run_dir: Path) -> None:
    from safetensors.torch import save_file

    weights = {k: v.detach().cpu().contiguous() for k, v in trainer.evaluated.state_dict().items()}
    with atomic_write(run_dir / BEST) as temporary:
        save_file(weights, temporary)


def restore_best(trainer: Any, run_dir: Path) -> None:
    """Put the weights that validated best back into the network that is measured and exported: those of
    the best periodic evaluation (the last step's included), or, for a run that continues a model and never
    beat it, the base model's from step 0. The caller then measures them once more, on every image."""
    from safetensors.torch import load_file

    trainer.evaluated.load_state_dict(load_file(run_dir / BEST))


def save_checkpoint(
    path: Path,
    trainer: Any,
    generator: torch.Generator,
    state: dict[str, Any],
    generators: list[torch.Tensor] | None = None,
) -> None:
    """`generators`: every rank's generator state, in rank order, for a run on several processes."""
    buffer = io.BytesIO()
    extra = {"generators": generators} if generators is not None and len(generators) > 1 else {}
    torch.save(
        {
            "format": 1,
            "trainer": trainer.state_dict(),
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            **extra,
            **state,
        },
        buffer,
    )
    try:
        write_bytes_atomic(path, buffer.getvalue())
    except OSError as error:  # disk full, folder removed: the user can act on it
        raise SRStudioError(f"cannot write the checkpoint: {error.strerror or error}", path) from None


def load_checkpoint(
    path: Path, trainer: Any, generator: torch.Generator, *, rank: int = 0, seed: int = 0
) -> dict[str, Any]:
    """Restore the trainer and `rank`'s generator. A rank the checkpoint has no state for (a run resumed on
    more processes than wrote it) starts a fresh stream seeded from (seed, rank, step)."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        trainer.load_state_dict(saved["trainer"])
    except (RuntimeError, KeyError, OSError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise SRStudioError(
            f"cannot resume from the checkpoint: {str(error).splitlines()[0]}", path
        ) from None
    states = saved.get("generators") or [saved["generator"]]
    if rank < len(states):
        generator.set_state(states[rank])
    else:
        generator.manual_seed(data_seed(seed, rank, int(saved["step"])))
    torch.set_rng_state(saved["torch_rng"])
    keys = ("step", "best", "best_step", "seconds", "before", "started", "lineage")
    return {key: saved[key] for key in keys if key in saved}
