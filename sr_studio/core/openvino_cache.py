"""An on-disk cache of converted OpenVINO models, so that a fresh process does not trace and convert again.

Why: tracing and converting a network (and checking it against torch) is most of what OpenVINO adds to a
fresh process's start; the converted model (IR: an .xml graph and a .bin of weights) reads back in
milliseconds.
- **Key**: everything that changes the converted model: the tensors the network holds (names, dtypes,
  shapes and bytes, hashed after batch-norm folding, so two models that differ only in their weights never
  share an entry), its structure (every submodule's class and plain settings such as `res_scale` or a
  convolution's stride), the source of the classes that define it, the versions of SR Studio, torch and
  OpenVINO, the backend's input policy (alignment, input shape) and `CONVERTER_VERSION`.
- **Entries** are folders written whole: the IR and a manifest of its files' sha256 go to a hidden temp
  folder that is renamed into place, so a reader sees an entry complete or not at all. An entry whose
  files do not match its manifest, or that OpenVINO cannot read, is a miss (one line in the log) and is
  replaced by the next conversion.
- **Compiled kernels**: OpenVINO's own blob cache (`CACHE_DIR`, one blob per tile shape and precision)
  lives in `compiled/` beside the entries and shares their bounds.
- **Bounds**: at most `MAX_MODELS` entries and `MAX_BYTES` in all (entries and blobs); the least recently
  used go first (an entry's manifest is touched on each hit; a blob counts from when it was written).
- **Off**: `SR_STUDIO_NO_MODEL_CACHE=1` turns it off; deleting the folder clears it.

This module never imports OpenVINO (`openvino_backend` is the one place that does): it is handed the
functions that read and save a model.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sr_studio
from sr_studio.core.atomic import write_text_atomic
from sr_studio.core.errors import first_line
from sr_studio.core.logs import log_path
from sr_studio.core.paths import user_data_dir

if TYPE_CHECKING:
    from torch import nn

CONVERTER_VERSION = 1  # raise it when the conversion (trace, input shapes, checks) changes its output
DISABLE_VARIABLE = "SR_STUDIO_NO_MODEL_CACHE"
MAX_MODELS = 8  # converted models kept
MAX_BYTES = 1 << 30  # the whole folder: converted models and compiled blobs
STALE_TEMP_S = 3600  # a temp folder this old was left by a killed writer
MANIFEST = "entry.json"
GRAPH, WEIGHTS = "model.xml", "model.bin"
COMPILED = "compiled"
_PLAIN = (bool, int, float, str, type(None))


def cache_dir() -> Path | None:
    """The cache folder under the user data folder, or None when `SR_STUDIO_NO_MODEL_CACHE` is set."""
    if os.environ.get(DISABLE_VARIABLE, "").strip() not in ("", "0"):
        return None
    return user_data_dir() / "model-cache" / "openvino"


def compiled_dir(folder: Path) -> Path:
    """Where OpenVINO keeps its compiled blobs (its `CACHE_DIR`)."""
    return folder / COMPILED


def ready_compiled_dir(folder: Path) -> Path | None:
    """`compiled_dir`, created; None where it cannot be (a read-only home, a file in the way)."""
    blobs = compiled_dir(folder)
    try:
        blobs.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return blobs


def model_key(network: nn.Module, policy: dict[str, Any]) -> str:
    """A sha256 of everything that shapes `network`'s converted model; `policy` is the converter's part."""
    import torch

    digest = hashlib.sha256()
    facts = {
        "converter": CONVERTER_VERSION,
        "sr_studio": sr_studio.__version__,
        "torch": torch.__version__,
        "policy": policy,
        "structure": _structure(network),
        "sources": _sources(network),
    }
    digest.update(json.dumps(facts, sort_keys=True, default=repr).encode())
    for name, tensor in network.state_dict().items():
        data = tensor.detach().to(device="cpu").contiguous()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def _structure(network: nn.Module) -> list[Any]:
    """Each submodule's class and plain settings (what the weights alone do not say: scale, res_scale…)."""
    rows: list[Any] = []
    for name, module in network.named_modules():
        settings = {
            key: value
            for key, value in sorted(vars(module).items())
            if not key.startswith("_") and key != "training" and _plain(value)
        }
        rows.append([name, f"{type(module).__module__}.{type(module).__qualname__}", settings])
    return rows


def _plain(value: Any) -> bool:
    if isinstance(value, tuple | list):
        return all(_plain(item) for item in value)
    return isinstance(value, _PLAIN)


def _sources(network: nn.Module) -> dict[str, str]:
    """The sha256 of each source file defining the network's classes (torch's own are its version)."""
    found: dict[str, str] = {}
    for module in network.modules():
        name = type(module).__module__
        if name in found or name.split(".")[0] == "torch":
            continue
        try:
            source = inspect.getsourcefile(sys.modules[name])
            found[name] = hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else ""
        except (KeyError, TypeError, OSError):  # a frozen app has no sources: its version stands in
            found[name] = ""
    return found


Explain = Callable[[BaseException], str]  # an error's telling line, for the log


def load(
    folder: Path, key: str, read_model: Callable[[str, str], Any], explain: Explain = first_line
) -> Any | None:
    """The cached model for `key`, or None on a miss; a broken entry is logged, removed and a miss."""
    entry = folder / _entry_name(key)
    manifest_path = entry / MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("key") != key:
            raise ValueError("its manifest names another key")
        for file_name in (GRAPH, WEIGHTS):
            if _sha256(entry / file_name) != manifest["files"][file_name]:
                raise ValueError(f"{file_name} does not match its manifest")
        model = read_model(str(entry / GRAPH), str(entry / WEIGHTS))
    except Exception as error:  # any unreadable entry is a miss, never a failure
        note(
            f"model cache: ignoring {entry.name}: {type(error).__name__}: {explain(error)}; converting again"
        )
        _remove_entry(entry)
        return None
    with contextlib.suppress(OSError):
        os.utime(manifest_path)  # most recently used: kept longest
    return model


def store(
    folder: Path, key: str, model: Any, save_model: Callable[[Any, str], None], explain: Explain = first_line
) -> None:
    """Write `model` as the entry for `key`, whole or not at all; a failure is logged, never raised."""
    name = _entry_name(key)
    temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        temp.mkdir(parents=True)
        save_model(model, str(temp / GRAPH))
        files = {file_name: _sha256(temp / file_name) for file_name in (GRAPH, WEIGHTS)}
        manifest = {"key": key, "converter": CONVERTER_VERSION, "files": files}
        write_text_atomic(temp / MANIFEST, json.dumps(manifest, indent=1))
        final = folder / name
        if final.exists():  # a broken entry: out of the way first, so the rename below can land
            _remove_entry(final)
        os.rename(temp, final)
    except Exception as error:  # a full disk, a read-only home, a rival process that renamed first
        if not (folder / name / MANIFEST).is_file():
            note(f"model cache: cannot write {name}: {type(error).__name__}: {explain(error)}")
        _remove_tree(temp)
        return
    prune(folder)


def prune(folder: Path, max_models: int | None = None, max_bytes: int | None = None) -> list[Path]:
    """Remove the least recently used entries and blobs beyond the bounds (the newest one always stays,
    even alone over the budget), and temp folders that killed writers left."""
    max_models = MAX_MODELS if max_models is None else max_models
    max_bytes = MAX_BYTES if max_bytes is None else max_bytes
    items: list[tuple[float, int, bool, Path]] = []  # (last used, bytes, is an entry, path)
    now = time.time()
    try:
        children = list(folder.iterdir())
        blobs = list(compiled_dir(folder).glob("*.blob")) if compiled_dir(folder).is_dir() else []
    except OSError:
        return []
    removed = []
    for path in children:
        with contextlib.suppress(OSError):
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                if now - path.stat().st_mtime > STALE_TEMP_S:
                    _remove_tree(path)
                    removed.append(path)
            elif (path / MANIFEST).is_file():
                used = (path / MANIFEST).stat().st_mtime
                items.append((used, sum(f.stat().st_size for f in path.iterdir()), True, path))
    for blob in blobs:
        with contextlib.suppress(OSError):
            status = blob.stat()
            items.append((status.st_mtime, status.st_size, False, blob))
    models = total = 0
    newest_first = sorted(items, key=lambda item: item[0], reverse=True)
    for index, (_used, size, is_entry, path) in enumerate(newest_first):
        models += is_entry
        total += size
        if index and (total > max_bytes or (is_entry and models > max_models)):  # the newest stays
            (_remove_entry if is_entry else _remove_file)(path)
            removed.append(path)
            models -= is_entry
            total -= size
    return removed


def usage(folder: Path) -> tuple[int, int]:
    """How many converted models the folder holds, and its bytes in all (entries and blobs)."""
    models = total = 0
    with contextlib.suppress(OSError):
        for path in folder.rglob("*"):
            with contextlib.suppress(OSError):
                if path.is_file():
                    total += path.stat().st_size
                    models += path.name == MANIFEST
    return models, total


def note(text: str) -> None:
    """One line in the log file: cache trouble is ours to record, not the user's to read."""
    with contextlib.suppress(OSError):
        path = log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")


def _entry_name(key: str) -> str:
    return f"ir-{key[:32]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _remove_entry(entry: Path) -> None:
    """Rename the entry out of the way (a reader then misses it whole), then delete it."""
    trash = entry.with_name(f".{entry.name}.{secrets.token_hex(4)}.tmp")
    try:
        os.rename(entry, trash)
    except OSError:
        return
    _remove_tree(trash)


def _remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        return
    except OSError:  # read-only files, which Windows will not delete (OpenVINO writes its blobs so)
        for inner in path.rglob("*"):
            with contextlib.suppress(OSError):
                inner.chmod(stat.S_IWRITE | stat.S_IREAD)
        shutil.rmtree(path, ignore_errors=True)


def _remove_file(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.chmod(stat.S_IWRITE | stat.S_IREAD)  # OpenVINO writes its blobs read-only (Windows refuses)
        path.unlink()
