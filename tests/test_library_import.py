"""Importing checkpoints into the model library: its own and wrapped layouts, and the files it refuses."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from sr_studio.core.errors import ModelError
from sr_studio.core.library import ModelLibrary
from sr_studio.models.dcgan import DCGANGenerator
from sr_studio.models.msrresnet import MSRResNet
from tests.error_helpers import assert_one_line_naming
from tests.library_helpers import ARGS, run, tiny_srresnet

UPSAMPLE = {"upsample.0.0.weight": torch.zeros(16, 4, 3, 3)}


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(builtin_dir=tmp_path / "builtin", user_dir=tmp_path / "user")


# ---- import ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments", [{}, {"scale": 3, "norm": "none"}, {"scale": 4, "blocks": 2, "channels": 8}], ids=str
)
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_import_own_layout(library: ModelLibrary, tmp_path: Path, arguments: dict, suffix: str) -> None:
    net = tiny_srresnet(**arguments)
    path = tmp_path / f"My Net_X{net.scale}{suffix}"
    if suffix == ".pth":
        torch.save(net.state_dict(), path)
    else:
        save_file(net.state_dict(), path)

    entry = library.import_file(path)

    assert entry.name == f"my-net_x{net.scale}"
    assert (entry.card.architecture, entry.card.arguments) == ("srresnet", {**ARGS, **arguments})
    assert (entry.card.scale, entry.card.source) == (net.scale, str(path.resolve()))
    assert (entry.card.licence, entry.card.description) == (
        "unknown — check the model's source",
        f"SRResNet imported from {path.name}",
    )
    x = torch.rand(1, 3, 9, 11)
    assert torch.allclose(library.load(entry.name).network(x), run(net, x), atol=1e-5)


@pytest.mark.parametrize(
    ("wrap", "scale"),
    [
        (lambda sd: {"params": sd}, 4),
        (lambda sd: {"params_ema": sd, "params": {}}, 2),
        (lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 7}, 3),
        (lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}}, 4),
    ],
    ids=["basicsr-params", "basicsr-params-ema", "state-dict-module", "model-module"],
)
def test_import_wrapped_msrresnet_checkpoints(
    library: ModelLibrary, tmp_path: Path, wrap, scale: int
) -> None:
    torch.manual_seed(1)
    net = MSRResNet(scale=scale, blocks=2, channels=4).eval()
    path = tmp_path / "MSRResNet_x.pth"
    torch.save(wrap(net.state_dict()), path)

    entry = library.import_file(path, name="msr")

    assert (entry.card.architecture, entry.card.arguments) == (
        "msrresnet",
        {"scale": scale, "blocks": 2, "channels": 4},
    )
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(library.load("msr").network(x), run(net, x), atol=1e-5)


def test_import_a_module_prefixed_srresnet(library: ModelLibrary, tmp_path: Path) -> None:
    net = tiny_srresnet()
    path = tmp_path / "parallel.pt"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)

    entry = library.import_file(path)

    assert (entry.name, entry.card.arguments) == ("parallel", ARGS)
    x = torch.rand(1, 3, 6, 6)
    assert torch.allclose(library.load("parallel").network(x), run(net, x), atol=1e-5)


def test_import_a_dcgan_generator(library: ModelLibrary, tmp_path: Path) -> None:
    torch.manual_seed(2)
    net = DCGANGenerator(latent_dim=8, image_size=32, width=4).eval()
    path = tmp_path / "gen.pth"
    torch.save(net.state_dict(), path)

    entry = library.import_file(path)

    card = entry.card
    assert (card.task, card.architecture, card.scale, card.value_range) == (
        "sample",
        "dcgan_generator",
        None,
        (-1.0, 1.0),
    )
    assert card.arguments == {"latent_dim": 8, "image_size": 32, "width": 4}
    z = torch.randn(2, 8)
    assert torch.allclose(library.load("gen").network(z), run(net, z), atol=1e-5)


def _touch(path: str) -> dict:
    Path(path).touch()
    return {}


class Payload:
    """Unpickling this runs `_touch`: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (_touch, (str(self.marker),))


class PayloadDict(collections.OrderedDict):
    """A state-dict look-alike that runs `_touch` when unpickled."""

    marker = ""

    def __reduce__(self):
        return (_touch, (self.marker,))


def _payload_dict(marker: Path) -> PayloadDict:
    payload = PayloadDict(weight=torch.zeros(1))
    payload.marker = str(marker)
    return payload


@pytest.mark.parametrize("make", [Payload, _payload_dict], ids=["object", "ordereddict-subclass"])
def test_import_refuses_to_unpickle_objects(library: ModelLibrary, tmp_path: Path, make) -> None:
    armed = tmp_path / "armed.pth"
    torch.save(make(tmp_path / "proof"), armed)
    torch.load(armed, weights_only=False)
    assert (tmp_path / "proof").exists(), "the payload should run when unpickled unsafely"

    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"params": make(marker)}, path)

    with pytest.raises(ModelError, match="refusing to unpickle") as error:
        library.import_file(path)
    assert_one_line_naming(error, "evil.pth")
    assert not marker.exists()
    assert not library.user_dir.exists()


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        ("weights.pth", {"foo.weight": torch.zeros(2, 2)}, "not a known model layout .keys foo.weight;"),
        ("weights.pth", [1, 2, 3], "no state dict found"),
        (
            "weights.pth",
            {"params": {"head.0.weight": torch.zeros(4, 3, 9, 9), **UPSAMPLE}},
            "missing: head.0.bias",
        ),
        ("weights.pth", b"not a zip", "cannot read weights: not a PyTorch file"),
        ("weights.safetensors", b"not safetensors", "cannot read safetensors"),
        ("weights.txt", b"", "unsupported weights file type"),
    ],
    ids=["unknown-keys", "not-a-dict", "incomplete", "corrupt-pth", "corrupt-safetensors", "suffix"],
)
def test_import_refuses_files_that_are_no_known_model(library, tmp_path, file_name, content, message) -> None:
    path = tmp_path / file_name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ModelError, match=message) as error:
        library.import_file(path, name="x")
    assert_one_line_naming(error, file_name)
    assert not library.user_dir.exists()
