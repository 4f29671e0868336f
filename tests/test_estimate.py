"""Estimates before an upscale (size, time, memory) and the model box's purpose labels: no Qt, no torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sr_studio.core import estimate
from sr_studio.core.estimate import (
    ASSUMED_MP_PER_S,
    LARGE_OUTPUT_MP,
    duration_text,
    estimate_for_card,
    estimate_upscale,
    measured_rate,
    size_text,
)
from sr_studio.core.library import ModelCard, ModelEntry
from sr_studio.ui.models.purpose import is_adversarial, model_label, model_tooltip, purpose

PHOTOS = '[data]\ntrain = ["/data/sr/photos-wikimedia", "/data/sr/t91"]\n'


def card(**fields) -> ModelCard:
    base = dict(name="m", task="upscale", architecture="msrresnet", arguments={}, sha256="0" * 64, scale=4)
    return ModelCard(**{**base, **fields})


def entry(model_card: ModelCard, builtin: bool) -> ModelEntry:
    return ModelEntry(model_card, Path("m.safetensors"), Path("m.json"), builtin)


def test_a_6000_square_picture_at_x4_is_576_megapixels_and_a_long_guess():
    guess = estimate_upscale(6000, 6000, 4)
    assert (guess.width, guess.height) == (24000, 24000)
    assert guess.megapixels == pytest.approx(576)
    assert guess.seconds == pytest.approx(576 / ASSUMED_MP_PER_S)
    assert not guess.measured and guess.rate_mp_s == ASSUMED_MP_PER_S
    assert (
        guess.megapixels > LARGE_OUTPUT_MP > estimate_upscale(3000, 2000, 4).megapixels
    )  # asks; a photo not
    output = 24000 * 24000 * 3
    assert output < guess.peak_bytes < 3 * output  # the output array dominates, tiles add a little
    assert (
        guess.describe() == "24000×24000 (576 MP), about 38 min (a guess: 0.25 MP/s), about 4.2 GB of memory"
    )


def test_a_measured_rate_ensemble_and_16_bit_pictures_change_the_estimate():
    measured = estimate_upscale(1000, 500, 2, rate_mp_s=2.0)
    assert measured.measured and measured.seconds == pytest.approx(1.0)
    assert estimate_upscale(1000, 500, 2, rate_mp_s=2.0, ensemble=True).seconds == pytest.approx(8.0)
    deep = estimate_upscale(1000, 500, 2, channels=4, sample_bytes=2)
    assert deep.peak_bytes - estimate_upscale(1000, 500, 2).peak_bytes == 2000 * 1000 * (8 - 3)
    whole = estimate_upscale(1000, 500, 2, tile=None)
    assert whole.peak_bytes > measured.peak_bytes  # one tile the size of the picture
    with pytest.raises(ValueError):
        estimate_upscale(0, 10, 2)


def test_the_card_gives_scale_channels_and_its_measured_rate():
    plain = card(arguments={"scale": 4, "channels": 32})
    assert measured_rate(plain) is None
    assert estimate_for_card(plain, 100, 100).width == 400
    timed = card(metrics={"out_mp_per_s": 0.5})
    assert measured_rate(timed) == 0.5
    assert estimate_for_card(timed, 500, 500).seconds == pytest.approx(4 / 0.5)
    assert measured_rate(card(metrics={"out_mp_per_s": "fast"})) is None


def test_activation_memory_and_context_come_from_the_cards_architecture():
    narrow = estimate_for_card(card(arguments={"scale": 4, "channels": 8}), 2000, 2000)
    wide = estimate_for_card(card(arguments={"scale": 4, "channels": 64}), 2000, 2000)
    rrdb = estimate_for_card(card(architecture="rrdbnet", arguments={"scale": 4}), 2000, 2000)
    assert narrow.peak_bytes < wide.peak_bytes < rrdb.peak_bytes  # RRDBNet: wider HR stages, more context


def test_the_module_imports_neither_torch_nor_qt():
    code = f"import sys; import {estimate.__name__}; print(sorted({{'torch', 'PySide6'}} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_durations_and_sizes_read_at_a_glance():
    assert duration_text(0.2) == "about 1 s"
    assert duration_text(45) == "about 45 s"
    assert duration_text(23 * 60) == "about 23 min"
    assert duration_text(125 * 60) == "about 2 h 5 min"
    assert size_text(750e6) == "750 MB"
    assert size_text(2.94e9) == "2.9 GB"


def test_a_built_in_model_is_labelled_by_what_it_is_for():
    faithful = card(recipe=PHOTOS + "[train]\nadversarial = 0.0\n", description="MSRResNet: 16 blocks")
    sharper = card(recipe=PHOTOS + "[train]\nadversarial = 0.005\n", scale=2, arguments={"scale": 2})
    assert (is_adversarial(faithful), is_adversarial(sharper), is_adversarial(card())) == (False, True, None)
    assert purpose(faithful) == "Photos, faithful ×4"
    assert purpose(sharper) == "Photos, sharper textures ×2"
    assert purpose(card()) == "Pictures ×4"  # no recipe: nothing to say about how it was trained
    assert purpose(card(recipe="not [toml")) == "Pictures ×4"
    assert model_label(entry(faithful, builtin=True)) == "Photos, faithful ×4 (m)"
    tip = model_tooltip(entry(faithful, builtin=True))
    assert "MSRResNet: 16 blocks" in tip and "built in" in tip


def test_a_users_model_keeps_its_own_name_and_words():
    mine = card(name="grandma-x4", description="fine-tuned on grandma's album, 200 scanned prints from 1962")
    label = model_label(entry(mine, builtin=False))
    assert label.startswith("grandma-x4 ×4 — fine-tuned on grandma's album") and label.endswith("…")
    assert len(label) < len("grandma-x4 ×4 — ") + 41
    assert "200 scanned prints from 1962" in model_tooltip(entry(mine, builtin=False))
    assert model_label(entry(card(name="bare"), builtin=False)) == "bare ×4"
