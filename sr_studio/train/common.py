"""Pieces both trainers share: the learning-rate schedule, mixed precision, weight EMA, warm starts."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from sr_studio.core.errors import ModelError
from sr_studio.train.config import TRAINING_PRECISIONS, RunConfig


def lr_at(config: RunConfig, step: int, base_lr: float) -> float:
    """The learning rate for 1-based `step`: a pure function of the step, so resuming needs no state."""
    train = config.train
    if train.warmup and step <= train.warmup:
        return base_lr * step / train.warmup
    if train.schedule == "cosine":
        progress = (step - train.warmup) / max(1, train.steps - train.warmup)
        return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if train.schedule == "step":
        return base_lr * 0.5 ** sum(step > m for m in train.milestones)
    return base_lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def training_precision(request: str, device: torch.device) -> str:
    """bf16 autocast where the hardware runs it natively (CUDA, CPUs with AVX-512 BF16/AMX), else fp32.

    fp16 needs loss scaling to train safely; we do not offer it on the CPU, and on CUDA bf16 is as fast.
    """
    from sr_studio.core.engine import cpu_has_fast_bf16

    if request != "auto":
        if request not in TRAINING_PRECISIONS:  # a recipe's is checked on loading (a usage error)
            choices = " or ".join(TRAINING_PRECISIONS)
            raise ModelError(f"training precision must be auto, {choices}, not {request!r}")
        return request
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    if precision == "bf16":
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            yield
    else:
        yield


class WeightAverage:
    """Exponential moving average of a network's parameters (buffers copied), used for evaluation/export."""

    def __init__(self, network: nn.Module, decay: float, *, ramp: bool = True) -> None:
        self.decay, self.ramp = decay, ramp
        self.network = copy.deepcopy(network).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, network: nn.Module, step: int) -> None:
        """Average in the weights after 1-based `step`. The decay ramps up as (1 + step) / (10 + step), as in
        TensorFlow's EMA: a fixed 0.999 would still hold 60 % of the random initial weights at step 500.
        Without `ramp` (a network warm-started whole) those first weights are worth keeping."""
        decay = min(self.decay, (1 + step) / (10 + step)) if self.ramp else self.decay
        for average, current in zip(self.network.parameters(), network.parameters(), strict=True):
            average.lerp_(current.detach(), 1 - decay)
        for kept, buffer in zip(self.network.buffers(), network.buffers(), strict=True):
            kept.copy_(buffer)


def started_whole(warm_started: tuple[int, int] | None) -> bool:
    """Whether a warm start copied every tensor (then its weight average needs no ramp from scratch)."""
    return warm_started is not None and warm_started[0] == warm_started[1]


def warm_start(network: nn.Module, state: dict[str, torch.Tensor]) -> tuple[int, int]:
    """Copy every tensor whose name and shape match (a ×2 model can start from a ×4 model's body).

    Returns (copied, total) tensor counts.
    """
    own = network.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    network.load_state_dict(matching, strict=False)
    return len(matching), len(own)


def base_state(config: RunConfig, task: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The base model's raw (unfolded) weights and card fields, from the library or a file."""
    base = config.model.base
    if not base:
        return None
    from sr_studio.core.detect import detect_architecture, read_state_dict
    from sr_studio.core.library import ModelLibrary
    from sr_studio.train.segments import card_segments

    path = config.base_file()
    if path is not None:
        state = read_state_dict(path)
        try:
            detected = detect_architecture(state)
        except ValueError as error:
            raise ModelError(str(error), path) from None
        fields = {"architecture": detected.architecture, "arguments": detected.arguments}
        return detected.state, {"name": path.stem, **fields}
    loaded = ModelLibrary().load(base, fold=False)  # verifies the weights against the card
    if loaded.card.task != task:
        raise ModelError(f"base model {base!r} is a {loaded.card.task} model, this run trains a {task} model")
    state = {key: value.clone() for key, value in loaded.network.state_dict().items()}
    return state, {
        "name": loaded.card.name,
        "architecture": loaded.card.architecture,
        "arguments": dict(loaded.card.arguments),
        "segments": card_segments(loaded.card.extra, loaded.card.metrics),
    }
