"""Defects found in review of training, metrics and the model library (issue 17, section 4), each proven."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sr_studio.core import library as library_module
from sr_studio.core.detect import detect_architecture
from sr_studio.core.errors import ModelError, UsageError
from sr_studio.core.library import ModelLibrary
from sr_studio.core.metrics import psnr_y, ssim_y
from sr_studio.models.dcgan import DCGANDiscriminator
from sr_studio.models.srresnet import SRResNet
from sr_studio.train import job
from sr_studio.train.common import base_state
from sr_studio.train.config import config_from_dict, dump_toml, load_config
from sr_studio.train.stop import StopRequest
from tests.pictures import textured

TINY = {"scale": 2, "blocks": 1, "channels": 8, "norm": "none"}


def recipe(**top) -> dict:
    return {
        "task": "upscale",
        "name": "tiny-portable",
        "data": {"train": ["../../data/images"], "val_share": 0.34, "patch": 16},
        "model": {"architecture": "srresnet", "arguments": TINY},
        "train": {"steps": 2, "batch": 2, "eval_every": 2, "checkpoint_every": 2, "log_every": 1},
        **top,
    }


def events_of(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "images"
    folder.mkdir(parents=True)
    for index in range(3):
        Image.fromarray(textured(24, 24 + 4 * index, seed=index)).save(folder / f"{index}.png")
    return folder


# --------------------------------------------------------------------------- a relative .pth base resumes
@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_the_run_copy_resolves_a_relative_weights_file_base_of_any_kind(tmp_path, suffix):
    recipes = tmp_path / "recipes"
    (recipes / "weights").mkdir(parents=True)
    weights = recipes / "weights" / f"base{suffix}"
    state = SRResNet(**TINY).state_dict()
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, weights)
    else:
        torch.save(state, weights)
    data = {"data": {"train": ["images"]}, "model": {"base": f"weights/base{suffix}"}}
    config = config_from_dict(data, recipes, "test")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(dump_toml(config))  # what a run folder holds; --resume reads it
    again = load_config(run / "config.toml")
    assert again.path(again.model.base or "") == weights.resolve()
    loaded = base_state(again, "upscale")  # what resuming the run does with it
    assert loaded is not None and loaded[1]["architecture"] == "srresnet"


# ------------------------------------------------------------------- usage errors exit 2, bugs are one line
def test_a_precision_training_does_not_offer_is_a_usage_error_naming_the_choices(tmp_path):
    with pytest.raises(UsageError, match="precision must be auto, fp32 or bf16, not 'fp16'"):
        config_from_dict({"precision": "fp16", "data": {"train": ["x"]}}, tmp_path, "test")


def test_a_bad_precision_in_a_recipe_exits_2(tmp_path, data_dir):
    path = tmp_path / "recipe.toml"
    path.write_text('precision = "fp16"\n[data]\ntrain = ["images"]\n')
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "sr_studio.train", str(path), "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 2, events
    assert [e["event"] for e in events] == ["error"] and "precision" in events[0]["message"]


def test_resuming_a_run_whose_copy_has_a_bad_precision_exits_2(tmp_path, data_dir):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text('precision = "fp16"\n[data]\ntrain = ["images"]\n')
    stream = io.StringIO()
    assert job.main(None, resume=run, stream=stream, stop=StopRequest()) == 2
    assert [e["event"] for e in events_of(stream)] == ["error"]


def test_a_probe_that_hits_a_bug_reports_one_error_line_and_exits_1(tmp_path, data_dir, monkeypatch):
    def broken(config):
        raise RuntimeError("boom")

    monkeypatch.setattr(job, "_prepare", broken)
    config = config_from_dict({"data": {"train": ["images"]}}, tmp_path, "test")
    stream = io.StringIO()
    assert job.probe(config, 2, stream) == 1
    [event] = events_of(stream)
    assert event["event"] == "error" and event["message"].startswith("internal error: RuntimeError: boom")


def test_a_probe_with_a_usage_error_exits_2(tmp_path, data_dir, monkeypatch):
    def refused(config):
        raise UsageError("no such option")

    monkeypatch.setattr(job, "_prepare", refused)
    config = config_from_dict({"data": {"train": ["images"]}}, tmp_path, "test")
    stream = io.StringIO()
    assert job.probe(config, 2, stream) == 2
    assert events_of(stream)[0]["message"] == "no such option"


# --------------------------------------------------------------------------------- metrics compare alike
@pytest.mark.parametrize("metric", [psnr_y, ssim_y], ids=["psnr", "ssim"])
@pytest.mark.parametrize("shape", [(1, 16, 3), (16, 20, 3), (32, 32, 3)])
def test_metrics_refuse_images_of_different_shapes(metric, shape):
    reference = np.random.default_rng(0).random((16, 16, 3))
    with pytest.raises(ValueError, match=r"cannot compare a .* result with a 16×16×3 reference"):
        metric(np.zeros(shape), reference, 2)


# ------------------------------------------------------------------------------------- the model library
def test_refuse_clash_is_public_and_refuses_a_taken_or_invalid_name(library):
    library.refuse_clash("a-free-name")
    with pytest.raises(ModelError, match="already exists"):
        library.refuse_clash("tiny-x2")
    with pytest.raises(ModelError):
        library.refuse_clash("Not A Name")


def test_problems_read_during_a_rescan_are_the_last_complete_scans(tmp_path, monkeypatch):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    for name in ("a-broken", "b-broken"):
        (builtin / f"{name}.json").write_text("{not json")
    library = ModelLibrary(builtin_dir=builtin, user_dir=tmp_path / "user")
    library.entries()
    complete = library.problems
    assert len(complete) == 2
    seen: list[list[str]] = []
    reading = library_module._read_text

    def read_and_look(path: Path) -> str:
        seen.append(library.problems)  # what another thread (the GUI) reads while a worker rescans
        return reading(path)

    monkeypatch.setattr(library_module, "_read_text", read_and_look)
    library.entries()
    assert seen == [complete, complete]
    assert library.problems == complete


def test_find_names_a_broken_model_by_its_own_problem(tmp_path):
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    (builtin / "broken.json").write_text("{not json")
    library = ModelLibrary(builtin_dir=builtin, user_dir=tmp_path / "user")
    with pytest.raises(ModelError, match=r"broken\.json"):
        library.find("broken")
    with pytest.raises(ModelError, match="already exists"):
        library.refuse_clash("broken")


# ------------------------------------------------------------------------- messages that say what is so
def test_a_dcgan_file_is_not_called_srresnet_in_detection_errors():
    with pytest.raises(ValueError) as unknown:
        detect_architecture(DCGANDiscriminator(image_size=32, width=8).state_dict())
    assert "not a known model layout" in str(unknown.value) and "SRResNet-family" not in str(unknown.value)
    broken = {"layers.0.weight": torch.zeros(16, 8, 3, 3), "layers.3.weight": torch.zeros(8, 3, 3, 3)}
    with pytest.raises(ValueError, match=r"^looks like DCGAN generator, but"):
        detect_architecture(broken)


def test_an_estimate_for_a_sampler_is_a_clear_error():
    from sr_studio.core.estimate import estimate_upscale

    with pytest.raises(ValueError, match="not an upscaler"):
        estimate_upscale(64, 64, 2, architecture="dcgan_generator")


# ------------------------------------------------------------------ a card made to be shipped is portable
def test_a_model_exported_to_an_explicit_folder_names_its_files_relative_to_that_folder(
    tmp_path, images, data_dir
):
    training = tmp_path / "repo" / "training"
    training.mkdir(parents=True)
    config = config_from_dict(recipe(output="../models"), training, "test")
    stream = io.StringIO()
    code = job.main(None, config=config, run_dir=tmp_path / "run", stream=stream, stop=StopRequest())
    assert code == 0, events_of(stream)
    models = tmp_path / "repo" / "models"
    card_path = models / "tiny-portable.json"
    text = card_path.read_text(encoding="utf-8")
    for absolute in {str(tmp_path), str(tmp_path.resolve())}:
        assert absolute not in text  # nothing of the machine it was built on
    card = json.loads(text)
    recorded = tomllib.loads(card["recipe"])
    assert recorded["output"] == "."
    assert recorded["data"]["train"] == ["../../data/images"]
    assert (models / recorded["data"]["train"][0]).resolve() == images.resolve()
    assert (models / card["data_manifest"]["folder"]).resolve() == images.resolve()
    assert ModelLibrary(builtin_dir=models, user_dir=tmp_path / "none").load("tiny-portable").scale == 2
