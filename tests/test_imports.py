"""Importing RRDBNet (both key layouts, Real-ESRGAN ×2/×1), SRVGGNetCompact and EDSR files through the
library and the CLI, and running them tiled through the one upscale path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from sr_studio.cli import main
from sr_studio.core.images import Picture
from sr_studio.core.importing import IMPORTED_LICENCE
from sr_studio.core.library import ModelLibrary
from sr_studio.core.upscale import upscale
from sr_studio.models import build
from tests.test_architectures import TINY, lively, tiny


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(builtin_dir=tmp_path / "builtin", user_dir=tmp_path / "user")


def esrgan_layout(state: dict[str, torch.Tensor], blocks: int) -> dict[str, torch.Tensor]:
    """BasicSR's RRDBNet keys written the original ESRGAN repository's way (model.N, sub, RDBk, .0.)."""
    upconvs = sum(1 for key in state if key.startswith("conv_up") and key.endswith(".weight"))
    layers = {"conv_first": "model.0", "conv_body": f"model.1.sub.{blocks}"}
    layers |= {f"conv_up{k}": f"model.{3 * k}" for k in range(1, upconvs + 1)}
    layers |= {"conv_hr": f"model.{3 * upconvs + 2}", "conv_last": f"model.{3 * upconvs + 4}"}
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            key = f"model.1.sub.{parts[1]}.RDB{parts[2][-1]}.{parts[3]}.0.{parts[4]}"
        else:
            key = f"{layers[parts[0]]}.{parts[1]}"
        renamed[key] = value
    return renamed


def trunk_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """BasicSR's RRDBNet keys in the ESRGAN repository's later layout (RRDB_trunk, trunk_conv, HRconv)."""
    names = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            key = f"RRDB_trunk.{parts[1]}.RDB{parts[2][-1]}.{parts[3]}.{parts[4]}"
        else:
            key = f"{names.get(parts[0], parts[0])}.{parts[1]}"
        renamed[key] = value
    return renamed


def run(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return network.eval()(x)


LAYOUTS = {
    "rrdb-x4-basicsr-params-ema": ("rrdb-x4", lambda sd: {"params_ema": sd, "params": {}}),
    "rrdb-x4-esrgan": ("rrdb-x4", lambda sd: esrgan_layout(sd, 2)),
    "rrdb-x4-esrgan-trunk": ("rrdb-x4", trunk_layout),
    "rrdb-x8-esrgan": ("rrdb-x8", lambda sd: esrgan_layout(sd, 1)),
    "rrdb-x8-basicsr": ("rrdb-x8", lambda sd: sd),
    "realesrgan-x2-params": ("rrdb-x2", lambda sd: {"params": sd}),
    "realesrgan-x1": ("rrdb-x1", lambda sd: sd),
    "srvgg-x4-params": ("srvgg-x4", lambda sd: {"params": sd}),
    "srvgg-x2": ("srvgg-x2", lambda sd: sd),
    "edsr-x2": ("edsr-x2", lambda sd: sd),
    "edsr-x3-params": ("edsr-x3", lambda sd: {"params": sd}),
    "edsr-x4": ("edsr-x4", lambda sd: sd),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_import_round_trip(library: ModelLibrary, tmp_path: Path, layout: str) -> None:
    key, wrap = LAYOUTS[layout]
    architecture, arguments = TINY[key]
    network = tiny(key, seed=3)
    path = tmp_path / f"{layout}.pth"
    torch.save(wrap(network.state_dict()), path)

    entry = library.import_file(path)

    card = entry.card
    assert (card.architecture, card.arguments, card.scale) == (architecture, arguments, arguments["scale"])
    assert card.licence == IMPORTED_LICENCE and path.name in card.description
    x = torch.rand(1, 3, 9, 10)
    assert torch.allclose(library.load(entry.name).network(x), run(network, x), atol=1e-5)


def test_a_wide_edsr_is_imported_with_res_scale_0_1_and_says_so(library: ModelLibrary, tmp_path: Path):
    from sr_studio.models.edsr import EDSR

    torch.manual_seed(0)
    network = EDSR(scale=2, num_feat=256, num_block=1, res_scale=0.1).eval()
    path = tmp_path / "edsr_L.safetensors"
    save_file(network.state_dict(), path)

    card = library.import_file(path).card

    assert card.arguments == {"scale": 2, "num_feat": 256, "num_block": 1, "res_scale": 0.1}
    assert "res_scale is not stored in the weights" in card.description
    x = torch.rand(1, 3, 6, 5)
    assert torch.allclose(library.load(card.name).network(x), run(network, x), atol=1e-5)


# Shallow enough that a 72×66 picture has tiles whose context lies wholly inside it (radius ≤ 20).
SHALLOW = {
    **{key: TINY[key] for key in ("srvgg-x4", "srvgg-x2", "edsr-x2", "edsr-x3", "edsr-x4")},
    **{
        f"rrdb-x{scale}": ("rrdbnet", {"scale": scale, "num_feat": 4, "num_block": blocks, "num_grow_ch": 4})
        for scale, blocks in ((4, 1), (8, 1), (2, 0), (1, 0))
    },
}


@pytest.mark.parametrize("key", sorted(SHALLOW))
def test_tiled_equals_whole_image(library: ModelLibrary, key: str) -> None:
    """Odd sizes and a tile grid that pixel-unshuffling (×2, ×1) must keep aligned to stay exact."""
    architecture, arguments = SHALLOW[key]
    torch.manual_seed(5)
    network = lively(build(architecture, **arguments), seed=5)
    library.add(network, name=key, task="upscale", architecture=architecture, arguments=arguments)
    model = library.load(key)
    assert 16 + 2 * model.receptive_radius < 66
    pixels = np.random.default_rng(0).integers(0, 256, (72, 66, 3), dtype=np.uint8)
    picture = Picture(pixels=pixels)

    whole = upscale(picture, model, device="cpu", precision="fp32", tile=None).picture.pixels
    tiled = upscale(picture, model, device="cpu", precision="fp32", tile=18).picture.pixels

    scale = arguments["scale"]
    assert whole.shape == (72 * scale, 66 * scale, 3)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def test_cli_imports_several_files_and_folders_one_line_each(data_dir, tmp_path, capsys) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    torch.save(tiny("srvgg-x2").state_dict(), folder / "compact.pth")
    save_file(tiny("edsr-x2").state_dict(), folder / "edsr.safetensors")
    (folder / "notes.txt").write_text("not weights")
    single = tmp_path / "esrgan.pth"
    torch.save(esrgan_layout(tiny("rrdb-x4").state_dict(), 2), single)
    broken = tmp_path / "broken.pth"
    torch.save({"foo.weight": torch.zeros(2)}, broken)

    code = main(["models", "import", str(folder), str(single), str(broken)])

    out, err = capsys.readouterr()
    assert code == 1
    assert [line.split(":")[0] for line in out.splitlines()] == [
        "imported compact",
        "imported edsr",
        "imported esrgan",
    ]
    assert len(err.splitlines()) == 1 and "broken.pth" in err and "not a known model layout" in err
    assert main(["models", "import", str(folder), "--name", "one"]) == 2
    assert "--name needs exactly one file" in capsys.readouterr().err
