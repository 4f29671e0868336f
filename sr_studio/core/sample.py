"""Sampling a GAN generator: seeded latents, truncation, interpolation between seeds, grids.

Latents are always drawn on the CPU from a seeded generator and then moved, so a seed names the same
latent vector on every device; the pictures agree across devices up to the device's arithmetic. Rendering
is one job (`render_job`) for every face: the CLI and the GAN tab draw the same latents and render them in
the same batches, so a seed gives the same pictures in both.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from sr_studio.core.errors import SRStudioError
from sr_studio.core.images import Picture
from sr_studio.core.jobs import CancelToken, EtaClock, Progress, check_cancel, run_job

if TYPE_CHECKING:
    import torch

    from sr_studio.core.library import LoadedModel

BATCH = 16  # latents per network call: a progress event and a cancel check each, yet few calls
DEFAULT_LATENT_DIM = 100  # DCGAN's, for cards that do not say


def latent_dim(model: LoadedModel) -> int:
    """The length of the generator's latent vectors; a model that is not a sampler is refused."""
    if model.card.task != "sample":
        raise SRStudioError(f"model {model.card.name!r} is an {model.card.task} model, not a sampler")
    return int(model.card.arguments.get("latent_dim", DEFAULT_LATENT_DIM))


def latents(seed: int, count: int, latent_dim: int, truncation: float | None = None) -> torch.Tensor:
    """`count` standard-normal latents for `seed`; with truncation t, components beyond ±t are redrawn."""
    import torch

    if truncation is not None and truncation <= 0:
        raise SRStudioError(f"truncation must be positive, not {truncation}")
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(count, latent_dim, generator=generator)
    if truncation is not None:
        outside = z.abs() > truncation
        while outside.any():  # resampling keeps the truncated normal's shape, unlike clamping
            z[outside] = torch.randn(int(outside.sum()), generator=generator)
            outside = z.abs() > truncation
    return z


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: Gaussian latents live near a sphere, and a straight line cuts through it."""
    import torch

    cos_angle = torch.clamp(torch.dot(a / a.norm(), b / b.norm()), -1.0, 1.0)
    angle = torch.arccos(cos_angle)
    if angle.abs() < 1e-6:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)


def interpolation_latents(
    seed_a: int, seed_b: int, frames: int, latent_dim: int, truncation: float | None = None
) -> torch.Tensor:
    """`frames` latents along the great circle from seed A's latent to seed B's, both ends included.

    Each end is the seed's first latent, so the first and last frames are the seeds' first samples.
    """
    import torch

    if frames < 2:
        raise SRStudioError(f"an interpolation needs at least 2 frames, not {frames}")
    a = latents(seed_a, 1, latent_dim, truncation)[0]
    b = latents(seed_b, 1, latent_dim, truncation)[0]
    return torch.stack([slerp(a, b, i / (frames - 1)) for i in range(frames)])


def render_job(
    model: LoadedModel,
    z: torch.Tensor,
    *,
    stage: str = "samples",
    device: str = "auto",
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, list[Picture]]:
    """Run the generator on latents `z`, BATCH at a time, and turn its output range into 8-bit RGB pictures.

    Yields one event before the first batch and one after each; checks `cancel` before each batch.
    """
    import torch

    from sr_studio.core.engine import prepare_network, resolve_device

    torch_device = resolve_device(device)
    network = prepare_network(model.network, torch_device, "fp32")  # a copy: the loaded model stays put
    low, high = model.card.value_range
    total = len(z)
    clock = EtaClock(total)
    pictures: list[Picture] = []
    yield Progress(0, total, stage)
    for start in range(0, total, BATCH):
        check_cancel(cancel)
        with torch.inference_mode():
            images = network(z[start : start + BATCH].to(torch_device)).float().cpu()
        images = ((images - low) / (high - low)).clamp(0, 1)
        pixels = (images.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        pictures += [Picture(pixels=np.ascontiguousarray(p)) for p in pixels]
        yield Progress(len(pictures), total, stage, clock.advance(len(pixels)))
    return pictures


def sample_job(
    model: LoadedModel,
    count: int,
    seed: int,
    *,
    truncation: float | None = None,
    device: str = "auto",
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, list[Picture]]:
    """`count` samples for `seed`, as a job whose progress counts samples."""
    if count < 1:
        raise SRStudioError(f"the number of samples must be at least 1, not {count}")
    z = latents(seed, count, latent_dim(model), truncation)
    return (yield from render_job(model, z, stage="samples", device=device, cancel=cancel))


def interpolate_job(
    model: LoadedModel,
    seed_a: int,
    seed_b: int,
    frames: int,
    *,
    truncation: float | None = None,
    device: str = "auto",
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, list[Picture]]:
    """The frames from seed A to seed B, as a job whose progress counts frames."""
    z = interpolation_latents(seed_a, seed_b, frames, latent_dim(model), truncation)
    return (yield from render_job(model, z, stage="frames", device=device, cancel=cancel))


def sample(
    model: LoadedModel, count: int, seed: int, *, truncation: float | None = None, device: str = "auto"
) -> list[Picture]:
    """`count` samples for `seed`: the same seed gives the same pictures on the same device."""
    return run_job(sample_job(model, count, seed, truncation=truncation, device=device))


def interpolate(
    model: LoadedModel,
    seed_a: int,
    seed_b: int,
    frames: int,
    *,
    truncation: float | None = None,
    device: str = "auto",
) -> list[Picture]:
    """`frames` pictures along the great circle from seed A's latent to seed B's, both ends included."""
    return run_job(interpolate_job(model, seed_a, seed_b, frames, truncation=truncation, device=device))


def grid(pictures: Sequence[Picture], columns: int | None = None, padding: int = 2) -> Picture:
    """Tile equally sized pictures into one, row by row, on a white background."""
    if not pictures:
        raise SRStudioError("a grid needs at least one picture")
    columns = columns or math.ceil(math.sqrt(len(pictures)))
    rows = math.ceil(len(pictures) / columns)
    height, width, channels = pictures[0].pixels.shape
    sheet = np.full(
        (rows * height + (rows + 1) * padding, columns * width + (columns + 1) * padding, channels),
        np.iinfo(pictures[0].pixels.dtype).max,
        dtype=pictures[0].pixels.dtype,
    )
    for index, picture in enumerate(pictures):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        sheet[top : top + height, left : left + width] = picture.pixels
    return Picture(pixels=sheet)


def file_name(seed: int, index: int | None, seed_b: int | None = None) -> str:
    """One picture's name, the same from the CLI and the GAN tab: `seed7_003.png` for a sample,
    `interp_1_2_004.png` for an interpolation frame (`seed_b` given), `seed7_000_grid.png` for the grid
    (`index` None), named after its first picture."""
    stem = f"seed{seed}" if seed_b is None else f"interp_{seed}_{seed_b}"
    return f"{stem}_{index or 0:03d}{'_grid' if index is None else ''}.png"
