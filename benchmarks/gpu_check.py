"""The engine's CUDA path checked on a real image with a briefly trained network.

Random weights respond weakly and locally, so they would hide both seams and precision loss. This
script first trains SRResNet ×4 for a fixed time on crops of real photos (L1, bf16 autocast), then on
a held-out real image measures:
  - tiled fp32 against whole-image fp32 on the GPU (max abs difference, in [0, 1] units);
  - fp16 (the CUDA default) against fp32, and bf16 against fp32;
  - the GPU's fp32 against the CPU's fp32.

    python benchmarks/gpu_check.py --train-dir DIR --image FILE [--seconds 90]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sr_studio.core import engine
from sr_studio.core.images import Picture, load_image
from sr_studio.core.jobs import run_job
from sr_studio.core.library import ModelLibrary
from sr_studio.core.metrics import downscale
from sr_studio.core.upscale import upscale
from sr_studio.models.srresnet import SRResNet

ARGUMENTS = {"scale": 4, "blocks": 16, "channels": 64, "norm": "batch"}


def train(images: list[torch.Tensor], seconds: float, device: torch.device) -> tuple[SRResNet, int]:
    """L1 training on random 128² HR crops for a fixed wall time; returns the network and its step count."""
    torch.manual_seed(0)
    random.seed(0)
    net = SRResNet(**ARGUMENTS).to(device).to(memory_format=torch.channels_last).train()
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-4)
    patch, steps, start = 128, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        crops = []
        for _ in range(16):
            image = random.choice(images)
            y = random.randrange(image.shape[-2] - patch)
            x = random.randrange(image.shape[-1] - patch)
            crops.append(image[:, y : y + patch, x : x + patch])
        hr = torch.stack(crops).to(device)
        lr = downscale(hr, 4).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.l1_loss(net(lr).float(), hr)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        steps += 1
    return net.eval(), steps


def as_tensor(picture: Picture) -> torch.Tensor:
    return torch.from_numpy(picture.pixels[..., :3].astype(np.float32) / 255).permute(2, 0, 1)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def run_engine(model, lr: np.ndarray, device: torch.device, precision: str, tile: int | None) -> np.ndarray:
    network = engine.prepare_network(model.network, device, precision)
    out = np.zeros((lr.shape[0] * 4, lr.shape[1] * 4, 3), dtype=np.float32)
    job = engine.run_tiled(
        network, lr, out, scale=4, pad=model.receptive_radius, device=device, precision=precision, tile=tile
    )
    run_job(job)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train-dir", type=Path, required=True)
    parser.add_argument("--image", type=Path, required=True, help="held-out real image for the checks")
    parser.add_argument("--seconds", type=float, default=90)
    args = parser.parse_args()
    device = engine.resolve_device("auto")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}), torch {torch.__version__}")

    images = [as_tensor(load_image(p)) for p in sorted(args.train_dir.glob("*.png"))]
    network, steps = train(images, args.seconds, device)
    print(
        f"trained SRResNet x4 for {args.seconds:.0f} s: {steps} steps of batch 16, 128² crops, bf16 autocast "
        f"({steps / args.seconds:.1f} steps/s)"
    )

    with tempfile.TemporaryDirectory() as folder:
        library = ModelLibrary(builtin_dir=Path(folder) / "b", user_dir=Path(folder) / "u")
        library.add(
            network.cpu(), name="gpu-check-x4", task="upscale", architecture="srresnet", arguments=ARGUMENTS
        )
        model = library.load("gpu-check-x4")

        hr_picture = load_image(args.image)
        hr = as_tensor(hr_picture)[None]
        hr = hr[..., : hr.shape[-2] // 4 * 4, : hr.shape[-1] // 4 * 4]
        lr = downscale(hr, 4)[0].permute(1, 2, 0).numpy().copy()
        target = hr[0].permute(1, 2, 0).numpy()
        bicubic = (
            F.interpolate(
                torch.from_numpy(lr).permute(2, 0, 1)[None],
                scale_factor=4,
                mode="bicubic",
                align_corners=False,
            )
            .clamp(0, 1)[0]
            .permute(1, 2, 0)
            .numpy()
        )
        size = f"LR {lr.shape[1]}×{lr.shape[0]} → {target.shape[1]}×{target.shape[0]}"
        print(f"check image {args.image.name}: {size}")

        whole = run_engine(model, lr, device, "fp32", None)
        rows = [
            ("PSNR bicubic vs HR (dB)", psnr(bicubic, target)),
            ("PSNR model fp32 vs HR (dB)", psnr(whole, target)),
        ]
        for tile in (64, 100):
            tiled = run_engine(model, lr, device, "fp32", tile)
            rows.append((f"max |tiled({tile}) - whole|, fp32", float(np.abs(tiled - whole).max())))
        for precision in ("fp16", "bf16"):
            other = run_engine(model, lr, device, precision, None)
            difference = np.abs(other - whole)
            rows.append((f"max |{precision} - fp32|", float(difference.max())))
            rows.append(
                (f"share of values off by > 1/255, {precision}", float((difference > 1 / 255).mean()))
            )
            rows.append((f"PSNR {precision} vs fp32 (dB)", psnr(other, whole)))
        cpu = run_engine(model, lr, torch.device("cpu"), "fp32", 128)
        rows.append(("max |GPU fp32 - CPU fp32|", float(np.abs(cpu - whole).max())))
        auto = upscale(Picture(pixels=(lr * 255 + 0.5).astype(np.uint8)), model)
        rows.append(
            (f"auto policy on {auto.device}: precision {auto.precision}, tile {auto.tile}", auto.seconds)
        )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value:.6g}")


if __name__ == "__main__":
    main()
