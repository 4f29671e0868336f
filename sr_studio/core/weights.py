"""Model weights as untrusted input: built and loaded only when every tensor fits the architecture.

A file that passes its card's hash can still hold NaN or Inf (a diverged training run), integer tensors
where floats belong, or the wrong shapes; each is refused with one line before anything is loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.errors import ModelError, first_line
from sr_studio.models import build

if TYPE_CHECKING:
    import torch
    from torch import nn

_HASH_CHUNK = 1 << 20


def build_network(architecture: str, arguments: dict[str, Any], path: Path) -> nn.Module:
    """The architecture built from card arguments; arguments it rejects are a ModelError naming `path`."""
    try:
        return build(architecture, **arguments)
    except (TypeError, ValueError, KeyError) as error:
        raise ModelError(f"cannot build {architecture} with {arguments}: {first_line(error)}", path) from None


def load_weights(network: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Strict-load `state`, checking every key, shape, dtype and value first so a misfit never half-loads."""
    expected = network.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [
        f"{key} {_shape(state[key])} (expected {_shape(value)})"
        for key, value in expected.items()
        if key in state and state[key].shape != value.shape
    ]
    shared = [key for key in expected if key in state]
    wrong_kind = [
        f"{key} {state[key].dtype}"
        for key in shared
        if state[key].is_floating_point() != expected[key].is_floating_point() or state[key].is_complex()
    ]
    not_finite = [
        key for key in shared if state[key].is_floating_point() and not bool(state[key].isfinite().all())
    ]
    found = (
        ("missing", missing),
        ("unexpected", unexpected),
        ("shape", mismatched),
        ("dtype", wrong_kind),
        ("NaN or Inf in", not_finite),
    )
    problems = [
        f"{label}: {', '.join(items[:3])}{' …' if len(items) > 3 else ''}" for label, items in found if items
    ]
    if problems:
        raise ModelError(f"weights do not fit {type(network).__name__} ({'; '.join(problems)})", path)
    network.load_state_dict(state, strict=True)


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "scalar"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large weights do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
