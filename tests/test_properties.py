"""Property-based tests (hypothesis): the tiling maths for any image and tile size, tiled inference equal
to whole-image inference, and the loader on mutated bytes of valid files (a picture or one line, always)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sr_studio.core.engine import MIN_TILE, plan_tiles, prepare_network, run_tiled
from sr_studio.core.errors import ImageError
from sr_studio.core.images import load_image
from sr_studio.core.jobs import run_job
from sr_studio.models.msrresnet import MSRResNet
from tests.corpus import valid_files

sides = st.integers(min_value=1, max_value=300)


@settings(deadline=None)
@given(height=sides, width=sides, tile=st.none() | st.integers(MIN_TILE, 320), pad=st.integers(0, 48))
def test_tile_cores_cover_every_pixel_once_and_padding_is_the_clipped_context(height, width, tile, pad):
    cover = np.zeros((height, width), dtype=np.int32)
    for t in plan_tiles(height, width, tile, pad):
        assert 0 <= t.y0 < t.y1 <= height and 0 <= t.x0 < t.x1 <= width
        if tile is not None:
            assert t.y1 - t.y0 <= tile and t.x1 - t.x0 <= tile
        assert (t.py0, t.px0) == (max(0, t.y0 - pad), max(0, t.x0 - pad))
        assert (t.py1, t.px1) == (min(height, t.y1 + pad), min(width, t.x1 + pad))
        cover[t.y0 : t.y1, t.x0 : t.x1] += 1
    assert (cover == 1).all()


@pytest.fixture(scope="module")
def tiny_network() -> torch.nn.Module:
    torch.manual_seed(0)
    network = MSRResNet(scale=2, blocks=1, channels=4)
    for parameter in network.parameters():  # random, so every output pixel depends on its context
        torch.nn.init.normal_(parameter, std=0.3)
    return prepare_network(network, torch.device("cpu"), "fp32")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    tile=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_tiled_inference_equals_whole_image_inference(tiny_network, height, width, tile, seed):
    image = np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)
    pad = tiny_network.receptive_radius

    def upscale(tile_size: int | None) -> np.ndarray:
        out = np.zeros((height * 2, width * 2, 3), dtype=np.float32)
        job = run_tiled(
            tiny_network, image, out, scale=2, pad=pad, device=torch.device("cpu"), precision="fp32",
            tile=tile_size,
        )  # fmt: skip
        run_job(job)
        return out

    np.testing.assert_allclose(upscale(tile), upscale(None), atol=1e-5)


VALID = valid_files()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    extension=st.sampled_from(sorted(VALID)),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_mutated_bytes_give_a_picture_or_one_line(tmp_path, extension, flips):
    data = bytearray(VALID[extension])
    for where, value in flips:
        data[int(where * len(data))] = value
    path = tmp_path / f"mutated.{extension}"
    path.write_bytes(bytes(data))
    try:
        picture = load_image(path)
    except ImageError as error:
        assert "\n" not in str(error) and str(path) in str(error)
    else:
        assert picture.width > 0 and picture.height > 0
