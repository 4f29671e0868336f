"""The models that ship in the package: present, intact, traceable to their recipe and data, and better
than bicubic where they claim to be. These read the real files in resources/models."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import numpy as np
import pytest

from sr_studio.core.images import Picture
from sr_studio.core.library import ModelLibrary
from sr_studio.core.sample import sample
from sr_studio.core.upscale import upscale
from sr_studio.train.config import load_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED = {"srresnet-x4": 4, "srresnet-x2": 2, "srgan-x4": 4, "dcgan-emoji-64": None}


@pytest.fixture(scope="module")
def library() -> ModelLibrary:
    return ModelLibrary(user_dir=REPO / "does-not-exist")


def test_every_shipped_model_is_listed_without_problems(library: ModelLibrary) -> None:
    assert library.problems == []
    assert {entry.name for entry in library.entries()} == set(SHIPPED)
    assert library.default("upscale").name == "srresnet-x4"
    assert library.default("sample").name == "dcgan-emoji-64"


def recipe_file(card_recipe: dict) -> Path | None:
    """The recipe in training/ that the card's recorded recipe came from: same name and base, and every
    `[train]` value the card recorded resolved alike from the file (trials of one model can differ in a
    single loss option; a card written before a key existed does not record it)."""
    for path in sorted((REPO / "training").glob("*.toml")):
        config = load_config(path)
        if (config.name, config.model.base) != (card_recipe["name"], card_recipe["model"].get("base")):
            continue
        resolved = dataclasses.asdict(config.train)
        if all(resolved.get(key) == value for key, value in card_recipe["train"].items()):
            return path
    return None


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_card_records_its_recipe_data_and_segments(library: ModelLibrary, name: str) -> None:
    card = library.find(name).card
    recorded = tomllib.loads(card.recipe)
    path = recipe_file(recorded)
    assert path is not None, f"no recipe in training/ made {name}"
    assert tomllib.loads(path.read_text(encoding="utf-8"))["output"] == "../resources/models"
    assert card.scale == SHIPPED[name]
    manifest = card.data_manifest
    assert manifest["train"] and all(len(row["sha256"]) == 64 for row in manifest["train"] + manifest["val"])
    extra = card.extra
    steps = recorded["train"]["steps"]
    # A run still in progress is shipped marked incomplete, so that a stop loses at most its last hour.
    assert extra["steps_done"] == steps if extra["complete"] else 0 < extra["steps_done"] < steps
    assert extra["wall_seconds"] > 0 and extra["machine"]
    segments = extra.get("segments", [])
    if segments:
        assert segments[-1]["steps"] == extra["steps_done"]
        assert extra["total"]["steps"] == sum(segment["steps"] for segment in segments)


@pytest.mark.parametrize("name", ["srresnet-x4", "srresnet-x2"])
def test_psnr_models_beat_bicubic_on_the_validation_images_their_cards_report(
    library: ModelLibrary, name: str
) -> None:
    card = library.find(name).card
    metrics = card.metrics
    periodic = tomllib.loads(card.recipe)["data"]["eval_images"]
    assert metrics["images"] == (32 if card.extra["complete"] else periodic)
    assert metrics["after"]["psnr"] > metrics["before"]["bicubic"]["psnr"]


@pytest.mark.parametrize("name", [n for n, s in SHIPPED.items() if s])
def test_upscalers_load_and_upscale_by_their_scale(library: ModelLibrary, name: str) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    result = upscale(Picture(pixels=pixels), library.load(name), device="cpu")
    assert result.picture.pixels.shape == (12 * SHIPPED[name], 10 * SHIPPED[name], 3)


def test_the_emoji_sampler_draws_varied_64px_pictures(library: ModelLibrary) -> None:
    pictures = sample(library.load("dcgan-emoji-64"), 4, seed=0, device="cpu")
    assert [p.pixels.shape for p in pictures] == [(64, 64, 3)] * 4
    assert not np.array_equal(pictures[0].pixels, pictures[1].pixels)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_cards_name_files_relative_to_their_folder(library: ModelLibrary, name: str) -> None:
    """A shipped card travels with the app: it names its recipe's and data's paths relative to its own
    folder, never the build machine's absolute paths."""
    card = library.find(name).card
    recorded = tomllib.loads(card.recipe)
    paths = [recorded["output"], *recorded["data"]["train"], *recorded["data"]["val"]]
    paths.append(card.data_manifest["folder"])
    assert [path for path in paths if Path(path).is_absolute()] == []
    folder = library.find(name).card_path.parent
    assert (folder / recorded["output"]).resolve() == folder.resolve()
