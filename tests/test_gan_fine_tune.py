"""A fine-tune of a GAN-sharpened upscaler keeps its base's loss (issue 10): the loss terms read from the
base card's recipe, the wizard's recipe and its real training child, and the finish page's wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from sr_studio.core.card import ModelCard
from sr_studio.models.msrresnet import MSRResNet
from sr_studio.train import fine_tune
from sr_studio.train.config import config_from_dict
from sr_studio.ui.wizard.finish_page import metrics_html
from sr_studio.ui.wizard.plan import UPSCALE, Plan, write_recipe
from tests.conftest import SMOOTH_UPSCALER
from tests.test_wizard import (  # the wizard flows' fixtures and steps
    COMMIT,
    FINISH,
    click,
    make_wizard,
    pictures,
    short_run,
    start_training,
    to_settings,
    wait_done,
)

__all__ = ["make_wizard", "pictures"]  # fixtures: pytest finds them in this module's namespace

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
GAN_RECIPE = """
task = "upscale"
name = "tiny-gan-x2"
[train]
lr = 1e-4
d_lr = 2e-4
loss = "l1"
pixel = 0.1
perceptual = 1.0
perceptual_loss = "random"
adversarial = 0.005
ema = 0.999
steps = 1500
"""


def card(path: Path) -> ModelCard:
    return ModelCard.from_json(path.read_text(encoding="utf-8"), path)


def test_a_gan_recipe_s_loss_terms_are_kept_and_the_discriminator_keeps_its_ratio():
    losses = fine_tune.base_losses(GAN_RECIPE, lr=5e-5)
    assert losses == {
        "loss": "l1",
        "pixel": 0.1,
        "perceptual": 1.0,
        "perceptual_loss": "random",
        "adversarial": 0.005,
        "ema": 0.999,
        "d_lr": pytest.approx(1e-4),  # twice the fine-tune's rate, as the base had twice its own
    }
    assert "steps" not in losses and "lr" not in losses  # the fine-tune's own
    assert fine_tune.trains_texture(GAN_RECIPE)


def test_the_shipped_models_psnr_ones_fine_tune_with_plain_l1_and_srgan_with_its_loss():
    srgan, srresnet = (card(MODELS / f"{name}.json") for name in ("srgan-x4", "srresnet-x4"))
    kept = fine_tune.base_losses(srgan.recipe, lr=5e-5)
    assert kept["adversarial"] > 0 and kept["perceptual"] > 0 and kept["d_lr"] > 0
    assert fine_tune.base_losses(srresnet.recipe, lr=5e-5) == {}
    assert not fine_tune.trains_texture(srresnet.recipe)


@pytest.mark.parametrize("recipe", [None, "", "not toml [[", 'train = "a string"', "[train]\nperceptual = 0"])
def test_no_recipe_or_a_plain_one_keeps_nothing(recipe):
    assert fine_tune.base_losses(recipe, lr=1e-4) == {}
    assert fine_tune.describe({}) == "L1"


def test_the_loss_is_described_in_words():
    text = fine_tune.describe(fine_tune.base_losses(GAN_RECIPE, lr=1e-4))
    assert text == "L1 ×0.1 + perceptual (random features) ×1 + adversarial ×0.005"


def test_an_st_lpips_loss_without_its_weights_is_named_before_training(monkeypatch):
    losses = {"perceptual": 1.0, "perceptual_loss": "stlpips-vgg"}
    monkeypatch.setattr(fine_tune.importlib.util, "find_spec", lambda name: None)
    assert fine_tune.missing_requirement(losses) == fine_tune.STLPIPS_MISSING
    assert fine_tune.missing_requirement({"perceptual": 1.0, "perceptual_loss": "random"}) is None


def test_the_wizard_s_recipe_carries_the_loss_through_the_job_s_own_check(tmp_path):
    losses = fine_tune.base_losses(GAN_RECIPE, lr=5e-5)
    plan = Plan(UPSCALE, tmp_path, 0.2, steps=20, batch=4, lr=5e-5, eval_every=10, base="x", losses=losses)
    path = write_recipe(plan, "tuned", tmp_path / "tuned.toml", None)
    train = config_from_dict(plan.config("tuned"), tmp_path, "test").train
    assert (train.adversarial, train.perceptual, train.pixel, train.ema) == (0.005, 1.0, 0.1, 0.999)
    assert train.d_lr == pytest.approx(1e-4) and train.lr == pytest.approx(5e-5)
    assert "adversarial = 0.005" in path.read_text(encoding="utf-8")


def test_the_finish_page_does_not_call_a_gan_fine_tune_s_psnr_a_gain():
    metrics = {
        "images": 2,
        "bicubic": {"psnr": 25.0, "ssim": 0.7},
        "base": {"psnr": 27.0, "ssim": 0.8},
        "model": {"psnr": 26.5, "ssim": 0.78, "artefact_index": 1.9},
    }
    baseline = {"original": {"artefact_index": 1.2}}
    plain = metrics_html(UPSCALE, metrics, baseline, "srgan-x4")
    texture = metrics_html(UPSCALE, metrics, baseline, "srgan-x4", texture=True)
    assert "Gain:" in plain and "Gain:" not in texture
    assert "-0.50 dB over the base model" in texture and "trades PSNR for texture" in texture
    assert "<b>1.90</b> (the originals: 1.20" in texture


def test_the_wizard_fine_tunes_a_gan_base_with_its_discriminator(qtbot, make_wizard, library, pictures):
    torch.manual_seed(0)
    library.add(
        MSRResNet(**SMOOTH_UPSCALER),
        name="tiny-gan-x2",
        task="upscale",
        architecture="msrresnet",
        arguments=SMOOTH_UPSCALER,
        scale=2,
        description="a tiny ×2 model trained with a GAN recipe",
        recipe=GAN_RECIPE,
    )
    wizard = make_wizard()
    to_settings(qtbot, wizard, pictures)
    settings = wizard.settings_page
    settings.base_combo.setCurrentIndex(settings.base_combo.findData("smooth-x2"))
    assert settings.loss_label.text() == "L1"
    settings.base_combo.setCurrentIndex(settings.base_combo.findData("tiny-gan-x2"))
    assert settings.loss_label.text() == (
        "L1 ×0.1 + perceptual (random features) ×1 + adversarial ×0.005 (from tiny-gan-x2's recipe)"
    )
    short_run(wizard, steps=20, eval_every=10)
    assert settings.plan().losses["adversarial"] == 0.005
    start_training(qtbot, wizard)
    done = wait_done(qtbot, wizard)
    assert done["step"] == 20
    train = wizard.train_page
    assert [x for x, _ in train.loss_plot.points("discriminator")]  # the discriminator trained
    config = (train.run_dir / "config.toml").read_text(encoding="utf-8")
    assert "adversarial = 0.005" in config
    events = [json.loads(line) for line in (train.run_dir / "events.jsonl").read_text().splitlines()]
    assert all("adversarial" in event for event in events if event["event"] == "step")
    click(qtbot, wizard, COMMIT)
    assert wizard.currentId() == FINISH
    assert "trades PSNR for texture" in wizard.finish_page.metrics_label.text()


def test_a_fine_tune_from_flags_alone_keeps_a_gan_base_s_loss_unless_a_flag_says_otherwise(tmp_path):
    from sr_studio.train.cli import keep_base_loss

    flags = {"model": {"base": "srgan-x4"}, "train": {"lr": 5e-5, "pixel": 1.0}}
    keep_base_loss(flags)
    assert flags["train"]["adversarial"] > 0 and flags["train"]["perceptual"] > 0
    assert flags["train"]["pixel"] == 1.0 and flags["train"]["lr"] == 5e-5  # what the flags said
    plain = {"model": {"base": "srresnet-x4"}}
    keep_base_loss(plain)
    assert plain == {"model": {"base": "srresnet-x4"}, "train": {}}
    for base in (str(tmp_path / "weights.safetensors"), "no-such-model"):
        untouched = {"model": {"base": base}}
        keep_base_loss(untouched)
        assert untouched == {"model": {"base": base}}
