"""Forward-pass backends: OpenVINO agrees with torch, tiles exactly, cancels, and falls back with a note.

Tests that need OpenVINO skip where it is not installed (it is an extra, in `dev` so that CI has it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sr_studio.cli import main
from sr_studio.core import backends, engine
from sr_studio.core.errors import Cancelled, SRStudioError, UsageError
from sr_studio.core.images import Picture
from sr_studio.core.jobs import CancelToken, run_job
from sr_studio.core.library import ModelLibrary
from sr_studio.core.paths import builtin_models_dir
from sr_studio.core.upscale import upscale
from sr_studio.models import ARCHITECTURES, build
from tests.test_architectures import TINY, lively
from tests.test_engine import wide_field_network

CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parent.parent
# find_spec, not an import: a plain `import openvino` would send OpenVINO's telemetry (see openvino_backend)
needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None,
    reason="OpenVINO is not installed (pip install -e '.[openvino]')",
)


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(1)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(37, 53, 3)), axis=0), axis=1)  # odd, non-square
    return ((smooth - smooth.min()) / np.ptp(smooth)).astype(np.float32)


def run(network, image, *, backend, tile=None, precision="fp32", ensemble=False, cancel=None, alignment=1):
    """`network` over `image` through the engine on the chosen backend: float output and the backend."""
    scale = network.scale if hasattr(network, "scale") else 1
    chosen = backends.choose_backend(
        network, request=backend, device=CPU, precision=precision, alignment=alignment
    )
    out = np.zeros((image.shape[0] * scale, image.shape[1] * scale, 3), dtype=np.float32)
    job = engine.run_tiled(
        chosen.network,
        image,
        out,
        scale=scale,
        pad=network.receptive_radius,
        device=CPU,
        precision=precision,
        tile=tile,
        cancel=cancel,
        ensemble=ensemble,
        alignment=alignment,
    )
    run_job(job)
    return out, chosen


# ---- parity ----------------------------------------------------------------------------------------


@needs_openvino
def test_openvino_f32_equals_torch_fp32_on_a_random_model(image):
    net = wide_field_network(scale=4, blocks=3)
    expected, _ = run(net, image, backend="torch")
    got, chosen = run(net, image, backend="openvino")
    assert (chosen.name, chosen.note) == ("openvino", None)
    assert expected.std() > 0.05
    assert np.abs(got - expected).max() <= 1e-4


@needs_openvino
def test_openvino_f32_equals_torch_fp32_on_the_shipped_srresnet_x4(tmp_path):
    folder = builtin_models_dir()
    if not (folder / "srresnet-x4.json").is_file():
        pytest.skip(f"no shipped srresnet-x4 in {folder}")
    model = ModelLibrary(builtin_dir=folder, user_dir=tmp_path).load("srresnet-x4")
    rng = np.random.default_rng(4)
    picture = rng.random((30, 44, 3), dtype=np.float32)
    results = {}
    for backend in ("torch", "openvino"):
        chosen = backends.choose_backend(model.network, request=backend, device=CPU, precision="fp32")
        assert chosen.name == backend
        out = np.zeros((120, 176, 3), dtype=np.float32)
        job = engine.run_tiled(
            chosen.network,
            picture,
            out,
            scale=4,
            pad=model.receptive_radius,
            device=CPU,
            precision="fp32",
            tile=None,
        )
        run_job(job)
        results[backend] = out
    assert np.abs(results["openvino"] - results["torch"]).max() <= 1e-4


@needs_openvino
def test_openvino_bf16_stays_close_to_torch_fp32(image):
    """As close as torch's own bf16 (tests/test_engine.py: mean under 0.02) on the same network."""
    net = wide_field_network(scale=2, blocks=2)
    expected, _ = run(net, image, backend="torch")
    got, chosen = run(net, image, backend="openvino", precision="bf16")
    torch_bf16, _ = run(net, image, backend="torch", precision="bf16")
    assert chosen.name == "openvino"
    assert np.abs(got - expected).mean() < 0.02
    assert np.abs(got - expected).mean() <= 1.5 * np.abs(torch_bf16 - expected).mean()


@pytest.mark.parametrize("backend", ["torch", pytest.param("openvino", marks=needs_openvino)])
def test_tiled_equals_whole_image_for_each_backend(image, backend):
    net = wide_field_network()
    whole, chosen = run(net, image, backend=backend)
    assert chosen.name == backend and whole.std() > 0.05
    for tile in (16, 23):
        tiled, _ = run(net, image, backend=backend, tile=tile)
        assert np.abs(tiled - whole).max() <= 1e-4


@needs_openvino
def test_self_ensemble_on_openvino_equals_torch(image):
    net = wide_field_network(blocks=2)
    expected, _ = run(net, image, backend="torch", tile=20, ensemble=True)
    got, chosen = run(net, image, backend="openvino", tile=20, ensemble=True)
    assert chosen.name == "openvino"
    assert np.abs(got - expected).max() <= 1e-4


UPSCALERS = {
    "srresnet": {"scale": 2, "blocks": 2, "channels": 8, "norm": "batch"},
    "msrresnet": {"scale": 4, "blocks": 1, "channels": 8},
    **{f"{arch}:{key}": arguments for key, (arch, arguments) in TINY.items()},
}


@needs_openvino
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_architecture_converts_or_is_refused_with_a_reason(architecture, image):
    """Every upscaler the library knows runs on OpenVINO and agrees with torch, at each of its scales;
    the rest (samplers, discriminators) are refused before any backend, by the upscale path."""
    descriptor = ARCHITECTURES[architecture]
    if descriptor.task != "upscale":  # the upscale path refuses the model's task before any backend
        model = SimpleNamespace(card=SimpleNamespace(task=descriptor.task, name=architecture))
        picture = Picture(pixels=np.zeros((8, 8, 3), dtype=np.uint8))
        with pytest.raises(SRStudioError, match=f"is a {descriptor.task} model, not an upscaler"):
            upscale(picture, model, device="cpu", backend="openvino")  # type: ignore[arg-type]
        return
    variants = [args for key, args in UPSCALERS.items() if key.split(":")[0] == architecture]
    assert variants, f"no tiny {architecture} to test: add one to UPSCALERS"
    for arguments in variants:
        net = lively(build(architecture, **arguments), seed=2)
        alignment = descriptor.alignment(arguments)
        chosen = backends.choose_backend(
            net, request="auto", device=CPU, precision="fp32", alignment=alignment, label=architecture
        )
        if chosen.name == "torch":  # refused: the note must say why, and torch carries on
            assert chosen.note and chosen.note.startswith(f"OpenVINO cannot run {architecture}: ")
            continue
        probe = torch.from_numpy(image[:24, :32]).permute(2, 0, 1)[None].contiguous()
        with torch.no_grad():
            expected = net(probe)
        got = chosen.network(probe)
        tolerance = 1e-4 * max(1.0, float(expected.abs().max()))
        assert (got - expected).abs().max() <= tolerance, arguments


def test_samplers_and_discriminators_are_refused_before_any_backend(library):
    picture = Picture(pixels=np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(SRStudioError, match="not an upscaler"):
        upscale(picture, library.load("tiny-gan"), device="cpu", backend="openvino")


class BakesItsShape(nn.Module):
    """Reads its input's size as Python ints, which a trace freezes: OpenVINO would give the trace's size."""

    scale, receptive_radius = 2, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = int(x.shape[2]), int(x.shape[3])
        return F.interpolate(x, size=(height * 2, width * 2), mode="nearest")


@needs_openvino
def test_a_model_whose_trace_is_wrong_is_refused_and_runs_on_torch(image):
    out, chosen = run(BakesItsShape(), image, backend="auto")
    assert chosen.name == "torch"
    assert chosen.note is not None and "OpenVINO cannot run this model" in chosen.note
    assert "using torch" in chosen.note and "\n" not in chosen.note
    assert np.array_equal(out, image.repeat(2, axis=0).repeat(2, axis=1))


@needs_openvino
def test_a_conversion_error_is_a_one_line_note(image, monkeypatch):
    from sr_studio.core.openvino_backend import load_openvino

    openvino = load_openvino()

    def fail(*args, **kwargs):
        raise RuntimeError(
            "Exception from src/frontends/pytorch/src/frontend.cpp:123:\n"
            "Model wasn't fully converted: aten::foo"
        )

    monkeypatch.setattr(openvino, "convert_model", fail)
    _, chosen = run(wide_field_network(blocks=1, seed=3), image, backend="openvino")
    assert chosen.name == "torch"
    assert chosen.note == (
        "OpenVINO cannot run this model: conversion failed: "
        "Model wasn't fully converted: aten::foo; using torch"
    )


# ---- fallbacks -----------------------------------------------------------------------------------------


def test_missing_openvino_falls_back_to_torch_with_a_note(image, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # `import openvino` now fails as if not installed
    net = wide_field_network(blocks=1)
    expected, _ = run(net, image, backend="torch")
    got, chosen = run(net, image, backend="openvino")
    assert chosen.name == "torch"
    assert chosen.note == "OpenVINO is not installed (pip install 'sr-studio[openvino]'); using torch"
    assert np.array_equal(got, expected)
    _, quiet = run(net, image, backend="auto")  # the default install has no OpenVINO: nothing to say
    assert (quiet.name, quiet.note) == ("torch", None)
    assert "not installed" in backends.describe("auto")


def test_missing_openvino_is_a_note_of_the_upscale_result(library, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    picture = Picture(pixels=np.full((12, 10, 3), 128, dtype=np.uint8))
    result = upscale(picture, library.load("tiny-x2"), device="cpu", backend="openvino")
    assert result.backend == "torch"
    assert result.notes == ("OpenVINO is not installed (pip install 'sr-studio[openvino]'); using torch",)


def test_an_unknown_backend_is_a_usage_error(library):
    picture = Picture(pixels=np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(UsageError, match="unknown backend 'tpu'"):
        upscale(picture, library.load("tiny-x2"), backend="tpu")


def test_torch_backend_never_imports_openvino(image):
    code = (
        "import sys, numpy as np\n"
        "from tests.test_backends import run\n"
        "from tests.test_engine import wide_field_network\n"
        "run(wide_field_network(blocks=1), np.zeros((20, 20, 3), np.float32), backend='torch')\n"
        "import sr_studio.ui.app.settings\n"
        "print('openvino' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_backend_choices_import_neither_torch_nor_openvino():
    code = "import sys, sr_studio.core.backends\nprint('torch' in sys.modules, 'openvino' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


# ---- runtime behaviour -------------------------------------------------------------------------------


@needs_openvino
def test_importing_openvino_through_the_backend_sends_no_telemetry(tmp_path):
    """openvino's import sends a usage event and writes ~/intel/openvino_ga_cid unless blocked."""
    code = (
        "import sys, torch\n"
        "from sr_studio.core import openvino_backend\n"
        "ov = openvino_backend.load_openvino()\n"
        "ov.convert_model(torch.nn.Conv2d(3, 3, 3), example_input=torch.rand(1, 3, 8, 8))\n"
        "print(sys.modules['openvino_telemetry'])\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "USERPROFILE": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "None"
    assert not (tmp_path / "intel").exists()


@needs_openvino
def test_compiled_shapes_are_cached_within_a_pixel_budget(monkeypatch):
    from sr_studio.core import openvino_backend

    openvino_backend.forget_compiled()
    monkeypatch.setattr(openvino_backend, "COMPILED_PIXELS", 32 * 32 + 32 * 16)
    conversion = openvino_backend.convert(wide_field_network(blocks=1))
    first = openvino_backend.compiled_for(conversion, "fp32", 1, (1, 3, 32, 32))
    assert openvino_backend.compiled_for(conversion, "fp32", 1, (1, 3, 32, 32)) is first
    openvino_backend.compiled_for(conversion, "fp32", 1, (1, 3, 32, 16))
    openvino_backend.compiled_for(conversion, "fp32", 1, (1, 3, 16, 32))  # over the budget: 32² goes
    assert openvino_backend.compiled_for(conversion, "fp32", 1, (1, 3, 32, 32)) is not first
    openvino_backend.forget_compiled()


@needs_openvino
def test_a_conversion_lives_no_longer_than_its_module():
    import gc

    from sr_studio.core import openvino_backend

    net = wide_field_network(blocks=1)
    openvino_backend.convert(net)
    alive = weakref.ref(net)
    del net
    gc.collect()
    assert alive() is None


@needs_openvino
def test_cancel_interrupts_a_running_openvino_tile():
    """One whole-image tile that takes seconds stops within a fraction of a second of Cancel."""
    torch.manual_seed(0)
    from sr_studio.models.srresnet import SRResNet

    net = SRResNet(scale=4, blocks=16, channels=64, norm="none").eval()
    picture = np.random.default_rng(0).random((192, 192, 3), dtype=np.float32)
    chosen = backends.choose_backend(net, request="openvino", device=CPU, precision="fp32")
    assert chosen.name == "openvino"
    chosen.network(torch.zeros(1, 3, 192, 192))  # compiles the shape (not interruptible) and warms up
    cancel, stopped = CancelToken(), {}
    out = np.zeros((768, 768, 3), dtype=np.float32)

    def work() -> None:
        job = engine.run_tiled(
            chosen.network,
            picture,
            out,
            scale=4,
            pad=0,
            device=CPU,
            precision="fp32",
            tile=None,
            cancel=cancel,
        )
        try:
            run_job(job)
        except Cancelled:
            stopped["at"] = time.perf_counter()

    started = time.perf_counter()
    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.3)
    cancelled_at = time.perf_counter()
    cancel.cancel()
    worker.join(timeout=30)
    assert "at" in stopped, f"not cancelled: the tile finished after {time.perf_counter() - started:.1f} s"
    assert stopped["at"] - cancelled_at < 0.5


# ---- the faces -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["torch", pytest.param("openvino", marks=needs_openvino)])
def test_cli_backend_is_recorded_in_the_json(library, photo, tmp_path, capsys, backend):
    target = tmp_path / "out.png"
    arguments = ["upscale", str(photo), "-o", str(target), "--model", "tiny-x2", "--json"]
    code = main([*arguments, "--device", "cpu", "--precision", "fp32", "--backend", backend])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert summary["backend"] == backend and summary["notes"] == []
    assert target.is_file()


def test_cli_backend_note_when_openvino_is_missing(library, photo, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    code = main(["upscale", str(photo), "-o", str(tmp_path / "o.png"), "--model", "tiny-x2"])
    code_json = main(
        [
            "upscale",
            str(photo),
            "-o",
            str(tmp_path / "p.png"),
            "--model",
            "tiny-x2",
            "--backend",
            "openvino",
            "--json",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == code_json == 0
    summary = json.loads(out)
    assert summary["backend"] == "torch"
    assert [n["note"] for n in summary["notes"]] == [
        "OpenVINO is not installed (pip install 'sr-studio[openvino]'); using torch"
    ]


def test_cli_refuses_an_unknown_backend(library, photo, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["upscale", str(photo), "--model", "tiny-x2", "--backend", "tpu"])
    assert raised.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err


def test_the_app_keeps_the_backend_setting_and_about_names_it(tmp_path):
    from sr_studio.ui.app.about import about_text
    from sr_studio.ui.app.settings import Settings

    settings = Settings.from_file(tmp_path / "s.ini")
    assert settings.upscale_backend == "auto"
    settings.upscale_backend = "torch"
    assert Settings.from_file(tmp_path / "s.ini").upscale_backend == "torch"
    with pytest.raises(ValueError):
        settings.upscale_backend = "tpu"
    assert "Backend: torch (setting: torch)" in about_text("cpu", "torch")
    line = next(line for line in about_text("cpu", "auto").splitlines() if line.startswith("Backend: "))
    assert "OpenVINO" in line and "setting: auto" in line


def test_the_cpu_backend_menu_sets_the_setting_that_the_jobs_use(qtbot, library, tmp_path):
    from sr_studio.ui.app.main_window import MainWindow
    from sr_studio.ui.app.settings import Settings
    from sr_studio.ui.jobs import workers

    window = MainWindow(
        (), library=library, settings=Settings.from_file(tmp_path / "s.ini"), pool=workers.SynchronousPool()
    )
    qtbot.addWidget(window)
    checked = [action.data() for action in window.backend_group.actions() if action.isChecked()]
    assert checked == ["auto"]
    next(action for action in window.backend_group.actions() if action.data() == "torch").trigger()
    assert Settings.from_file(tmp_path / "s.ini").upscale_backend == "torch"
    assert window.upscale_tab._options()["backend"] == "torch"
