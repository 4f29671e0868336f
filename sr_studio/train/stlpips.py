"""Shift-tolerant LPIPS (Ghildyal & Liu, ECCV 2022) as a perceptual loss and metric, without its package code.

The `stlpips-pytorch` wheel (BSD-2-Clause) ships trained weights, but its code imports torchvision, IPython
and torchsummary at the top, and torchvision does not import beside our torch. So we only read its weight
files and rebuild the shift-tolerant trunks from their layout; install it with
`pip install --no-deps stlpips-pytorch==0.0.2`.

The distance, as the package's `LPIPS(variant="shift_tolerant")` computes it: images in [-1, 1] are shifted
and scaled per channel; every stride-2 downsampling becomes a stride-1 max-pool followed by a 3×3 binomial
blur sampled at stride 2 over a 2-pixel reflection padding (anti-aliasing, so a one-pixel shift barely moves
the features); the features of five ReLU layers are unit-normalised over channels, their squared
differences weighted by 1×1 linear heads, averaged over space and summed over the layers.
"""

from __future__ import annotations

import importlib.util
import re
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from sr_studio.core.errors import ModelError, UsageError

INSTALL = "pip install --no-deps stlpips-pytorch==0.0.2"
_FILES = {"vgg": "vgg_shift_tolerant.pth", "alex": "alex_shift_tolerant.pth"}
# The smallest side each trunk accepts: below it a reflection padding would be wider than its feature map.
MIN_SIDE = {"vgg": 18, "alex": 21}
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


def weights_path(net: str = "vgg") -> Path:
    """The installed package's weight file for `net`, found without running any of the package's code."""
    if net not in _FILES:
        raise UsageError(f"unknown ST-LPIPS trunk {net!r}: choose one of {', '.join(_FILES)}")
    # For a top-level name find_spec only looks the package up on sys.path; it does not execute __init__.
    spec = importlib.util.find_spec("stlpips_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the ST-LPIPS weights are not installed: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "vST0.0" / _FILES[net]
    if not path.is_file():
        raise ModelError(f"the ST-LPIPS weight file is missing; reinstall with {INSTALL}", path)
    return path


def _our_key(key: str) -> str:
    """The package keeps the input constants in `scaling_layer` and puts a Dropout before each head."""
    return re.sub(r"^lin(\d)\.model\.1\.", r"lins.\1.", key).removeprefix("scaling_layer.")


def load_weights(net: str = "vgg") -> dict[str, torch.Tensor]:
    """The weight file's tensors under our module's names, every one of them."""
    path = weights_path(net)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelError(
            f"cannot read the ST-LPIPS weights ({error}); reinstall with {INSTALL}", path
        ) from error
    ours = {_our_key(key): tensor for key, tensor in state.items()}
    if len(ours) != len(state):
        raise ModelError("the ST-LPIPS weight file has clashing tensor names", path)
    return ours


class BlurPool(nn.Module):
    """Anti-aliased stride-2 downsampling: a 3×3 binomial blur over a 2-pixel reflection padding."""

    filt: torch.Tensor  # a buffer (nn.Module.__getattr__ would type it as Tensor | Module)

    def __init__(self, channels: int) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = taps[:, None] * taps[None, :]
        # Stored in the weight file too, one copy per channel, for the depthwise convolution.
        self.register_buffer("filt", (kernel / kernel.sum()).expand(channels, 1, 3, 3).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def _vgg_layers() -> tuple[list[nn.Module], tuple[int, ...]]:
    """VGG16's convolutions with each max-pool made stride 1 and followed by a blur-pool."""
    layers: list[nn.Module] = []
    channels = 3
    for width in _VGG16:
        if width == "M":
            layers += [nn.MaxPool2d(2, stride=1), BlurPool(channels)]
        else:
            layers += [nn.Conv2d(channels, int(width), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(width)
    return layers, (4, 10, 18, 26, 34)  # ends of the stages: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3


def _alex_layers() -> tuple[list[nn.Module], tuple[int, ...]]:
    """AlexNet with its stride-4 first convolution made stride 1 and every downsampling a blur-pool."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 11, padding=2),
        BlurPool(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=1),
        BlurPool(64),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=1),
        BlurPool(192),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(inplace=True),
    ]
    return layers, (3, 7, 11, 13, 15)  # ends of the five ReLU stages


def unit_length(features: torch.Tensor) -> torch.Tensor:
    """Each pixel's feature vector scaled to unit length (the package's epsilon, for parity)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)


class STLPIPS(nn.Module):
    """Frozen shift-tolerant LPIPS; `forward(x, y)` takes images in [0, 1] and gives one distance each."""

    shift: torch.Tensor  # buffers
    scale: torch.Tensor

    def __init__(self, net: str = "vgg") -> None:
        super().__init__()
        state = load_weights(net)
        self.net_name = net
        layers, ends = _vgg_layers() if net == "vgg" else _alex_layers()
        # Stage modules keep the trunk's flat layer numbers, the names the weight file uses.
        stages = {
            f"slice{stage + 1}": nn.Sequential(OrderedDict((str(i), layers[i]) for i in range(start, end)))
            for stage, (start, end) in enumerate(zip((0, *ends[:-1]), ends, strict=True))
        }
        self.net = nn.ModuleDict(stages)
        # One 1×1 head per stage, as wide as that stage's last convolution.
        convs = [[m for m in stage if isinstance(m, nn.Conv2d)][-1] for stage in stages.values()]
        self.lins = nn.ModuleList(nn.Conv2d(conv.out_channels, 1, 1, bias=False) for conv in convs)
        # LPIPS's per-channel input constants (also in the file): [-1, 1] images to roughly unit spread.
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        try:
            self.load_state_dict(state, strict=True)  # strict: every tensor of the file, and only those
        except RuntimeError as error:
            raise ModelError(f"the ST-LPIPS weights do not fit the {net} trunk: {error}") from error
        self.requires_grad_(False)
        self.eval()

    def stage_features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The five stages' ReLU outputs for images in [0, 1] (mapped to the package's [-1, 1] here)."""
        h = (2 * images - 1 - self.shift) / self.scale
        features = []
        for stage in self.net.values():
            h = stage(h)
            features.append(h)
        return features

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The distance (N,) between image batches `x` and `y` (N×3×H×W in [0, 1]); differentiable in both."""
        if min(x.shape[-2:]) < MIN_SIDE[self.net_name]:
            raise UsageError(
                f"ST-LPIPS ({self.net_name}) needs images at least {MIN_SIDE[self.net_name]} pixels a side, "
                f"got {x.shape[-1]}×{x.shape[-2]}"
            )
        total = x.new_zeros(x.shape[0])
        for head, fx, fy in zip(self.lins, self.stage_features(x), self.stage_features(y), strict=True):
            total = total + head((unit_length(fx) - unit_length(fy)) ** 2).mean(dim=(1, 2, 3))
        return total
