"""The models that ship in the package: present, intact, traceable to their recipe and data, and better
than bicubic where they claim to be. These read the real files in sr_studio/resources/models."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from sr_studio.core.images import Picture
from sr_studio.core.library import ModelLibrary
from sr_studio.core.sample import sample
from sr_studio.core.upscale import upscale

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


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_card_records_its_recipe_data_and_finished_run(library: ModelLibrary, name: str) -> None:
    card = library.find(name).card
    recipe = tomllib.loads((REPO / "training" / f"{name}.toml").read_text(encoding="utf-8"))
    assert recipe["name"] == name and recipe["output"] == "../sr_studio/resources/models"
    assert card.scale == SHIPPED[name]
    assert f'name = "{name}"' in card.recipe
    manifest = card.data_manifest
    assert manifest["train"] and all(len(row["sha256"]) == 64 for row in manifest["train"] + manifest["val"])
    extra = card.extra
    assert extra["complete"] is True and extra["steps_done"] == recipe["train"]["steps"]
    assert extra["wall_seconds"] > 0 and extra["machine"]


@pytest.mark.parametrize("name", ["srresnet-x4", "srresnet-x2"])
def test_psnr_models_beat_bicubic_on_the_validation_images_their_cards_report(
    library: ModelLibrary, name: str
) -> None:
    metrics = library.find(name).card.metrics
    assert metrics["images"] == 32
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
