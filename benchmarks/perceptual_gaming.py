"""Can a fixed pattern painted over an upscale lower the ST-LPIPS-VGG distance? Plain and low-passed.

    python benchmarks/perceptual_gaming.py --images 32

For each validation image (decoded and downscaled as in sr_quality.py) the 48-px LR window with the most
texture (crop_sheet.py's rule) is upscaled ×4 by bicubic; each pattern is added at each amplitude, and the
distance to the original is measured by ST-LPIPS-VGG, plainly and through `LowPassed` (the loss option
`train.perceptual_low_pass`). A pattern that lowers the distance on many images is one an SRGAN trained with
that loss learns to paint. Prints, per pattern and amplitude, the share of images where the painted
upscale scores at least 1 % better than the clean one, and the median ratio of the two distances.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from crop_sheet import texture_window
from sr_quality import DEFAULT_VAL, hr_and_lr, val_files

from sr_studio.core.metrics import bicubic_upscale
from sr_studio.train.data import to_tensor
from sr_studio.train.losses import LowPassed
from sr_studio.train.stlpips import STLPIPS

SCALE, CROP = 4, 48
LOWERED = 0.99  # painted / clean distance ratio below which the pattern pays (clipping moves it by ~1e-3)


def patterns(side: int) -> dict[str, torch.Tensor]:
    """Zero-mean ±1 patterns locked to the pixel grid: what the SRGAN trials painted (their report)."""
    rows, columns = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return {
        "1-px stripes": ((rows % 2) * 2 - 1).float(),
        "1-px checkerboard": (((rows + columns) % 2) * 2 - 1).float(),
        "4-px diagonal": torch.cos((rows + columns).float() * torch.pi / 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=32, help="the first N validation images")
    parser.add_argument("--amplitudes", type=float, nargs="+", default=[0.02, 0.05])
    parser.add_argument("--val", default=DEFAULT_VAL)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    plain = STLPIPS("vgg").eval()
    metrics = {"plain": plain, "low-passed": LowPassed(plain).eval()}
    side = CROP * SCALE
    painted: dict[tuple[str, float, str], list[float]] = {}
    with torch.inference_mode():
        for path in val_files(args.val, args.images):
            hr, lr = hr_and_lr(path, SCALE)
            top, left = texture_window(hr, SCALE, CROP)
            target = to_tensor(hr[top * SCALE : top * SCALE + side, left * SCALE : left * SCALE + side])
            window = to_tensor(lr[top : top + CROP, left : left + CROP])
            upscale = bicubic_upscale(window, SCALE)
            for metric_name, metric in metrics.items():
                clean = float(metric(upscale, target))
                for name, pattern in patterns(side).items():
                    for amplitude in args.amplitudes:
                        score = float(metric((upscale + amplitude * pattern).clamp(0, 1), target))
                        painted.setdefault((name, amplitude, metric_name), []).append(score / clean)
            print(f"{path.name}: window at ({left}, {top})", file=sys.stderr)
    print(f"| pattern | amplitude | {' | '.join(f'{m}: lowered ≥1 % / median ratio' for m in metrics)} |")
    print(f"|---|---:|{'---:|' * len(metrics)}")
    for name in patterns(side):
        for amplitude in args.amplitudes:
            cells = []
            for metric_name in metrics:
                ratios = np.array(painted[(name, amplitude, metric_name)])
                cells.append(f"{int((ratios < LOWERED).sum())}/{len(ratios)} / {np.median(ratios):.3f}")
            print(f"| {name} | {amplitude:g} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
