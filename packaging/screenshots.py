"""Screenshots of the real app for the README: docs/screenshots/main-split.png, batch.png and gan.png.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshots.py [--out docs/screenshots]
    xvfb-run .venv/bin/python packaging/screenshots.py          # the same under a virtual X server

The app runs as a user would see it (MainWindow, real worker threads), but over a temporary settings file
and a temporary model library, so nothing of the user's is read or changed. While no trained weights ship,
the library gets two stand-ins, labelled "demo" in the app: "demo-x4", an MSRResNet ×4 that starts as plain
bilinear (its last convolution zeroed) and is trained for --steps steps on photos here, so its output is a
real upscale and never noise; and "demo-gan", a small DCGAN generator fitted by plain regression to the
Noto smiley emoji (a random one draws flat grey squares, which would show nothing of the tab). Built-in
models in resources/models are used instead whenever there are any.

The picture is a crop of a photo from the project's training data (../shared/data/sr/photos-wikimedia),
or a generated picture when that folder is absent. Everything is driven through the window's signals;
each wait ends on a signal or a condition, with a timeout only as a guard.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QIODevice, QPointF
from PySide6.QtWidgets import QApplication, QWidget

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))  # the script helpers
from driving import wait_for, wait_until

from sr_studio.core.library import ModelLibrary
from sr_studio.core.paths import builtin_models_dir
from sr_studio.ui.app.main_window import MainWindow
from sr_studio.ui.app.settings import Settings

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "sr" / "photos-wikimedia"
VALIDATION = REPO.parent / "shared" / "data" / "sr" / "val.txt"
EMOJI = REPO.parent / "shared" / "data" / "gan" / "noto-emoji-64"
EMOJI_CATEGORY = "Smileys & Emotion"  # 169 round yellow faces: a coherent set a tiny network can learn
PHOTO = "001.png"  # a white tiger: fur and whiskers show what an upscaler does (a validation image)
PHOTO_CROP = (110, 70, 366, 262)  # 256×192 around the face, after halving the photo (antialiased)
MAX_BYTES = 300_000
WINDOW_SIZE = (1100, 700)
DEMO_UPSCALER = {"scale": 4, "blocks": 4, "channels": 24}
DEMO_SAMPLER = {"latent_dim": 32, "image_size": 32, "width": 16}
GAN_STEPS = 300


# -------------------------------------------------------------------------------------------- waiting


def check(condition: bool, message: str) -> None:
    """Stop with `message` when the app did not do what a screenshot needs (kept under python -O)."""
    if not condition:
        raise RuntimeError(message)


def settle() -> None:
    """Let pending layouts and paints run (posted events), so a grab shows the final state."""
    for _ in range(3):
        QApplication.processEvents()
        QApplication.sendPostedEvents()


# -------------------------------------------------------------------------------------------- pictures


def sample_photo() -> tuple[Image.Image, str]:
    """The picture to open: a 256×192 crop of a real photo, or a generated one; with where it came from."""
    source = PHOTOS / PHOTO
    if source.is_file():
        image = Image.open(source).convert("RGB")
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
        return image.crop(PHOTO_CROP), f"{source} (halved, cropped to {PHOTO_CROP})"
    return generated_picture(256, 192), "a generated test picture"


def generated_picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """Soft colour fields with sharp rings and stripes, so an upscale has edges to show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.stack([np.sin(x / (17 + 9 * c) + rng.uniform(0, 6)) * np.cos(y / 23) for c in range(3)], -1)
    rings = (np.sin(np.hypot(x - width * 0.6, y - height * 0.45) / 3.0) > 0.3)[..., None]
    stripes = ((x + y) % 24 < 3)[..., None]
    pixels = 0.5 + 0.35 * field
    pixels = np.where(rings, pixels * 0.4, pixels)
    pixels = np.where(stripes, 0.95, pixels)
    return Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8))


def training_photos(limit: int = 12) -> list[Image.Image]:
    """Photos to train the demo upscaler on: never the validation split (the screenshot's photo is in it)."""
    if not PHOTOS.is_dir():
        return [generated_picture(384, 384, seed) for seed in range(1, 5)]
    held_out = set(VALIDATION.read_text().split()) if VALIDATION.is_file() else set()
    files = [p for p in sorted(PHOTOS.glob("*.png")) if f"photos-wikimedia/{p.name}" not in held_out]
    return [Image.open(path).convert("RGB") for path in files[:limit]]


# ---------------------------------------------------------------------------------------- demo models


def _lr_hr_batch(photos: list[Image.Image], rng: np.random.Generator, count: int, hr: int) -> tuple:
    """`count` random HR crops and their bicubic ×1/4 versions, as N×3×H×W float arrays in [0, 1]."""
    scale = DEMO_UPSCALER["scale"]
    highs, lows = [], []
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        x, y = rng.integers(0, photo.width - hr), rng.integers(0, photo.height - hr)
        crop = photo.crop((x, y, x + hr, y + hr))
        small = crop.resize((hr // scale, hr // scale), Image.Resampling.BICUBIC)
        highs.append(np.asarray(crop, np.float32) / 255)
        lows.append(np.asarray(small, np.float32) / 255)
    return (np.stack(lows).transpose(0, 3, 1, 2), np.stack(highs).transpose(0, 3, 1, 2))


def train_demo_upscaler(steps: int, seed: int = 0) -> tuple[Any, str]:
    """An MSRResNet ×4 that starts as bilinear (zeroed last conv) and learns `steps` steps of L1 on photos.

    Starting from bilinear means the screenshot can never show noise; the steps add some sharpening.
    Returns the network and one line saying how it compares with bilinear on a held-out crop.
    """
    import torch
    from torch.nn import functional as F

    from sr_studio.models.msrresnet import MSRResNet

    torch.manual_seed(seed)
    network = MSRResNet(**DEMO_UPSCALER)
    torch.nn.init.zeros_(network.conv_last.weight)
    torch.nn.init.zeros_(network.conv_last.bias)
    photos = training_photos()
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    started = time.perf_counter()
    for _ in range(steps):
        low, high = (torch.from_numpy(a) for a in _lr_hr_batch(photos, rng, 8, 64))
        loss = F.l1_loss(network(low), high)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    network.eval()

    held_out = sample_photo()[0]  # not trained on: the validation split is left out
    low, high = (torch.from_numpy(a) for a in _lr_hr_batch([held_out], np.random.default_rng(1), 8, 96))
    with torch.no_grad():
        model_out = network(low).clamp(0, 1)
        bilinear = F.interpolate(low, scale_factor=4, mode="bilinear", align_corners=False).clamp(0, 1)
        bicubic = F.interpolate(low, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)

    def psnr(output: torch.Tensor) -> float:
        return float(10 * torch.log10(1 / F.mse_loss(output, high)))

    report = (
        f"demo-x4: {steps} steps in {time.perf_counter() - started:.0f} s; held-out PSNR: bilinear "
        f"{psnr(bilinear):.2f} dB, bicubic {psnr(bicubic):.2f} dB, demo-x4 {psnr(model_out):.2f} dB"
    )
    return network, report


def emoji_pictures(size: int) -> np.ndarray:
    """The smiley emoji on white, N×3×size×size in [−1, 1]; empty when the data folder is absent."""
    table = EMOJI.with_suffix(".tsv")
    if not table.is_file():
        return np.zeros((0, 3, size, size), np.float32)
    rows = [line.split("\t") for line in table.read_text(encoding="utf-8").splitlines()[1:]]
    pictures = []
    for name in (row[0] for row in rows if len(row) > 1 and row[1] == EMOJI_CATEGORY):
        emoji = Image.open(EMOJI / name).convert("RGBA")
        white = Image.new("RGBA", emoji.size, "white")
        white.alpha_composite(emoji)
        small = white.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        pictures.append(np.asarray(small, np.float32) / 127.5 - 1)
    return np.stack(pictures).transpose(0, 3, 1, 2)


def fit_demo_sampler(steps: int, seed: int = 0) -> tuple[Any, str]:
    """A DCGAN generator fitted by L1 regression from fixed random latents to the smiley emoji.

    Not adversarial training (that needs thousands of steps): a quick fit whose random samples are
    blends of faces, enough to show what the tab does. With no emoji at hand it stays random.
    """
    import torch
    from torch.nn import functional as F

    from sr_studio.models.dcgan import DCGANGenerator

    torch.manual_seed(seed)
    network = DCGANGenerator(**DEMO_SAMPLER)
    targets = torch.from_numpy(emoji_pictures(DEMO_SAMPLER["image_size"]))
    if not len(targets):
        return network.eval(), "demo-gan: no emoji found, random weights"
    latents = torch.randn(len(targets), DEMO_SAMPLER["latent_dim"])
    optimiser = torch.optim.Adam(network.parameters(), lr=2e-3)
    started = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(len(targets), (64,))
        loss = F.l1_loss(network(latents[index]), targets[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    seconds = time.perf_counter() - started
    return network.eval(), f"demo-gan: fitted to {len(targets)} emoji, {steps} steps in {seconds:.0f} s"


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Train on one thread: beside another busy process, two threads on two cores run several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def demo_library(folder: Path, steps: int) -> ModelLibrary:
    """The app's built-in models if any ship, plus labelled stand-ins for whatever task has none."""
    library = ModelLibrary(builtin_dir=builtin_models_dir(), user_dir=folder / "models")
    if not library.entries("upscale"):
        with one_torch_thread():
            network, report = train_demo_upscaler(steps)
        print(report)
        library.add(
            network,
            name="demo-x4",
            task="upscale",
            architecture="msrresnet",
            arguments=DEMO_UPSCALER,
            scale=4,
            description=f"demo: bilinear + {steps} training steps",
        )
    if not library.entries("sample"):
        with one_torch_thread():
            network, report = fit_demo_sampler(GAN_STEPS)
        print(report)
        library.add(
            network,
            name="demo-gan",
            task="sample",
            architecture="dcgan_generator",
            arguments=DEMO_SAMPLER,
            value_range=(-1.0, 1.0),
            description="demo: fitted to emoji, not a trained GAN",
        )
    return library


# ------------------------------------------------------------------------------------------- shooting


def save_grab(widget: QWidget, path: Path, max_bytes: int = MAX_BYTES) -> None:
    """Save what `widget` shows as a PNG under `max_bytes`: full colour if it fits, else 256 colours."""
    settle()
    grabbed = QBuffer()
    grabbed.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(grabbed, "PNG")
    image = Image.open(io.BytesIO(bytes(grabbed.data()))).convert("RGB")
    for colours in (None, 256, 128, 64):
        candidate = image if colours is None else image.quantize(colours, Image.Quantize.MEDIANCUT)
        out = io.BytesIO()
        candidate.save(out, "PNG", optimize=True)
        if out.tell() <= max_bytes:
            path.write_bytes(out.getvalue())
            print(
                f"{path}: {image.width}×{image.height}, {out.tell() // 1024} KB, {colours or 'all'} colours"
            )
            return
    raise RuntimeError(f"{path.name} stays over {max_bytes} bytes even with 64 colours")


def zoom_on(window: MainWindow, point: tuple[float, float], zoom: float) -> None:
    """Zoom the split view to `zoom` with output pixel `point` at the centre, divider in the middle."""
    view = window.upscale_tab.view
    view.set_divider(0.5)
    view.set_zoom(zoom)
    centre = view.image_point(QPointF(view.width() / 2, view.height() / 2))
    view.pan_by((centre.x() - point[0]) * zoom, (centre.y() - point[1]) * zoom)


def shoot_main(window: MainWindow, photo: Path, out: Path) -> None:
    ended = wait_for(window.jobEnded, lambda: window.upscale_tab.open_file(photo))
    check(ended == ("finished",), f"opening {photo} ended {ended}")
    ended = wait_for(window.jobEnded, window.upscale_tab.upscale)
    check(ended == ("finished",), f"the upscale ended {ended}: {window.statusBar().currentMessage()}")
    after = window.upscale_tab.view.after
    check(after is not None, "the upscale finished but the view shows no result")
    # The divider through the tiger's eye: the same fur and lashes on both sides.
    zoom_on(window, (after.width() * 0.725, after.height() * 0.47), 2.2)
    save_grab(window, out / "main-split.png")


def shoot_batch(window: MainWindow, folder: Path, out: Path) -> None:
    """A batch over four small pictures and one corrupt file, grabbed once its summary shows."""
    folder.mkdir(parents=True)
    photo = Image.open(PHOTOS / PHOTO).convert("RGB") if (PHOTOS / PHOTO).is_file() else None
    for index in range(4):
        if photo is not None:
            piece = photo.crop((index * 300, 100, index * 300 + 320, 340)).resize((96, 72))
        else:
            piece = generated_picture(96, 72, seed=index)
        piece.save(folder / f"scan-{index + 1:02d}.png")
    (folder / "scan-05.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # a truncated download
    window.open_batch_dialog(inputs=[folder])
    dialog = window.batch_dialog
    check(dialog is not None, "the batch dialog did not open")
    wait_until(dialog.isVisible)
    wait_for(dialog.batchEnded, dialog.start)
    report = dialog.report
    check(report is not None and len(report.failed) == 1, f"the corrupt file should fail alone: {report}")
    save_grab(dialog, out / "batch.png")
    dialog.close()


def shoot_gan(window: MainWindow, out: Path) -> None:
    tab = window.gan_tab
    window.tabs.setCurrentWidget(tab)
    tab.rows_spin.setValue(5)
    tab.columns_spin.setValue(7)
    tab.seed_spin.setValue(7)
    wait_for(tab.samplesReady, tab.generate)  # the job's ending is queued behind it: settle() runs it
    tab.select(8)
    window.statusBar().clearMessage()  # the Upscale tab's last message would only confuse this picture
    save_grab(window, out / "gan.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--steps", type=int, default=150, help="training steps of the demo upscaler")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory(prefix="sr-studio-") as temp:
        folder = Path(temp)
        os.environ["SR_STUDIO_DATA_DIR"] = str(folder / "data")  # logs and any user folder stay in here
        library = demo_library(folder, args.steps)
        image, where = sample_photo()
        photo = folder / "tiger.png"
        image.save(photo)
        print(f"picture: {where}")

        window = MainWindow(library=library, settings=Settings.from_file(folder / "settings.ini"))
        window.resize(*WINDOW_SIZE)
        window.show()
        wait_until(window.isVisible)
        shoot_main(window, photo, args.out)
        shoot_batch(window, folder / "holiday-scans", args.out)
        shoot_gan(window, args.out)
        window.close()
        app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
