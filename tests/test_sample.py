"""GAN sampling: seeds are reproducible, truncation bounds latents, interpolation ends on both seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_studio.core import sample as sampling
from sr_studio.core.errors import Cancelled, SRStudioError
from sr_studio.core.jobs import CancelToken, run_job


def test_same_seed_same_pictures_other_seed_other_pictures(library):
    model = library.load("tiny-gan")
    first = sampling.sample(model, 3, seed=5, device="cpu")
    again = sampling.sample(model, 3, seed=5, device="cpu")
    other = sampling.sample(model, 3, seed=6, device="cpu")
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0].pixels, other[0].pixels)
    assert first[0].pixels.shape == (32, 32, 3) and first[0].pixels.dtype == np.uint8


def test_truncation_redraws_components_beyond_the_bound():
    z = sampling.latents(1, 64, 100, truncation=0.5)
    assert z.abs().max() <= 0.5
    assert z.std() > 0.2  # resampled, not clamped onto the bound
    assert (z.abs() == 0.5).sum() == 0
    with pytest.raises(SRStudioError):
        sampling.latents(1, 1, 10, truncation=0)


def test_slerp_ends_on_both_latents_and_keeps_the_norm():
    a, b = sampling.latents(1, 2, 100)
    assert torch.allclose(sampling.slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(sampling.slerp(a, b, 1.0), b, atol=1e-5)
    middle = sampling.slerp(a, b, 0.5)
    assert abs(middle.norm() - (a.norm() + b.norm()) / 2) < 0.1 * a.norm()  # a straight line would shrink it
    assert (a + b).norm() / 2 < middle.norm()


def test_interpolation_frames_start_and_end_on_the_seeds(library):
    model = library.load("tiny-gan")
    frames = sampling.interpolate(model, 3, 4, 5, device="cpu")
    assert len(frames) == 5
    assert np.array_equal(frames[0].pixels, sampling.sample(model, 1, 3, device="cpu")[0].pixels)
    assert np.array_equal(frames[-1].pixels, sampling.sample(model, 1, 4, device="cpu")[0].pixels)


def test_grid_places_each_picture(library):
    pictures = sampling.sample(library.load("tiny-gan"), 5, seed=0, device="cpu")
    sheet = sampling.grid(pictures, columns=3, padding=2)
    assert sheet.pixels.shape == (2 * 32 + 3 * 2, 3 * 32 + 4 * 2, 3)
    assert np.array_equal(sheet.pixels[2:34, 36:68], pictures[1].pixels)
    assert (sheet.pixels[36:68, 70:102] == 255).all()  # the sixth cell is empty


def test_an_upscaler_is_not_a_sampler(library):
    with pytest.raises(SRStudioError, match="not a sampler"):
        sampling.sample(library.load("tiny-x2"), 1, 0)
    with pytest.raises(SRStudioError, match="not a sampler"):
        sampling.latent_dim(library.load("tiny-x2"))
    assert sampling.latent_dim(library.load("tiny-gan")) == 16


def test_interpolation_latents_run_from_seed_a_to_seed_b():
    z = sampling.interpolation_latents(3, 4, 5, 16, truncation=1.5)
    assert z.shape == (5, 16)
    assert torch.allclose(z[0], sampling.latents(3, 1, 16, 1.5)[0], atol=1e-5)
    assert torch.allclose(z[-1], sampling.latents(4, 1, 16, 1.5)[0], atol=1e-5)
    assert not torch.allclose(z[2], (z[0] + z[-1]) / 2, atol=1e-3)  # along the sphere, not a straight line
    with pytest.raises(SRStudioError, match="at least 2 frames"):
        sampling.interpolation_latents(3, 4, 1, 16)


def test_the_sample_job_reports_each_batch_and_stops_when_cancelled(library):
    model = library.load("tiny-gan")
    events = []
    pictures = run_job(sampling.sample_job(model, 20, seed=1, device="cpu"), events.append)
    assert [(e.done, e.total, e.stage) for e in events] == [
        (0, 20, "samples"),
        (16, 20, "samples"),
        (20, 20, "samples"),
    ]
    assert events[-1].eta_s == 0
    assert len(pictures) == 20
    token = CancelToken()
    job = sampling.sample_job(model, 20, seed=1, device="cpu", cancel=token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        next(job)
    with pytest.raises(SRStudioError, match="at least 1"):
        sampling.sample(model, 0, seed=1)


def test_the_interpolation_job_counts_frames_and_ends_on_both_seeds(library):
    model = library.load("tiny-gan")
    events = []
    frames = run_job(sampling.interpolate_job(model, 3, 4, 5, device="cpu"), events.append)
    assert [(e.done, e.total, e.stage) for e in events] == [(0, 5, "frames"), (5, 5, "frames")]
    assert np.array_equal(frames[0].pixels, sampling.sample(model, 1, 3, device="cpu")[0].pixels)
    assert np.array_equal(frames[-1].pixels, sampling.sample(model, 1, 4, device="cpu")[0].pixels)
