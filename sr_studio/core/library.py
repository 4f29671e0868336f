"""The model library: built-in and user models, each a NAME.safetensors file plus a NAME.json card.

Listing models and reading cards never imports torch, so the CLI and the GUI start fast; torch comes in
only when weights are loaded, saved or imported. A model is loaded only if its weights hash to the
sha256 on its card and fit the card's architecture exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_studio.core import paths
from sr_studio.core.atomic import atomic_write, write_text_atomic
from sr_studio.core.card import NAME_MAX, ModelCard, check_name, sanitise_name
from sr_studio.core.detect import state_dict_from_bytes
from sr_studio.core.errors import ModelError, first_line
from sr_studio.core.weights import build_network, load_weights, sha256_file
from sr_studio.models import ARCHITECTURES
from sr_studio.models.architecture import Architecture

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "NAME_MAX",
    "LoadedModel",
    "ModelCard",
    "ModelEntry",
    "ModelLibrary",
    "check_name",
    "sanitise_name",
]

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
PREFERRED_DEFAULTS = {"upscale": "srresnet-x4", "sample": "dcgan-emoji-64"}


@dataclass(frozen=True)
class ModelEntry:
    """A model found on disk: its card and the two files."""

    card: ModelCard
    weights_path: Path
    card_path: Path
    builtin: bool

    @property
    def name(self) -> str:
        return self.card.name


@dataclass
class LoadedModel:
    """A network ready for inference: eval mode, batch norm folded, no gradients."""

    card: ModelCard
    network: nn.Module
    entry: ModelEntry

    @property
    def scale(self) -> int | None:
        return self.card.scale

    @property
    def architecture(self) -> Architecture:
        return ARCHITECTURES[self.card.architecture]

    @property
    def receptive_radius(self) -> int | None:
        radius = self.architecture.receptive_radius
        return None if radius is None else radius(self.card.arguments)

    @property
    def task(self) -> str:
        return self.card.task


@dataclass
class _Scan:
    """One look at both folders: the usable models by name, and what had to be skipped and why."""

    found: dict[str, ModelEntry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    broken: dict[str, ModelError] = field(default_factory=dict)  # name → why that model is unusable

    def skip(self, name: str, error: ModelError) -> None:
        self.problems.append(str(error))
        self.broken.setdefault(name, error)


class ModelLibrary:
    """Lists, loads, adds, imports and removes models in a built-in folder and a user folder.

    One library may be used from several threads (the GUI lists models while a worker loads one): every
    scan builds its own lists, `find` and `refuse_clash` judge by their own scan, and `problems` reports
    the last finished one, swapped in whole under a lock.
    """

    def __init__(self, builtin_dir: Path | None = None, user_dir: Path | None = None) -> None:
        self.builtin_dir = Path(builtin_dir) if builtin_dir is not None else paths.builtin_models_dir()
        self.user_dir = Path(user_dir) if user_dir is not None else paths.user_models_dir()
        self._lock = threading.Lock()
        self._problems: list[str] = []  # the newest finished scan's: replaced whole, never changed in place
        self._scans = 0  # scans started
        self._shown = 0  # the number of the scan whose problems `_problems` holds

    def entries(self, task: str | None = None) -> list[ModelEntry]:
        """Built-in models, then the user's, each sorted by name; broken ones go to `problems`."""
        found = self._rescan().found
        return [entry for entry in found.values() if task is None or entry.card.task == task]

    @property
    def problems(self) -> list[str]:
        """One line per card or weights file the latest `entries()` scan had to skip."""
        with self._lock:
            return list(self._problems)

    def _rescan(self) -> _Scan:
        """Look at both folders afresh; `problems` reports this scan once it is complete (unless a scan
        started after it has finished first)."""
        with self._lock:
            self._scans += 1
            number = self._scans
        scan = _Scan()
        for folder, builtin in ((self.builtin_dir, True), (self.user_dir, False)):
            for entry in self._scan(folder, builtin, scan):
                if entry.name in scan.found:
                    scan.skip(entry.name, ModelError("a built-in model has the same name", entry.card_path))
                else:
                    scan.found[entry.name] = entry
        with self._lock:
            if number > self._shown:
                self._problems, self._shown = scan.problems, number
        return scan

    def _scan(self, folder: Path, builtin: bool, scan: _Scan) -> list[ModelEntry]:
        if not folder.is_dir():
            return []
        entries = []
        for card_path in sorted(folder.glob(f"*{CARD_SUFFIX}"), key=lambda p: p.stem):
            weights_path = card_path.with_suffix(WEIGHTS_SUFFIX)
            try:
                if card_path.is_symlink() or weights_path.is_symlink():  # could point anywhere on disk
                    raise ModelError("is a symbolic link: the library reads only its own files", card_path)
                card = ModelCard.from_json(_read_text(card_path), card_path)
                if card.name != card_path.stem:
                    raise ModelError(f"card names the model {card.name!r}, not its file name", card_path)
                if not weights_path.is_file():
                    raise ModelError(f"weights file {weights_path.name} is missing", card_path)
            except ModelError as error:
                scan.skip(card_path.stem, error)
                continue
            entries.append(ModelEntry(card, weights_path, card_path, builtin))
        for weights_path in sorted(folder.glob(f"*{WEIGHTS_SUFFIX}")):
            if not weights_path.with_suffix(CARD_SUFFIX).exists():
                scan.problems.append(
                    str(ModelError("weights without a card (import the file instead)", weights_path))
                )
        return entries

    def find(self, name: str) -> ModelEntry:
        """The model called `name`; a broken one raises its own problem, an unknown one lists the rest."""
        scan = self._rescan()
        if name in scan.found:
            return scan.found[name]
        if name in scan.broken:
            raise scan.broken[name]
        available = ", ".join(scan.found) or "none"
        raise ModelError(f"no model named {name!r} (available: {available})")

    def default(self, task: str) -> ModelEntry | None:
        """The model a face picks when the user has not chosen one."""
        entries = self.entries(task)
        preferred = [entry for entry in entries if entry.name == PREFERRED_DEFAULTS.get(task)]
        return next(iter(preferred or entries), None)

    def load(self, name_or_entry: str | ModelEntry, *, fold: bool = True) -> LoadedModel:
        """Verify the weights against the card, build the network and strict-load it, ready for inference."""
        entry = self.find(name_or_entry) if isinstance(name_or_entry, str) else name_or_entry
        card = entry.card
        data = _verified_weights(entry.weights_path, card)  # read once: hashed, then parsed from memory
        network = build_network(card.architecture, card.arguments, entry.card_path)
        load_weights(network, state_dict_from_bytes(data, entry.weights_path), entry.weights_path)
        network.eval()
        folding = ARCHITECTURES[card.architecture].fold
        if fold and folding is not None:
            network = folding(network).eval()
        network.requires_grad_(False)
        return LoadedModel(card=card, network=network, entry=entry)

    def add(
        self,
        network: nn.Module,
        *,
        name: str,
        task: str,
        architecture: str,
        arguments: dict[str, Any],
        **card_fields: Any,
    ) -> ModelEntry:
        """Save a network into the user folder as a new model; an existing name is refused."""
        self.refuse_clash(name)
        return save_model_files(
            self.user_dir,
            network,
            name=name,
            task=task,
            architecture=architecture,
            arguments=arguments,
            **card_fields,
        )

    def import_file(self, path: Path, *, name: str | None = None) -> ModelEntry:
        """Add a .safetensors/.pth/.pt file of weights, once they are proven to fit a known architecture."""
        from sr_studio.core.importing import detect_and_load

        path = Path(path)
        name = sanitise_name(path.stem) if name is None else name
        self.refuse_clash(name)
        network, detected, card_fields = detect_and_load(path)
        return save_model_files(
            self.user_dir,
            network,
            name=name,
            architecture=detected.architecture,
            arguments=detected.arguments,
            **card_fields,
        )

    def install(self, card_path: Path, *, name: str, description: str | None = None) -> ModelEntry:
        """Copy a finished model from another folder (a training run's result) into the user folder,
        renamed; the weights are checked against their card first, and the card keeps its history."""
        self.refuse_clash(name)
        card_path = Path(card_path)
        card = ModelCard.from_json(_read_text(card_path), card_path)
        data = _verified_weights(card_path.with_suffix(WEIGHTS_SUFFIX), card)
        card = dataclasses.replace(
            card, name=name, description=card.description if description is None else description
        )
        self.user_dir.mkdir(parents=True, exist_ok=True)
        target = self.user_dir / f"{name}{WEIGHTS_SUFFIX}"
        try:
            with atomic_write(target, overwrite=False) as temporary:
                temporary.write_bytes(data)
            write_text_atomic(target.with_suffix(CARD_SUFFIX), card.to_json(), overwrite=False)
        except (FileExistsError, OSError) as error:
            raise ModelError(f"cannot install model: {first_line(error)}", target) from None
        return ModelEntry(card, target, target.with_suffix(CARD_SUFFIX), builtin=False)

    def remove(self, name: str) -> None:
        """Delete a user model (card first, so a half-removed model is never listed); built-ins stay."""
        try:
            check_name(name)
        except ValueError as error:
            raise ModelError(str(error)) from None
        if _model_files_exist(self.builtin_dir, name):
            raise ModelError(f"{name} is built in and cannot be removed")
        if not _model_files_exist(self.user_dir, name):
            self.find(name)  # raises "no model named ..." with the list of models
        (self.user_dir / f"{name}{CARD_SUFFIX}").unlink(missing_ok=True)
        (self.user_dir / f"{name}{WEIGHTS_SUFFIX}").unlink(missing_ok=True)

    def refuse_clash(self, name: str) -> None:
        """Raise ModelError unless `name` is a valid model name that no model (listed, broken, or with only
        one of its two files in the user folder) has taken: what saving a new model under it needs."""
        try:
            check_name(name)
        except ValueError as error:
            raise ModelError(str(error)) from None
        scan = self._rescan()
        if name in scan.found or name in scan.broken or _model_files_exist(self.user_dir, name):
            raise ModelError(f"a model named {name} already exists; choose another name")


def save_model_files(
    directory: Path, network: nn.Module, *, name: str, overwrite: bool = False, **card_fields: Any
) -> ModelEntry:
    """Write NAME.safetensors, then NAME.json carrying its sha256, each atomically, into any folder.

    `card_fields` are ModelCard's other fields less sha256; the task, an upscaler's scale, the value
    range and the precisions default to what the architecture says. Existing files are kept unless
    `overwrite`.
    """
    from safetensors.torch import save_file

    arch = ARCHITECTURES.get(card_fields.get("architecture", ""))
    if arch is not None:
        card_fields.setdefault("task", arch.task)
        if card_fields["task"] == "upscale":
            scale = arch.scale(card_fields.get("arguments", {}))
            card_fields.setdefault("scale", getattr(network, "scale", None) if scale is None else scale)
        card_fields.setdefault("value_range", arch.value_range)
        card_fields.setdefault("precision", arch.precisions)
    directory = Path(directory)
    card_path = directory / f"{name}{CARD_SUFFIX}"
    weights_path = card_path.with_suffix(WEIGHTS_SUFFIX)
    try:
        card = ModelCard(name=name, sha256="0" * 64, **card_fields)
        card.to_json()  # fail on metrics or extras JSON cannot hold before writing anything
    except (TypeError, ValueError) as error:
        raise ModelError(f"cannot save model: {first_line(error)}", card_path) from None
    if not overwrite and _model_files_exist(directory, name):
        raise ModelError("a model with this name already exists in the folder", card_path)
    state = {key: value.detach().cpu().contiguous() for key, value in network.state_dict().items()}
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_write(weights_path, overwrite=overwrite) as temporary:
            save_file(state, temporary, metadata={"format": "pt"})
            digest = sha256_file(temporary)
        card = dataclasses.replace(card, sha256=digest)
        write_text_atomic(card_path, card.to_json(), overwrite=overwrite)
    except FileExistsError:
        raise ModelError("a model with this name already exists in the folder", card_path) from None
    except OSError as error:
        raise ModelError(f"cannot save model: {first_line(error)}", card_path) from None
    return ModelEntry(card, weights_path, card_path, builtin=False)


def _verified_weights(path: Path, card: ModelCard) -> bytes:
    """The bytes of a weights file, once they hash to the sha256 on its card."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read weights: {first_line(error)}", path) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != card.sha256:
        raise ModelError(
            f"weights do not match their card (sha256 {actual[:12]}…, card says {card.sha256[:12]}…)", path
        )
    return data


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"card is unreadable: {first_line(error)}", path) from None


def _model_files_exist(folder: Path, name: str) -> bool:
    return any((folder / f"{name}{suffix}").exists() for suffix in (CARD_SUFFIX, WEIGHTS_SUFFIX))
