"""Side-by-side crops of validation images: bicubic | each model | original, to see texture, not just PSNR.

    python benchmarks/crop_sheet.py --scale 4 --models srresnet-x4 srgan-x4 \\
        --out training/reports/srgan-x4-crops.png

Each row is one validation image (the first `--images` of val.txt, or the `--pick`ed ones, decoded and
downscaled exactly as in benchmarks/sr_quality.py). The crop is chosen by a rule that does not look at any
model: the `--crop`² LR window whose HR pixels have the most gradient energy (texture), on a half-window
grid, unless a pick names its LR corner (`bsds500-test200/108069.jpg@40,30`) to show one kind of texture.
Every model upscales the same LR window with `MARGIN` pixels of context around it (cut away afterwards),
through the app's own upscale path on the CPU. The header names the columns; each panel's label is its
Y-PSNR on the crop, for reference: a sharper texture can score lower.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from sr_quality import DEFAULT_VAL, bicubic, hr_and_lr, library_models, val_files

from sr_studio.core.images import Picture
from sr_studio.core.metrics import psnr_y
from sr_studio.core.upscale import upscale

MARGIN = 16  # LR pixels of context on each side: more than the models' receptive radius
GAP = 4
HEADER = 18
LABEL = 14


def texture_window(hr: np.ndarray, scale: int, crop: int) -> tuple[int, int]:
    """Top-left LR corner of the crop²-pixel LR window with the most HR gradient energy."""
    luma = hr.astype(np.float64).mean(axis=2)
    energy = np.abs(np.diff(luma, axis=0))[:, :-1] + np.abs(np.diff(luma, axis=1))[:-1, :]
    lr_height, lr_width = hr.shape[0] // scale, hr.shape[1] // scale
    best, corner = -1.0, (0, 0)
    for top in range(0, lr_height - crop + 1, crop // 2):
        for left in range(0, lr_width - crop + 1, crop // 2):
            window = energy[top * scale : (top + crop) * scale, left * scale : (left + crop) * scale]
            if window.sum() > best:
                best, corner = float(window.sum()), (top, left)
    return corner


def parse_pick(val_list: Path, pick: str) -> tuple[Path, tuple[int, int] | None]:
    """`NAME` or `NAME@LEFT,TOP` (an LR corner) -> the image's path and the corner as (top, left)."""
    name, _, corner = pick.partition("@")
    path = val_list.parent / name
    if not path.is_file():
        raise SystemExit(f"crop_sheet.py: {path}: no such validation image")
    if not corner:
        return path, None
    try:
        left, top = (int(part) for part in corner.split(","))
    except ValueError:
        raise SystemExit(f"crop_sheet.py: {pick}: the corner must be LEFT,TOP in LR pixels") from None
    return path, (top, left)


def upscale_window(
    method: Callable[[np.ndarray], np.ndarray], lr: np.ndarray, top: int, left: int, crop: int, scale: int
) -> np.ndarray:
    """`method`'s output for the LR window, computed with MARGIN pixels of context where the image has it."""
    y0, x0 = max(0, top - MARGIN), max(0, left - MARGIN)
    y1, x1 = min(lr.shape[0], top + crop + MARGIN), min(lr.shape[1], left + crop + MARGIN)
    out = method(np.ascontiguousarray(lr[y0:y1, x0:x1]))
    dy, dx = (top - y0) * scale, (left - x0) * scale
    return out[dy : dy + crop * scale, dx : dx + crop * scale]


def sheet(columns: list[str], rows: list[list[tuple[np.ndarray, str]]]) -> Image.Image:
    """Panels on a white sheet: a header naming the columns, a label under each panel."""
    side = rows[0][0][0].shape[0]
    width = len(columns) * (side + GAP) + GAP
    height = HEADER + len(rows) * (side + LABEL + GAP) + GAP
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for index, name in enumerate(columns):
        draw.text((GAP + index * (side + GAP), 3), name, fill="black")
    for row_index, row in enumerate(rows):
        y = HEADER + row_index * (side + LABEL + GAP)
        for index, (pixels, label) in enumerate(row):
            x = GAP + index * (side + GAP)
            canvas.paste(Image.fromarray(pixels), (x, y))
            draw.text((x, y + side + 1), label, fill="black")
    return canvas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--models", nargs="+", required=True, help="library upscalers of that scale")
    parser.add_argument("--images", type=int, default=6, help="the first N validation images")
    parser.add_argument("--pick", nargs="+", default=[], help="these images instead: NAME or NAME@LEFT,TOP")
    parser.add_argument("--crop", type=int, default=48, help="LR side of each crop")
    parser.add_argument("--val", type=Path, default=DEFAULT_VAL)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models-dir", type=Path, nargs="+", default=[], help="also look in these folders")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    found = {model.card.name: model for model in library_models(args.scale, args.models, args.models_dir)}
    missing = [name for name in args.models if name not in found]
    if missing:
        parser.error(f"no ×{args.scale} upscaler named {', '.join(missing)}")
    models = [found[name] for name in args.models]

    scale, crop = args.scale, args.crop
    methods: list[Callable[[np.ndarray], np.ndarray]] = [lambda window: bicubic(window, scale)]
    methods += [
        lambda window, m=model: upscale(Picture(pixels=window), m, device="cpu").picture.pixels
        for model in models
    ]
    rows = []
    picks = [parse_pick(args.val, pick) for pick in args.pick]
    for path, corner in picks or [(path, None) for path in val_files(args.val, args.images)]:
        hr, lr = hr_and_lr(path, scale)
        top, left = corner or texture_window(hr, scale, crop)
        original = hr[top * scale : (top + crop) * scale, left * scale : (left + crop) * scale]
        panels = [upscale_window(method, lr, top, left, crop, scale) for method in methods]
        scores = [f"{psnr_y(p / 255, original / 255, scale):.2f} dB" for p in panels]
        name = path.relative_to(args.val.parent).as_posix()
        rows.append([*zip(panels, scores, strict=True), (original, name)])
        print(f"{name}: LR window at ({left}, {top})", file=sys.stderr)
    columns = [f"bicubic x{args.scale}", *args.models, "original"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet(columns, rows).save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
