"""Model files are untrusted input: hostile safetensors headers, truncated files, NaN or integer weights,
symbolic links and names that climb out of the library are each refused in one line, nothing is written
outside the library, and the rest of the library is still listed."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sr_studio.core.errors import ModelError
from sr_studio.core.library import ModelLibrary
from tests.error_helpers import assert_one_line_naming
from tests.library_helpers import add_tiny, tiny_srresnet


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(builtin_dir=tmp_path / "builtin", user_dir=tmp_path / "user")


def tiny_state() -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in tiny_srresnet().state_dict().items()}


def header_file(path: Path, header: bytes, claimed: int | None = None) -> Path:
    path.write_bytes(struct.pack("<Q", len(header) if claimed is None else claimed) + header)
    return path


def truncated(path: Path, tmp_path: Path) -> Path:
    whole = tmp_path / "whole.safetensors"
    save_file(tiny_state(), whole)
    path.write_bytes(whole.read_bytes()[:-100])
    return path


def poisoned(value: float) -> dict[str, torch.Tensor]:
    state = tiny_state()
    state["head.0.weight"][0, 0, 0, 0] = value
    return state


def integers() -> dict[str, torch.Tensor]:
    state = tiny_state()
    state["head.0.weight"] = state["head.0.weight"].round().to(torch.int32)
    return state


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, t: header_file(p, b"{}", claimed=2**62), "cannot read safetensors"),
        (lambda p, t: header_file(p, b"not json at all!"), "cannot read safetensors"),
        (lambda p, t: header_file(p, json.dumps({"w": {"dtype": "F32", "shape": [10**9, 10**9],
                                                      "data_offsets": [0, 4]}}).encode()), "cannot read"),
        (truncated, "cannot read safetensors"),
        (lambda p, t: save_file(poisoned(float("nan")), p) or p, "NaN or Inf in: head.0.weight"),
        (lambda p, t: save_file(poisoned(float("inf")), p) or p, "NaN or Inf in: head.0.weight"),
        (lambda p, t: save_file(integers(), p) or p, "dtype: head.0.weight torch.int32"),
    ],
    ids=["huge-header-length", "header-not-json", "huge-shape", "truncated", "nan", "inf", "int-weights"],
)  # fmt: skip
def test_hostile_weights_are_refused_in_one_line_and_nothing_is_written(library, tmp_path, make, message):
    path = make(tmp_path / "hostile.safetensors", tmp_path)
    with pytest.raises(ModelError, match=message) as error:
        library.import_file(path, name="x")
    assert_one_line_naming(error, "hostile.safetensors")
    assert not library.user_dir.exists()


def test_a_library_model_whose_weights_turned_nan_is_refused_at_load(library):
    _, entry = add_tiny(library, "tiny")
    state = poisoned(float("nan"))
    save_file(state, entry.weights_path)
    card = json.loads(entry.card_path.read_text())
    from sr_studio.core.weights import sha256_file

    card["sha256"] = sha256_file(entry.weights_path)  # the hash matches: only the values are wrong
    entry.card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="NaN or Inf"):
        library.load("tiny")


def test_symlinks_and_misnamed_cards_are_listed_as_broken_and_the_rest_still_loads(library, tmp_path):
    _, good = add_tiny(library, "good")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for suffix in (".json", ".safetensors"):
        target = outside / f"linked{suffix}"
        target.write_bytes(good.card_path.with_suffix(suffix).read_bytes())
        (library.user_dir / f"linked{suffix}").symlink_to(target)
    climbing = json.loads(good.card_path.read_text())
    climbing["name"] = "../../escape"
    (library.user_dir / "climber.json").write_text(json.dumps(climbing))
    (library.user_dir / "climber.safetensors").write_bytes(good.weights_path.read_bytes())

    assert [entry.name for entry in library.entries()] == ["good"]
    problems = "\n".join(library.problems)
    assert "linked.json: is a symbolic link" in problems
    assert "climber.json" in problems
    with pytest.raises(ModelError, match="symbolic link"):
        library.find("linked")
    library.load("good")
    assert not (tmp_path / "escape.json").exists() and not (tmp_path.parent / "escape.json").exists()
