"""How close a sampler's images are to its training data, next to the two yardsticks that give it meaning.

    python benchmarks/gan_quality.py                                  # dcgan-emoji-64 on its recipe's data
    python benchmarks/gan_quality.py --model NAME --recipe training/NAME.toml --grid training/reports/g.png
    python benchmarks/gan_quality.py --model dcgan-emoji-64 --model training/runs/new/dcgan-emoji-64.json

`--model` takes a library name or a card file (a run's exported model), and may be repeated to put a
candidate beside the shipped model in one run, on the same halves and latents.

The real images are the recipe's whole data set (training and held-out images alike: a sampler is judged on
the distribution it learned), decoded as training decodes them, shuffled with a fixed seed and cut into two
halves A and B. Every row is measured against B with as many images as B on the other side:

- real A: what a perfect sampler would score (the floor, set by sampling noise);
- the model: `len(B)` samples from fixed-seed latents;
- untrained: the same architecture freshly initialised (the ceiling a training run starts from).

Two distances, the Fréchet distance (biased: it grows as samples shrink) and the kernel distance (KID,
unbiased: about 0 for real A), in two feature spaces (`sr_studio.train.features`; no Inception weights
offline, so the numbers rank samplers within this project only): a fixed, seeded random conv network's,
and one trained on real images, the ST-LPIPS VGG16 trunk's (needs the `perceptual` extra; left out, with a
line saying so, where it is not installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from machine import busy_processes

from sr_studio.core.images import save_image
from sr_studio.core.library import LoadedModel, ModelLibrary
from sr_studio.core.sample import grid, latents, sample
from sr_studio.core.system import cpu_name
from sr_studio.models import build
from sr_studio.train.config import load_config
from sr_studio.train.data import load_dataset, square_images
from sr_studio.train.features import SPACES, distances
from sr_studio.train.sampler import reference_halves

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SEED = 1
GRID_SEED = 0


def real_halves(recipe: Path, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The recipe's images in [-1, 1], cut into halves exactly as the training run's evaluations cut them."""
    config = load_config(recipe)
    dataset = load_dataset(config, min_side=1, needs_val=False)
    return reference_halves(torch.cat([square_images(dataset.train, side), square_images(dataset.val, side)]))


def generate(model_network: torch.nn.Module, count: int, latent_dim: int) -> torch.Tensor:
    with torch.inference_mode():
        z = latents(SAMPLE_SEED, count, latent_dim)
        return torch.cat([model_network(chunk).float() for chunk in z.split(256)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", action="append", help="sampler: library name or card .json (repeatable; dcgan-emoji-64)"
    )
    parser.add_argument(  # the data the shipped dcgan-emoji-64 was trained on
        "--recipe", type=Path, default=REPO / "training" / "dcgan-emoji-64-faces.toml"
    )
    parser.add_argument("--grid", type=Path, help="also save the fixed-seed 8×8 grid (seed 0) here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    started = time.perf_counter()
    models = {name: load_sampler(name, parser) for name in args.model or ["dcgan-emoji-64"]}
    model = next(iter(models.values()))
    latent_dim = int(model.card.arguments["latent_dim"])
    first, second = real_halves(args.recipe, int(model.card.arguments["image_size"]))
    torch.manual_seed(load_config(args.recipe).seed)  # the training run's own untrained yardstick
    untrained = build(model.card.architecture, **model.card.arguments).eval()
    rows = {
        "real half A (floor)": first,
        **{name: generate(each.network, len(second), latent_dim) for name, each in models.items()},
        "untrained generator (ceiling)": generate(untrained, len(second), latent_dim),
    }

    print(f"$ python {shlex.join(['benchmarks/gan_quality.py', *(argv or sys.argv[1:])])}")
    machine = f"{cpu_name()} ({platform.machine()})"
    print(f"machine: {machine}, torch {torch.__version__}, {args.threads} thread(s)")
    busy = busy_processes()
    print(f"also running: {', '.join(busy) if busy else 'nothing else busy'}")
    print(f"reference: real half B of {args.recipe.name}'s data, {len(second)} images; each row as many")
    spaces = [space for space in SPACES if space == "random" or importlib.util.find_spec("stlpips_pytorch")]
    if len(spaces) < len(SPACES):
        print(
            "the ST-LPIPS VGG feature space is left out: its weights are not installed (the perceptual extra)"
        )
    names = {"random": "random features", "stlpips-vgg": "ST-LPIPS VGG features"}
    print(
        "\n| images vs real half B | "
        + " | ".join(f"Fréchet, {names[space]} | KID ×1000, {names[space]}" for space in spaces)
        + " |"
    )
    print("|---|" + "---:|---:|" * len(spaces))
    for name, images in rows.items():
        cells = []
        for space in spaces:
            numbers = distances(images, second, space)
            cells += [f"{numbers['frechet']:.3f}", f"{numbers['kernel'] * 1000:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s")

    for index, (name, each) in enumerate(models.items()):
        if args.grid:
            path = args.grid if index == 0 else args.grid.with_stem(f"{args.grid.stem}-{index + 1}")
            save_image(grid(sample(each, 64, GRID_SEED, device="cpu"), columns=8), path, overwrite=True)
            print(f"grid of {name}: {path}")
    return 0


def load_sampler(name: str, parser: argparse.ArgumentParser) -> LoadedModel:
    """A library model by name, or the model a card file describes (a run's export, not installed)."""
    card = Path(name)
    library = ModelLibrary(builtin_dir=card.parent, user_dir=card.parent) if card.suffix == ".json" else None
    model = (library or ModelLibrary()).load(card.stem if library else name)
    low, high = model.card.value_range
    if (low, high) != (-1.0, 1.0):
        parser.error(f"{name}: expected a generator with outputs in [-1, 1], not [{low}, {high}]")
    return model


if __name__ == "__main__":
    sys.exit(main())
