"""The training job through its real child-process protocol: tiny runs, kill -9 + resume, bad data."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sr_studio.core.library import ModelLibrary
from sr_studio.train.config import config_from_dict, dump_toml, load_config
from tests.pictures import textured

UPSCALE = {
    "task": "upscale",
    "name": "tiny-tuned",
    "seed": 3,
    "threads": 1,
    "data": {"train": ["images"], "val_share": 0.34, "patch": 32},
    "model": {
        "architecture": "srresnet",
        "arguments": {"scale": 2, "blocks": 2, "channels": 8, "norm": "none"},
    },
    "train": {"steps": 24, "batch": 4, "lr": 1e-3, "eval_every": 8, "checkpoint_every": 4, "log_every": 4},
}
SAMPLE = {
    "task": "sample",
    "name": "tiny-gan-trained",
    "seed": 5,
    "threads": 1,
    "data": {"train": ["images"], "val_share": 0.125, "patch": 32},  # 1 held out: too few for a covariance
    "model": {
        "architecture": "dcgan_generator",
        "arguments": {"latent_dim": 16, "image_size": 32, "width": 8},
    },
    "train": {
        "steps": 12,
        "batch": 4,
        "lr": 2e-4,
        "beta1": 0.5,
        "ema": 0.9,
        "diffaugment": "color,translation,cutout",
        "eval_every": 6,
        "checkpoint_every": 6,
        "log_every": 3,
    },
}


def write_images(folder: Path, count: int = 6, size: int = 48) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        Image.fromarray(textured(size + 8 * index, size + 4, seed=index)).save(folder / f"{index}.png")
    return folder


def write_config(tmp_path: Path, data: dict, **changes) -> Path:
    data = json.loads(json.dumps(data))
    for dotted, value in changes.items():
        *sections, key = dotted.split("__")
        table = data
        for section in sections:
            table = table[section]
        table[key] = value
    config = config_from_dict(data, tmp_path, "test")
    path = tmp_path / "recipe.toml"
    path.write_text(dump_toml(config))
    return path


def train(*args: str, env_dir: Path, timeout: float = 240) -> tuple[int, list[dict]]:
    """Run `python -m sr_studio.train ARGS` as a child process; return its exit code and events."""
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(env_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "sr_studio.train", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    return result.returncode, [
        json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")
    ]


def start_training(config: Path, run_dir: Path, env_dir: Path) -> subprocess.Popen:
    """The job as a running child whose JSON lines the test reads as they come."""
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(env_dir)}
    command = [sys.executable, "-m", "sr_studio.train", str(config), "--run-dir", str(run_dir)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def kinds(events: list[dict]) -> list[str]:
    return [event["event"] for event in events]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    return write_images(tmp_path / "images")


def test_upscale_run_reports_every_event_and_its_model_joins_the_library(tmp_path, images, data_dir):
    (images / "broken.png").write_bytes(b"not a png")
    code, events = train(
        str(write_config(tmp_path, UPSCALE)), "--run-dir", str(tmp_path / "run"), env_dir=data_dir
    )
    assert code == 0, events
    names = kinds(events)
    assert names[0] == "start" and names[-1] == "done"
    assert {"step", "eval", "checkpoint"} <= set(names)
    start = events[0]
    assert start["train_images"] + start["val_images"] == 6
    assert [Path(p).name for p, _ in start["skipped"]] == ["broken.png"]
    steps = [e for e in events if e["event"] == "step"]
    assert steps[-1]["step"] == 24 and all(e["loss"] > 0 and e["it_s"] > 0 for e in steps)
    evals = [e for e in events if e["event"] == "eval"]
    assert "model" not in evals[0]["metrics"] and evals[0]["metrics"]["bicubic"]["psnr"] > 20
    assert all(Path(e["preview"]).is_file() for e in evals[1:])
    done = events[-1]
    library = ModelLibrary(builtin_dir=tmp_path / "none")
    entry = library.find("tiny-tuned")
    assert Path(done["card"]) == entry.card_path
    card = entry.card
    assert card.metrics["after"]["psnr"] == done["metrics"]["model"]["psnr"]
    assert card.metrics["before"]["bicubic"]["psnr"] == evals[0]["metrics"]["bicubic"]["psnr"]
    manifest = card.data_manifest  # files relative to the folder they share, with hashes
    assert manifest["folder"] == str(images.resolve())
    assert {row["file"] for row in manifest["train"] + manifest["val"]} == {f"{i}.png" for i in range(6)}
    row = manifest["train"][0]
    assert row["sha256"] == hashlib.sha256((images / row["file"]).read_bytes()).hexdigest()
    assert card.extra["steps"] == 24 and card.extra["complete"] is True
    assert library.load("tiny-tuned").scale == 2
    events_file = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    assert kinds(events_file) == names


def test_fine_tune_starts_from_a_library_model_and_measures_it(tmp_path, images, library, data_dir):
    config = write_config(tmp_path, UPSCALE, model={"base": "smooth-x2"}, train__steps=8, train__eval_every=8)
    code, events = train(str(config), "--run-dir", str(tmp_path / "run"), env_dir=data_dir)
    assert code == 0, events
    baseline = next(e for e in events if e["event"] == "eval")["metrics"]
    # smooth-x2 is bilinear: close to bicubic, and measured by the same protocol
    assert abs(baseline["base"]["psnr"] - baseline["bicubic"]["psnr"]) < 3
    card = ModelLibrary(builtin_dir=tmp_path / "none").find("tiny-tuned").card
    assert card.architecture == "msrresnet" and card.extra["base_model"] == "smooth-x2"
    assert "base" in card.metrics["before"]


def test_a_run_continuing_a_model_of_its_own_name_adds_a_segment_and_never_ships_worse(
    tmp_path, images, data_dir
):
    output = str(data_dir / "models")
    first = write_config(tmp_path, UPSCALE, output=output)
    code, events = train(str(first), "--run-dir", str(tmp_path / "run1"), env_dir=data_dir)
    assert code == 0, events
    library = ModelLibrary(builtin_dir=tmp_path / "none")
    before = library.find("tiny-tuned").card
    (first.parent / "again").mkdir()
    again = write_config(
        first.parent / "again",
        UPSCALE,
        output=output,
        model={"base": "tiny-tuned"},
        train__steps=8,
        train__lr=5e-2,  # far too high: the continuation may well get worse, and must then keep the old
        data__train=[str(images)],
    )
    code, events = train(str(again), "--run-dir", str(tmp_path / "run2"), env_dir=data_dir)
    assert code == 0, events
    after = library.find("tiny-tuned").card
    first_segment, second_segment = after.extra["segments"]
    assert first_segment == before.extra["segments"][0] and first_segment["steps"] == 24
    assert second_segment["steps"] == 8
    assert second_segment["val_before"]["psnr"] == pytest.approx(before.metrics["after"]["psnr"], abs=1e-6)
    assert after.extra["total"]["steps"] == 32 and after.extra["total"]["segments"] == 2
    assert after.metrics["after"]["psnr"] >= before.metrics["after"]["psnr"] - 1e-6


def test_segments_of_a_card_from_before_segments_are_rebuilt_from_its_fields():
    from sr_studio.train.segments import card_segments, totals

    extra = {"steps_done": 2500, "wall_seconds": 3527.7, "machine": "AMD EPYC", "precision": "fp32"}
    metrics = {"images": 32, "after": {"psnr": 28.8}}
    (segment,) = card_segments(extra, metrics)
    assert segment["steps"] == 2500 and segment["val_after"] == {"psnr": 28.8}
    assert "rebuilt" in segment["note"]
    assert card_segments({}, {}) == []
    two = [segment, {"steps": 10, "wall_seconds": 2.0}]
    assert totals(two) == {"segments": 2, "steps": 2510, "wall_seconds": 3529.7}
    assert totals([*two, {"steps": 1}])["wall_seconds"] is None


def test_an_srgan_run_keeps_its_latest_weights_not_its_best_psnr(tmp_path, images, data_dir):
    """An SRGAN's PSNR falls as its textures sharpen: ranking by it would ship the least-trained weights."""
    config = write_config(
        tmp_path, UPSCALE, train__steps=16, train__adversarial=1e-3, train__perceptual=1.0, train__pixel=0.1
    )
    code, events = train(str(config), "--run-dir", str(tmp_path / "run"), env_dir=data_dir)
    assert code == 0, events
    evals = [e for e in events if e["event"] == "eval" and "best_step" in e]
    assert [e["best_step"] for e in evals] == [e["step"] for e in evals] == [8, 16]
    assert not (tmp_path / "run" / "best.safetensors").exists()
    latest = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["trainer"]["network"]
    exported = final_weights(Path(events[-1]["card"]))
    assert exported.keys() == latest.keys()
    assert all(torch.equal(exported[key], latest[key]) for key in exported)


def test_gan_run_saves_sample_grids_and_a_sampler(tmp_path, data_dir):
    """With one held-out image the Fréchet distance falls back to the training images."""
    write_images(tmp_path / "images", count=8, size=40)
    code, events = train(
        str(write_config(tmp_path, SAMPLE)), "--run-dir", str(tmp_path / "run"), env_dir=data_dir
    )
    assert code == 0, events
    evals = [e for e in events if e["event"] == "eval"]
    grid = Image.open(evals[-1]["preview"])
    assert grid.width == 8 * 32 + 9 * 2
    yardsticks, trained = evals[0]["metrics"], evals[1:]
    assert yardsticks["untrained"]["frechet"] > 0 and "real_halves" in yardsticks
    assert trained and all(e["metrics"]["model"]["frechet"] >= 0 for e in trained)
    steps = [e for e in events if e["event"] == "step"]
    assert {"discriminator", "d_real", "d_fake"} <= set(steps[-1])
    model = ModelLibrary(builtin_dir=tmp_path / "none").load("tiny-gan-trained")
    assert model.task == "sample"
    assert model.card.metrics["before"]["untrained"] == yardsticks["untrained"]


def final_weights(card: Path) -> dict[str, torch.Tensor]:
    return load_file(card.with_suffix(".safetensors"))


def test_kill_9_then_resume_ends_exactly_where_an_uninterrupted_run_does(tmp_path, images, data_dir):
    config = write_config(tmp_path, UPSCALE, output="out-a")
    code, events = train(str(config), "--run-dir", str(tmp_path / "run-a"), env_dir=data_dir)
    assert code == 0
    reference = final_weights(Path(events[-1]["card"]))

    config_b = write_config(tmp_path, UPSCALE, output="out-b")
    run_b = tmp_path / "run-b"
    child = start_training(config_b, run_b, data_dir)
    for line in child.stdout:
        event = json.loads(line)
        if event["event"] == "checkpoint" and event["step"] >= 12:
            child.kill()  # SIGKILL: no handler runs, nothing is flushed beyond the last atomic checkpoint
            break
    child.wait(timeout=60)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    code, events = train("--resume", str(run_b), env_dir=data_dir)
    assert code == 0, events
    assert events[0]["event"] == "start" and events[0]["resumed"] and events[0]["step"] >= 12
    assert events[-1]["step"] == 24
    resumed = final_weights(Path(events[-1]["card"]))
    assert resumed.keys() == reference.keys()
    for key in reference:
        torch.testing.assert_close(resumed[key], reference[key], rtol=0, atol=0)


def test_sigkill_at_random_steps_and_resumes_never_lose_or_corrupt_the_run(tmp_path, images, data_dir):
    config = write_config(tmp_path, UPSCALE, output="out-a")
    code, events = train(str(config), "--run-dir", str(tmp_path / "run-a"), env_dir=data_dir)
    assert code == 0
    reference = final_weights(Path(events[-1]["card"]))

    config_b = write_config(tmp_path, UPSCALE, output="out-b", train__log_every=1)
    run_b = tmp_path / "run-b"
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir)}
    resume = [sys.executable, "-m", "sr_studio.train", "--resume", str(run_b)]
    targets = sorted(random.Random(7).sample(range(2, 24), 5))  # seeded, bounded: five kills
    for attempt, target in enumerate(targets):
        child = start_training(config_b, run_b, data_dir) if attempt == 0 else (
            subprocess.Popen(resume, stdout=subprocess.PIPE, text=True, env=env)
        )  # fmt: skip
        for line in child.stdout:
            event = json.loads(line)
            if event["event"] == "step" and event["step"] >= target:
                child.kill()
                break
        child.wait(timeout=60)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL, target

    code, events = train("--resume", str(run_b), env_dir=data_dir)
    assert code == 0, events
    resumed = final_weights(Path(events[-1]["card"]))
    for key in reference:
        torch.testing.assert_close(resumed[key], reference[key], rtol=0, atol=0)


def test_sigterm_checkpoints_and_stops_cleanly_then_resume_finishes(tmp_path, images, data_dir):
    config = write_config(tmp_path, UPSCALE, train__steps=400, train__checkpoint_every=1000, output="out")
    run = tmp_path / "run"
    child = start_training(config, run, data_dir)
    events = []
    for line in child.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "step":
            child.send_signal(signal.SIGTERM)
            break
    events += [json.loads(line) for line in child.stdout]
    assert child.wait(timeout=60) == 130
    child.stdout.close()
    stopped = events[-1]
    assert stopped["event"] == "stopped" and stopped["step"] < 400
    assert (events[-2]["event"], events[-2]["step"]) == ("checkpoint", stopped["step"])
    assert (run / "checkpoint.pt").is_file()

    code, resumed = train("--resume", str(run), "--steps", str(stopped["step"] + 4), env_dir=data_dir)
    assert code == 0, resumed
    assert resumed[0]["step"] == stopped["step"] and resumed[-1]["step"] == stopped["step"] + 4
    # The override stays with the run: resuming the finished run again does not go on to the recipe's 400.
    code, again = train("--resume", str(run), env_dir=data_dir)
    assert code == 0, again
    assert (again[-1]["event"], again[-1]["step"]) == ("done", stopped["step"] + 4)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda folder: None, "no usable training images"),
        (lambda folder: (folder / "a.png").write_bytes(b"\x89PNG broken"), "a.png"),
        (lambda folder: Image.new("L", (12000, 6000)).save(folder / "huge.png"), "huge.png"),
    ],
    ids=["empty", "only-corrupt", "one-huge"],
)
def test_bad_data_folder_is_one_error_event_and_exit_1(tmp_path, data_dir, make, problem):
    folder = tmp_path / "images"
    folder.mkdir()
    make(folder)
    code, events = train(
        str(write_config(tmp_path, UPSCALE)), "--run-dir", str(tmp_path / "run"), env_dir=data_dir
    )
    assert code == 1
    assert kinds(events) == ["error"]
    assert problem in events[0]["message"] and "\n" not in events[0]["message"]


def test_bad_config_is_an_error_event_with_usage_exit_code(tmp_path, data_dir):
    path = tmp_path / "recipe.toml"
    path.write_text('task = "upscale"\n[train]\nstep = 10\n')
    code, events = train(str(path), env_dir=data_dir)
    assert code == 2
    assert kinds(events) == ["error"] and "unknown option 'step'" in events[0]["message"]


def test_probe_times_steps_and_writes_nothing(tmp_path, images, data_dir):
    code, events = train(str(write_config(tmp_path, UPSCALE)), "--probe", "2", env_dir=data_dir)
    assert code == 0
    assert kinds(events) == ["probe"] and events[0]["seconds_per_step"] > 0
    assert not (data_dir / "runs").exists() and not (data_dir / "models").exists()


def test_config_round_trips_through_the_run_folder_copy(tmp_path):
    config = config_from_dict(UPSCALE, tmp_path, "test")
    path = tmp_path / "copy.toml"
    path.write_text(dump_toml(config))
    again = load_config(path)
    assert again.to_dict()["train"] == config.to_dict()["train"]
    assert again.data.train == [str((tmp_path / "images").resolve())]
    assert np.isclose(again.train.lr, 1e-3)


def test_sr_studio_train_flags_alone_fine_tune_into_the_library(tmp_path, images, library, data_dir):
    env = {**os.environ, "SR_STUDIO_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "sr_studio", "train", "--data", str(images), "--base", "smooth-x2"]
    command += ["--name", "my-scans", "--steps", "4", "--batch", "2", "--patch", "32", "--threads", "1"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0, events
    assert events[-1]["event"] == "done"
    assert (
        ModelLibrary(builtin_dir=tmp_path / "none").find("my-scans").card.extra["base_model"] == "smooth-x2"
    )


def test_a_stop_file_in_the_run_folder_stops_like_sigterm(tmp_path, images, data_dir):
    config = write_config(tmp_path, UPSCALE, train__steps=400)
    run = tmp_path / "run"
    child = start_training(config, run, data_dir)
    for line in child.stdout:
        if json.loads(line)["event"] == "step":
            (run / "stop").touch()  # what the wizard does on Windows, where there is no SIGTERM
            break
    last = [json.loads(line) for line in child.stdout][-1]
    assert child.wait(timeout=60) == 130
    child.stdout.close()
    assert last["event"] == "stopped"
    code, events = train("--resume", str(run), "--steps", str(last["step"] + 2), env_dir=data_dir)
    assert code == 0 and events[-1]["event"] == "done"  # the spent stop file does not stop the resume


def test_a_corrupt_checkpoint_is_one_line_not_a_crash(tmp_path, images, data_dir):
    config = write_config(tmp_path, UPSCALE, train__steps=4)
    run = tmp_path / "run"
    assert train(str(config), "--run-dir", str(run), env_dir=data_dir)[0] == 0
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    code, events = train("--resume", str(run), env_dir=data_dir)
    assert code == 1
    assert events[-1]["event"] == "error" and "cannot resume from the checkpoint" in events[-1]["message"]
