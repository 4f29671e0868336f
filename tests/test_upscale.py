"""The one upscale path: colour, grey, alpha, 16-bit, progress and choices, through a real library model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.core.errors import SRStudioError
from sr_studio.core.images import Picture
from sr_studio.core.upscale import parse_tile, upscale
from tests.pictures import textured


def reference(model, rgb_float: np.ndarray) -> np.ndarray:
    """The network run once on the whole image in fp32, outside the engine."""
    with torch.no_grad():
        out = model.network(torch.from_numpy(rgb_float.transpose(2, 0, 1).copy())[None])
    return out[0].permute(1, 2, 0).numpy()


def run(picture, model, **kwargs):
    return upscale(picture, model, device="cpu", precision="fp32", **kwargs)


def test_rgb_matches_the_network(library, device):
    model = library.load("tiny-x2")
    pixels = textured(33, 42)
    result = upscale(Picture(pixels=pixels), model, device=device, precision="fp32", tile=16)
    assert result.picture.pixels.shape == (66, 84, 3)
    assert result.picture.pixels.dtype == np.uint8
    expected = reference(model, pixels.astype(np.float32) / 255).clip(0, 1)
    assert np.abs(result.picture.pixels / 255 - expected).max() <= 1 / 255 + 1e-6
    assert (result.device, result.precision, result.scale, result.model) == (
        str(torch.device(device, 0) if device == "cuda" else torch.device(device)),
        "fp32",
        2,
        "tiny-x2",
    )


def test_grey_stays_grey_and_is_the_mean_of_the_colour_run(library):
    model = library.load("tiny-x2")
    grey = textured(11, 9, channels=1)
    result = run(Picture(pixels=grey), model)
    assert result.picture.pixels.shape == (22, 18, 1)
    expected = reference(model, np.repeat(grey, 3, axis=2).astype(np.float32) / 255).mean(axis=2).clip(0, 1)
    assert np.abs(result.picture.pixels[..., 0] / 255 - expected).max() <= 1 / 255 + 1e-6


def test_alpha_is_upscaled_as_its_own_channel(library):
    model = library.load("tiny-x2")
    rgb = textured(12, 10)
    alpha = np.zeros((12, 10, 1), dtype=np.uint8)
    alpha[3:9, 2:8] = 255  # an opaque square on a transparent ground
    result = run(Picture(pixels=np.concatenate([rgb, alpha], axis=2)), model)
    assert result.picture.pixels.shape == (24, 20, 4)
    colour_only = run(Picture(pixels=rgb), model).picture.pixels
    assert np.array_equal(result.picture.pixels[..., :3], colour_only)
    expected_alpha = (
        reference(model, np.repeat(alpha, 3, axis=2).astype(np.float32) / 255).mean(axis=2).clip(0, 1)
    )
    assert np.abs(result.picture.pixels[..., 3] / 255 - expected_alpha).max() <= 1 / 255 + 1e-6


def test_uniform_alpha_is_kept_exactly(library):
    model = library.load("tiny-x2")
    pixels = np.concatenate([textured(8, 8), np.full((8, 8, 1), 200, np.uint8)], axis=2)
    result = run(Picture(pixels=pixels), model)
    assert (result.picture.pixels[..., 3] == 200).all()


def test_sixteen_bit_in_sixteen_bit_out(library):
    model = library.load("smooth-x2")
    grey16 = (textured(9, 14, channels=1).astype(np.uint16) * 257) + 3
    result = run(Picture(pixels=grey16), model)
    assert result.picture.pixels.dtype == np.uint16
    assert result.picture.pixels.shape == (18, 28, 1)
    assert len(np.unique(result.picture.pixels)) > 256  # finer than 8-bit steps survive


def test_progress_reports_tiles_and_eta(library):
    model = library.load("tiny-x2")
    events = []
    run(Picture(pixels=textured(40, 40)), model, tile=16, progress=events.append)
    assert [e.done for e in events] == list(range(1, 10))
    assert all(e.total == 9 and e.stage == "colour" for e in events)
    assert events[-1].eta_s == 0.0 and all(e.eta_s is not None for e in events)


def test_metadata_and_source_carry_over(library):
    from sr_studio.core.images import Metadata

    model = library.load("tiny-x2")
    picture = Picture(pixels=textured(6, 6), metadata=Metadata(icc_profile=b"icc", dpi=(300.0, 300.0)))
    result = run(picture, model)
    assert result.picture.metadata == picture.metadata


def test_a_sampler_is_refused(library):
    with pytest.raises(SRStudioError, match="not an upscaler"):
        run(Picture(pixels=textured(6, 6)), library.load("tiny-gan"))


@pytest.mark.parametrize(
    ("value", "expected"), [("auto", "auto"), ("none", None), ("0", None), ("64", 64), (32, 32)]
)
def test_parse_tile(value, expected):
    assert parse_tile(value) == expected


@pytest.mark.parametrize("value", ["big", "8", -4])
def test_parse_tile_refuses(value):
    with pytest.raises(SRStudioError):
        parse_tile(value)


def test_self_ensemble_is_the_mean_of_the_eight_undone_transforms_and_tiles_exactly(library):
    model = library.load("tiny-x2")
    pixels = textured(40, 30, seed=5)
    ensembled = upscale(Picture(pixels), model, device="cpu", precision="fp32", tile=None, ensemble=True)
    assert ensembled.ensemble is True
    rgb = pixels.astype(np.float32) / 255
    outputs = []
    for turns in range(4):
        for mirrored in (False, True):
            view = np.rot90(rgb, turns)
            view = view[:, ::-1] if mirrored else view
            out = reference(model, np.ascontiguousarray(view))
            out = out[:, ::-1] if mirrored else out
            outputs.append(np.rot90(out, -turns))
    expected = np.clip(np.mean(outputs, axis=0) * 255 + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(ensembled.picture.pixels.astype(int) - expected.astype(int)).max() <= 1
    plain = upscale(Picture(pixels), model, device="cpu", precision="fp32", tile=None)
    assert not np.array_equal(
        plain.picture.pixels, ensembled.picture.pixels
    )  # a random net is not equivariant
    tiled = upscale(Picture(pixels), model, device="cpu", precision="fp32", tile=16, ensemble=True)
    np.testing.assert_array_equal(tiled.picture.pixels, ensembled.picture.pixels)
