"""Importing someone else's weights: read them safely, detect the architecture from keys and shapes,
build it and strict-load it (the real proof the guess fits), and say on the card what is known."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core.detect import WEIGHTS_SUFFIXES, Detected, detect_architecture, read_state_dict
from sr_studio.core.errors import ModelError
from sr_studio.core.weights import build_network, load_weights
from sr_studio.models import ARCHITECTURES

if TYPE_CHECKING:
    from torch import nn

IMPORTED_LICENCE = "unknown — check the model's source"


def detect_and_load(path: Path) -> tuple[nn.Module, Detected, dict[str, Any]]:
    """The network in `path` with its weights loaded, what was detected, and the card fields it implies."""
    state = read_state_dict(path)
    try:
        detected = detect_architecture(state)
    except ValueError as error:
        raise ModelError(str(error), path) from None
    network = build_network(detected.architecture, detected.arguments, path)
    load_weights(network, detected.state, path)
    arch = ARCHITECTURES[detected.architecture]
    description = f"{arch.name} imported from {path.name}" + (
        f"; {arch.import_note}" if arch.import_note else ""
    )
    fields = {"task": arch.task, "source": str(path.resolve()), "licence": IMPORTED_LICENCE}
    return network, detected, {**fields, "description": description}


def weights_files(paths: list[Path]) -> list[Path]:
    """The files an import names: each file as given, and every weights file directly inside a folder."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in WEIGHTS_SUFFIXES)
        else:
            found.append(path)
    return found
