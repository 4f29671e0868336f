"""The tiling engine: tiled output equals whole-image output, OOM backoff, cancellation, device policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.core import engine
from sr_studio.core.errors import Cancelled, SRStudioError
from sr_studio.core.jobs import CancelToken, run_job
from sr_studio.models import ARCHITECTURES
from sr_studio.models.srresnet import SRResNet

CPU = torch.device("cpu")


def wide_field_network(scale: int = 2, blocks: int = 4, seed: int = 0) -> SRResNet:
    """An SRResNet whose residual branches are at full strength, so every output pixel depends on its whole
    receptive field: near-identity weights would hide a seam that a too-small overlap leaves."""
    torch.manual_seed(seed)
    net = SRResNet(scale=scale, blocks=blocks, channels=8, norm="none")
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            torch.nn.init.normal_(module.bias, std=0.05)
    return net.eval()


def run(network, image, *, tile, pad=None, cancel=None, progress=None, device="cpu"):
    scale = network.scale
    out = np.zeros((image.shape[0] * scale, image.shape[1] * scale, 3), dtype=np.float32)
    pad = network.receptive_radius if pad is None else pad
    torch_device = torch.device(device)
    network = network.to(torch_device)
    job = engine.run_tiled(
        network,
        image,
        out,
        scale=scale,
        pad=pad,
        device=torch_device,
        precision="fp32",
        tile=tile,
        cancel=cancel,
    )
    run_job(job, progress)
    return out


@pytest.fixture
def image() -> np.ndarray:
    rng = np.random.default_rng(1)
    smooth = np.cumsum(np.cumsum(rng.normal(size=(37, 53, 3)), axis=0), axis=1)  # odd, non-square, textured
    return ((smooth - smooth.min()) / np.ptp(smooth)).astype(np.float32)


def test_tiled_equals_whole_image(image, device):
    net = wide_field_network()
    whole = run(net, image, tile=None, device=device)
    assert whole.std() > 0.05  # the network's output is not flat: a seam would show
    for tile in (16, 23):
        tiled = run(net, image, tile=tile, device=device)
        assert np.abs(tiled - whole).max() <= 1 / 255


def test_too_small_overlap_shows_seams(image):
    """The equality test has teeth: an overlap smaller than the receptive field breaks it."""
    net = wide_field_network()
    whole = run(net, image, tile=None)
    seamy = run(net, image, tile=16, pad=net.receptive_radius // 4)
    assert np.abs(seamy - whole).max() > 1 / 255


def test_integer_targets_are_quantised_with_rounding():
    values = torch.tensor([[[-0.1, 0.0, 0.5, 1 / 255 * 0.49, 1.2]]])
    assert engine.to_pixels(values, np.dtype(np.uint8)).ravel().tolist() == [0, 0, 128, 0, 255]
    assert engine.to_pixels(values, np.dtype(np.uint16)).ravel().tolist() == [0, 0, 32768, 126, 65535]
    assert engine.to_pixels(values, np.dtype(np.float32)).ravel().tolist() == pytest.approx(
        [0, 0, 0.5, 0.00192, 1], abs=1e-5
    )


class RunsOutOfMemory(torch.nn.Module):
    """Wraps a network and raises the CPU allocator's error for inputs larger than `limit` pixels."""

    def __init__(self, network: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.network = network
        self.limit = limit
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x):
        self.sizes.append(tuple(x.shape[-2:]))
        if x.shape[-2] * x.shape[-1] > self.limit:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 GB")
        return self.network(x)


def test_out_of_memory_halves_the_tile_and_finishes(device):
    image = np.random.default_rng(2).random((80, 100, 3), dtype=np.float32)
    net = wide_field_network()
    whole = run(net, image, tile=None, device=device)
    flaky = RunsOutOfMemory(net, limit=60 * 60)
    out = np.zeros_like(whole)
    events = []
    job = engine.run_tiled(
        flaky,
        image,
        out,
        scale=2,
        pad=net.receptive_radius,
        device=torch.device(device),
        precision="fp32",
        tile=64,
    )
    final_tile = run_job(job, events.append)
    assert final_tile == 16  # 64 and 32 (padded to 96 and 64 pixels) ran out of memory
    assert flaky.sizes[0] == (80, 80)  # the first tile, 64 + 16 of overlap, clipped
    assert any("out of memory" in e.info.get("note", "") for e in events)
    assert np.abs(out - whole).max() <= 1 / 255


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error(image):
    flaky = RunsOutOfMemory(wide_field_network(), limit=1)
    out = np.zeros((74, 106, 3), dtype=np.float32)
    job = engine.run_tiled(flaky, image, out, scale=2, pad=16, device=CPU, precision="fp32", tile=32)
    with pytest.raises(SRStudioError, match="out of memory"):
        run_job(job)


def test_other_errors_are_not_mistaken_for_out_of_memory():
    assert engine.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not engine.is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not engine.is_out_of_memory(ValueError("out of memory"))


def test_cancel_between_tiles_stops_at_once(image):
    net = wide_field_network()
    cancel = CancelToken()
    seen = []

    def progress(event):
        seen.append(event)
        cancel.cancel()

    with pytest.raises(Cancelled):
        run(net, image, tile=16, cancel=cancel, progress=progress)
    assert len(seen) == 1  # no tile ran after the cancel


def test_cancel_inside_a_tile_stops_before_the_next_block(image):
    """A slow tile does not delay cancel: the token is checked before every residual block."""
    net = wide_field_network(blocks=4)
    cancel = CancelToken()
    ran = []
    for index, block in enumerate(net.body):
        block.register_forward_hook(lambda *_, i=index: ran.append(i))
    net.body[1].register_forward_hook(lambda *_: cancel.cancel())
    with pytest.raises(Cancelled):
        run(net, image, tile=None, cancel=cancel)
    assert ran == [0, 1]
    assert all(not m._forward_pre_hooks for m in net.modules())  # the cancel hooks were removed


def test_plan_tiles_covers_the_image_once():
    tiles = engine.plan_tiles(37, 53, 16, pad=5)
    cover = np.zeros((37, 53), dtype=int)
    for t in tiles:
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert 0 <= t.py0 <= t.y0 and t.y1 <= t.py1 <= 37 and 0 <= t.px0 <= t.x0 and t.x1 <= t.px1 <= 53
    assert (cover == 1).all()
    assert len(engine.plan_tiles(37, 53, None, pad=5)) == 1


def test_device_policy_on_this_machine():
    assert engine.available_devices()[-1] == "cpu"
    assert engine.resolve_device("cpu") == CPU
    with pytest.raises(SRStudioError, match="not available"):
        engine.resolve_device("cuda:7")
    with pytest.raises(SRStudioError, match="unknown device"):
        engine.resolve_device("toaster")


def test_precision_policy(monkeypatch):
    assert engine.resolve_precision("auto", torch.device("cuda:0")) == "fp16"
    assert engine.resolve_precision("auto", torch.device("cuda:0"), ("fp32", "bf16")) == "bf16"
    assert engine.resolve_precision("auto", torch.device("mps"), ("fp32",)) == "fp32"
    monkeypatch.setattr(engine, "cpu_has_fast_bf16", lambda: True)
    assert engine.resolve_precision("auto", CPU) == "bf16"
    assert engine.resolve_precision("auto", CPU, ("fp32",)) == "fp32"
    monkeypatch.setattr(engine, "cpu_has_fast_bf16", lambda: False)
    assert engine.resolve_precision("auto", CPU) == "fp32"
    assert engine.resolve_precision("bf16", CPU) == "bf16"
    with pytest.raises(SRStudioError):
        engine.resolve_precision("fp16", CPU)
    with pytest.raises(SRStudioError):
        engine.resolve_precision("fp8", CPU)


def test_auto_tile_follows_free_memory(monkeypatch):
    monkeypatch.setattr(engine, "free_memory_bytes", lambda device: 64 << 30)
    pixel_bytes = ARCHITECTURES["srresnet"].bytes_per_input_pixel({"scale": 4, "channels": 64}, "fp32")
    roomy = engine.auto_tile_size(CPU, pixel_bytes, pad=40)
    monkeypatch.setattr(engine, "free_memory_bytes", lambda device: 200 << 20)
    tight = engine.auto_tile_size(CPU, pixel_bytes, pad=40)
    assert roomy == engine.MAX_AUTO_TILE["cpu"]
    assert engine.MIN_TILE <= tight < roomy
    # the estimate keeps a padded tile's activations within a quarter of free memory
    side = tight + 80
    assert side * side * pixel_bytes <= (200 << 20) // 4 or tight == 64


def test_bf16_stays_close_to_fp32(image):
    net = wide_field_network(blocks=2)
    reference = run(net, image, tile=None)
    bf16_net = engine.prepare_network(net, CPU, "bf16")
    out = np.zeros_like(reference)
    run_job(engine.run_tiled(bf16_net, image, out, scale=2, pad=12, device=CPU, precision="bf16", tile=None))
    assert np.abs(out - reference).mean() < 0.02
