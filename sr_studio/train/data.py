"""Training data: find the images, skip (and count) the unusable ones, split validation, cut batches.

Every random choice is drawn from one `torch.Generator`, whose state goes into each checkpoint, so a
resumed run draws exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from warnings import catch_warnings, simplefilter

import numpy as np
import torch
from PIL import Image

from sr_studio.core.errors import SRStudioError, first_line
from sr_studio.core.formats import readable_extensions
from sr_studio.core.images import DEFAULT_MAX_PIXELS, load_image
from sr_studio.core.metrics import downscale
from sr_studio.core.weights import sha256_file
from sr_studio.train.config import DataConfig, RunConfig, portable_path
from sr_studio.train.protocol import validation_count

IMAGE_SUFFIXES = readable_extensions()  # the one list every face uses (core.formats)
LIST_SUFFIXES = frozenset({".txt", ".tsv"})
FEW_IMAGES = 20


@dataclass
class Dataset:
    """Decoded RGB images (uint8 H×W×3) for training and validation, and what was left out and why."""

    train: list[np.ndarray]
    val: list[np.ndarray]
    train_files: list[Path]
    val_files: list[Path]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def manifest(self, relative_to: Path | None = None) -> dict[str, Any]:
        """Every file used, with its sha256: what a model card records as its data. Files are named
        relative to the folder they share (for the project's data: `bsd200/100075.jpg`, as in its
        MANIFEST.tsv), so the card reads the same wherever the data was mounted; that folder is absolute,
        or relative to `relative_to` for a card that travels (see `config.portable_path`)."""
        files = self.train_files + self.val_files
        folder = Path(os.path.commonpath(files)) if files else Path()
        folder = folder.parent if folder in files else folder

        def rows(paths: list[Path]) -> list[dict[str, str]]:
            return [{"file": p.relative_to(folder).as_posix(), "sha256": sha256_file(p)} for p in paths]

        where = str(folder) if relative_to is None or not files else portable_path(folder, relative_to)
        return {"folder": where, "train": rows(self.train_files), "val": rows(self.val_files)}


def list_images(config: RunConfig, sources: list[str]) -> list[Path]:
    """Expand folders (recursively, sorted) and list files into image paths, in a stable order."""
    found: list[Path] = []
    for text in sources:
        source = config.path(text)
        if source.is_dir():
            found += sorted(
                p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
        elif source.suffix.lower() in LIST_SUFFIXES and source.is_file():
            found += _read_list(source, config.data)
        elif source.is_file():
            found.append(source)
        else:
            raise SRStudioError("no such folder or file", source)
    return list(dict.fromkeys(p.resolve() for p in found))


def _read_list(path: Path, data: DataConfig) -> list[Path]:
    """A .txt list holds one path per line; a .tsv a `file` column (optionally `category`, `subcategory`)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".tsv":
        rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
        if rows and "file" not in rows[0]:
            raise SRStudioError("a .tsv list needs a 'file' column", path)
        if data.categories or data.subcategories:
            rows = [
                row
                for row in rows
                if row.get("category") in data.categories or row.get("subcategory") in data.subcategories
            ]
        names = [row["file"] for row in rows]
        folder = path.with_suffix("")  # noto-emoji-64.tsv lists the files of noto-emoji-64/
        base = folder if folder.is_dir() else path.parent
    else:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        base = path.parent
    return [base / name for name in names]


def load_dataset(config: RunConfig, *, min_side: int, needs_val: bool = True) -> Dataset:
    """Decode training and validation images; unusable files are skipped with their reason."""
    data = config.data
    train_files = list_images(config, data.train)
    excluded = set(list_images(config, data.exclude)) if data.exclude else set()
    val_files = list_images(config, data.val) if data.val else []
    excluded |= set(val_files)
    train_files = [p for p in train_files if p not in excluded]

    skipped: list[tuple[Path, str]] = []
    train_images, train_kept = _decode_all(config, train_files, min_side, skipped)
    if not train_images:
        reason = f"; {len(skipped)} skipped, first: {skipped[0][0].name}: {skipped[0][1]}" if skipped else ""
        raise SRStudioError(f"no usable training images in {', '.join(data.train)}{reason}")
    if val_files:
        val_images, val_kept = _decode_all(config, val_files, min_side, skipped)
    else:
        val_images, val_kept = _split_off(config, train_images, train_kept)
    warnings = []
    if len(train_images) < FEW_IMAGES:
        warnings.append(f"only {len(train_images)} training images — expect overfitting")
    if needs_val and not val_images:
        warnings.append("no validation images: the best checkpoint cannot be chosen by quality")
    return Dataset(train_images, val_images, train_kept, val_kept, skipped, warnings)


def _split_off(
    config: RunConfig, images: list[np.ndarray], files: list[Path]
) -> tuple[list[np.ndarray], list[Path]]:
    """Move a seeded `val_share` of the training images to validation (`protocol.validation_count`)."""
    count = validation_count(len(images), config.data.val_share)
    if count == 0:
        return [], []
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(config.seed)).tolist()
    chosen = sorted(order[:count])
    val = [images[i] for i in chosen]
    val_files = [files[i] for i in chosen]
    for index in reversed(chosen):
        del images[index], files[index]
    return val, val_files


def _decode_all(
    config: RunConfig, files: list[Path], min_side: int, skipped: list[tuple[Path, str]]
) -> tuple[list[np.ndarray], list[Path]]:
    images, kept = [], []
    for path in files:
        try:
            image = decode_rgb(path, _prescale_for(config, path), config.data.background)
        except SRStudioError as error:
            skipped.append((path, error.problem))
            continue
        except Exception as error:  # one odd file never stops training: it is skipped, and says why
            skipped.append((path, f"cannot use it: {error.__class__.__name__}: {first_line(error, 120)}"))
            continue
        if min(image.shape[:2]) < min_side:
            skipped.append((path, f"{image.shape[1]}×{image.shape[0]} is smaller than {min_side} pixels"))
            continue
        images.append(image)
        kept.append(path)
    return images, kept


def _prescale_for(config: RunConfig, path: Path) -> int:
    return next((f for name, f in config.data.prescale.items() if name in path.parts), 1)


def decode_rgb(path: Path, prescale: int = 1, background: str = "white") -> np.ndarray:
    """8-bit RGB pixels of an image file; alpha composited onto `background`; optionally downscaled."""
    picture = load_image(path, max_pixels=DEFAULT_MAX_PIXELS)
    pixels = picture.pixels
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if picture.is_grey:
        pixels = np.concatenate([np.repeat(pixels[..., :1], 3, axis=2), pixels[..., 1:]], axis=2)
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:].astype(np.float32) / 255
        fill = 255.0 if background == "white" else 0.0
        pixels = (pixels[..., :3] * alpha + fill * (1 - alpha) + 0.5).astype(np.uint8)
    if prescale > 1:
        image = Image.fromarray(np.ascontiguousarray(pixels))
        size = (image.width // prescale, image.height // prescale)
        pixels = np.array(image.resize(size, Image.Resampling.BICUBIC, reducing_gap=None))
    return np.ascontiguousarray(pixels)


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 H×W×3 → float 1×3×H×W in [0, 1]."""
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div(255)[None]


class PatchSampler:
    """HR patches drawn in proportion to image area, flipped and rotated, with LR made on the fly."""

    def __init__(self, images: list[np.ndarray], patch: int, scale: int, degrade: bool = False) -> None:
        self.images = images
        self.patch = patch - patch % scale
        self.scale = scale
        self.degrade = degrade
        self.weights = torch.tensor([float(i.shape[0] * i.shape[1]) for i in images], dtype=torch.float64)

    def batch(self, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, HR) float tensors N×3×h×w in [0, 1]."""
        picks = torch.multinomial(self.weights, size, replacement=True, generator=generator).tolist()
        patches = []
        for index in picks:
            image = self.images[index]
            top = int(torch.randint(image.shape[0] - self.patch + 1, (1,), generator=generator))
            left = int(torch.randint(image.shape[1] - self.patch + 1, (1,), generator=generator))
            crop = torch.from_numpy(image[top : top + self.patch, left : left + self.patch].copy())
            patches.append(_augment(crop.permute(2, 0, 1), generator))
        hr = torch.stack(patches).float().div(255)
        if self.degrade:
            return degrade(hr, self.scale, generator), hr
        return downscale(hr, self.scale), hr


def _augment(patch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One of the 8 flips/rotations of a square C×H×W patch."""
    choice = int(torch.randint(8, (1,), generator=generator))
    if choice & 4:
        patch = patch.flip(-1)
    return torch.rot90(patch, choice & 3, dims=(-2, -1))


def degrade(hr: torch.Tensor, scale: int, generator: torch.Generator) -> torch.Tensor:
    """Real-ESRGAN's first-order recipe, lightly: Gaussian blur, downscale, Gaussian noise, JPEG."""
    import torch.nn.functional as F

    blurred = []
    for image in hr:
        sigma = 0.2 + 2.8 * float(torch.rand(1, generator=generator))
        radius = 10
        x = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-(x**2) / (2 * sigma**2))
        kernel = kernel / kernel.sum()
        image = F.pad(image[None], (radius,) * 4, mode="reflect")
        image = F.conv2d(image, kernel.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3)
        blurred.append(F.conv2d(image, kernel.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)[0])
    lr = downscale(torch.stack(blurred), scale)
    noise_level = 25 / 255 * torch.rand(lr.shape[0], 1, 1, 1, generator=generator)
    lr = (lr + noise_level * torch.randn(lr.shape, generator=generator)).clamp(0, 1)
    out = []
    for image in lr:
        quality = int(torch.randint(30, 96, (1,), generator=generator))
        buffer = io.BytesIO()
        pixels = (image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
        out.append(to_tensor(np.array(Image.open(buffer).convert("RGB")))[0])
    return torch.stack(out)


def square_images(images: list[np.ndarray], side: int) -> torch.Tensor:
    """GAN training set: every image centre-cropped square, resized to side², as N×3×S×S in [-1, 1]."""
    out = []
    for pixels in images:
        height, width = pixels.shape[:2]
        crop = min(height, width)
        top, left = (height - crop) // 2, (width - crop) // 2
        image = Image.fromarray(pixels[top : top + crop, left : left + crop])
        if crop != side:
            image = image.resize((side, side), Image.Resampling.BICUBIC)
        out.append(to_tensor(np.array(image))[0])
    return torch.stack(out) * 2 - 1


@dataclass
class ScanSummary:
    """A quick look at a folder before training: usable images (from their headers) and skipped files."""

    usable: list[tuple[Path, int, int]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def megapixels(self) -> float:
        return sum(width * height for _, width, height in self.usable) / 1e6


def _header_size(path: Path) -> tuple[int, int]:
    with catch_warnings():
        simplefilter("ignore")  # a header's warnings are the decode's to report, at training
        with Image.open(path) as image:
            return image.size


def scan(config: RunConfig, *, min_side: int) -> ScanSummary:
    """Read only image headers (fast enough for a wizard page); decoding problems surface at training."""
    summary = ScanSummary()
    try:
        files = list_images(config, config.data.train)
    except SRStudioError as error:
        summary.warnings.append(str(error))
        return summary
    for path in files:
        try:
            width, height = _header_size(path)
        except Exception as error:  # whatever a header makes Pillow raise is that file's skip reason
            summary.skipped.append((path, f"not a readable image ({first_line(error, 80)})"))
            continue
        factor = _prescale_for(config, path)
        width, height = width // factor, height // factor
        if width * height > DEFAULT_MAX_PIXELS:
            summary.skipped.append(
                (path, f"{width}×{height} is larger than {DEFAULT_MAX_PIXELS // 10**6} MP")
            )
        elif min(width, height) < min_side:
            summary.skipped.append((path, f"{width}×{height} is smaller than {min_side} pixels"))
        else:
            summary.usable.append((path, width, height))
    count = len(summary.usable)
    if count == 0:
        summary.warnings.append("no usable images: training cannot start")
    elif count < FEW_IMAGES:
        summary.warnings.append(f"only {count} images — expect overfitting")
    return summary
