"""Shared fixtures: a temporary model library holding tiny real models, small test pictures, main windows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sr_studio.core.library import ModelLibrary
from tests.pictures import textured

TINY_UPSCALER = {"scale": 2, "blocks": 2, "channels": 8, "norm": "batch"}
SMOOTH_UPSCALER = {"scale": 2, "blocks": 1, "channels": 8}
TINY_SAMPLER = {"latent_dim": 16, "image_size": 32, "width": 8}


def _devices() -> list[str]:
    import torch

    return ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.fixture(params=_devices())
def device(request: pytest.FixtureRequest) -> str:
    """Each device this machine has: the CPU always, CUDA too where a GPU is present."""
    return request.param


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's own user data folder (models, logs, the OpenVINO model cache) and XDG data and config
    folders (desktop entries, Qt's settings), so that no test writes to the real home or sees its files."""
    folder = tmp_path / "user-data"
    monkeypatch.setenv("SR_STUDIO_DATA_DIR", str(folder))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.delenv("SR_STUDIO_NO_MODEL_CACHE", raising=False)
    return folder


@pytest.fixture
def data_dir(private_home: Path) -> Path:
    """The private per-user data folder, for tests that look inside it."""
    return private_home


@pytest.fixture
def library(data_dir: Path, tmp_path: Path) -> ModelLibrary:
    """A library with tiny ×2 upscalers ("tiny-x2" random, "smooth-x2" bilinear) and a DCGAN ("tiny-gan")."""
    import torch

    from sr_studio.models.dcgan import DCGANGenerator
    from sr_studio.models.msrresnet import MSRResNet
    from sr_studio.models.srresnet import SRResNet

    builtin = tmp_path / "builtin"
    builtin.mkdir()
    lib = ModelLibrary(builtin_dir=builtin, user_dir=data_dir / "models")
    torch.manual_seed(0)
    upscaler = SRResNet(**TINY_UPSCALER)
    lib.add(
        upscaler,
        name="tiny-x2",
        task="upscale",
        architecture="srresnet",
        arguments=TINY_UPSCALER,
        scale=2,
        description="a tiny random ×2 test model",
    )
    smooth = MSRResNet(**SMOOTH_UPSCALER)
    torch.nn.init.zeros_(
        smooth.conv_last.weight
    )  # leaves the bilinear skip: a faithful, predictable upscaler
    torch.nn.init.zeros_(smooth.conv_last.bias)
    lib.add(
        smooth,
        name="smooth-x2",
        task="upscale",
        architecture="msrresnet",
        arguments=SMOOTH_UPSCALER,
        scale=2,
        description="bilinear ×2 in MSRResNet's clothing",
    )
    sampler = DCGANGenerator(**TINY_SAMPLER).eval()
    lib.add(
        sampler,
        name="tiny-gan",
        task="sample",
        architecture="dcgan_generator",
        arguments=TINY_SAMPLER,
        value_range=(-1.0, 1.0),
        description="a tiny random test sampler",
    )
    return lib


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A small RGB PNG with an odd, non-square size."""
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(textured(21, 34)).save(path)
    return path


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, library, settings_file):
    """A window over the test library and a private settings file; synchronous jobs unless told.

    Qt is imported here, not at the top, so that tests of the Qt-free core do not load it."""
    from sr_studio.ui.app.main_window import MainWindow
    from sr_studio.ui.app.settings import Settings
    from sr_studio.ui.jobs import workers

    synchronous = workers.SynchronousPool()

    def make(paths=(), *, pool=synchronous, settings=None) -> MainWindow:
        window = MainWindow(
            paths, library=library, settings=settings or Settings.from_file(settings_file), pool=pool
        )
        qtbot.addWidget(window)
        return window

    return make
