"""Read someone else's weights file safely and work out which architecture and arguments it fits.

Like spandrel, detection looks at the state dict's keys and shapes only, through each architecture's
descriptor; the library then builds the network and strict-loads the weights, which is the real proof
that the guess fits.
Torch is imported only when a file is read.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sr_studio.core.errors import ModelError, first_line
from sr_studio.models import ARCHITECTURES
from sr_studio.models.architecture import some

if TYPE_CHECKING:
    import torch

WEIGHTS_SUFFIXES = (".safetensors", ".pth", ".pt")
# Checkpoint wrappers seen in the wild, most useful first: BasicSR keeps the EMA weights in params_ema.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
PARALLEL_PREFIX = "module."  # added by DataParallel / DistributedDataParallel
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive format
PICKLE_PROTOCOL = b"\x80"  # its legacy format starts with a pickle protocol opcode


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors in a .safetensors or .pth/.pt file, unwrapped, without unpickling any object."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WEIGHTS_SUFFIXES:
        raise ModelError(
            f"unsupported weights file type {suffix or '(none)'!r} (expected .safetensors, .pth or .pt)", path
        )
    if not path.is_file():
        raise ModelError("file not found", path)
    try:
        raw = _load_safetensors(path) if suffix == ".safetensors" else _load_pickle(path)
        return unwrap_state_dict(raw)
    except ValueError as error:
        raise ModelError(str(error), path) from None
    except OSError as error:
        raise ModelError(f"cannot read file: {first_line(error)}", path) from None


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except Exception as error:  # safetensors raises its own SafetensorError, OSError, ...
        raise ValueError(f"cannot read safetensors file: {first_line(error)}") from None


def state_dict_from_bytes(data: bytes, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file already read into memory (the library hashes it first)."""
    from safetensors.torch import load

    try:
        return load(data)
    except Exception as error:  # safetensors raises its own SafetensorError
        raise ModelError(f"cannot read safetensors file: {first_line(error)}", path) from None


def _load_pickle(path: Path) -> Any:
    import torch

    with open(path, "rb") as file:
        head = file.read(4)
    if head != ZIP_MAGIC and head[:1] != PICKLE_PROTOCOL:  # so that garbage is not reported as a pickle
        raise ValueError("cannot read weights: not a PyTorch file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError("not a plain weights file (refusing to unpickle objects)") from None
    except Exception as error:  # a truncated zip, a TorchScript archive, an unreadable file, ...
        raise ValueError(f"cannot read weights: {first_line(error)}") from None


def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """Peel checkpoint wrappers ({"params": ...}, {"state_dict": ...}) and DataParallel's "module." prefix."""
    import torch

    while isinstance(obj, Mapping):
        inner = next((obj[key] for key in WRAPPER_KEYS if isinstance(obj.get(key), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"no state dict found (the file holds {type(obj).__name__})")
    not_tensors = [str(key) for key, value in obj.items() if not isinstance(value, torch.Tensor)]
    if not_tensors or not all(isinstance(key, str) for key in obj):
        raise ValueError(f"no state dict found (entries that are not tensors: {some(not_tensors)})")
    if all(key.startswith(PARALLEL_PREFIX) for key in obj):
        return {key[len(PARALLEL_PREFIX) :]: value for key, value in obj.items()}
    return dict(obj)


class Detected(NamedTuple):
    """An architecture that fits a state dict, its constructor arguments, and the state under its keys."""

    architecture: str
    arguments: dict[str, Any]
    state: dict[str, torch.Tensor]


def detect_architecture(state_dict: Mapping[str, torch.Tensor]) -> Detected:
    """The first registered architecture whose `detect` accepts the keys and shapes; ValueError otherwise.

    An architecture that recognises its keys but finds them not fitting stops the search, so the
    error names what was recognised and what was not.
    """
    for arch in ARCHITECTURES.values():
        if arch.detect is None:
            continue
        try:
            arguments = arch.detect(state_dict)
        except ValueError as error:
            raise ValueError(f"looks like {arch.name}, but {error}") from None
        if arguments is not None:
            state = dict(state_dict) if arch.rename_keys is None else arch.rename_keys(dict(state_dict))
            return Detected(arch.id, arguments, state)
    known = ", ".join(arch.name for arch in ARCHITECTURES.values() if arch.detect is not None)
    raise ValueError(f"not a known model layout (keys {some(list(state_dict))}; importable: {known})")
