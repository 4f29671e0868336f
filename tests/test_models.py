"""Shapes, sizes, init, batch-norm folding and receptive radii of the network architectures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sr_studio.models import build
from sr_studio.models.dcgan import DCGANDiscriminator, DCGANGenerator
from sr_studio.models.msrresnet import MSRResNet
from sr_studio.models.srgan import SRGANDiscriminator
from sr_studio.models.srresnet import SRResNet, fold_batchnorm


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("norm", ["batch", "none"])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_output_shape(scale: int, norm: str) -> None:
    model = SRResNet(scale=scale, blocks=1, channels=4, norm=norm).eval()
    assert model(torch.rand(2, 3, 7, 11)).shape == (2, 3, 7 * scale, 11 * scale)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_output_shape(scale: int) -> None:
    model = MSRResNet(scale=scale, blocks=1, channels=4)
    assert model(torch.rand(2, 3, 7, 11)).shape == (2, 3, 7 * scale, 11 * scale)


@pytest.mark.parametrize(
    ("cls", "arguments"),
    [(SRResNet, {"scale": 5}), (SRResNet, {"norm": "layer"}), (MSRResNet, {"scale": 8})],
)
def test_sr_rejects_bad_arguments(cls: type[nn.Module], arguments: dict) -> None:
    with pytest.raises(ValueError):
        cls(blocks=1, channels=4, **arguments)


@pytest.mark.parametrize("image_size", [32, 64])
def test_dcgan_shapes(image_size: int) -> None:
    generator = DCGANGenerator(latent_dim=8, image_size=image_size, width=4)
    images = generator(torch.randn(3, 8))
    assert images.shape == (3, 3, image_size, image_size)
    assert images.abs().max() <= 1.0
    assert torch.equal(generator(torch.ones(3, 8, 1, 1)), generator(torch.ones(3, 8)))
    discriminator = DCGANDiscriminator(image_size=image_size, width=4)
    assert discriminator(images).shape == (3,)


def test_dcgan_rejects_other_sizes() -> None:
    with pytest.raises(ValueError):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError):
        DCGANDiscriminator(image_size=128)


def test_dcgan_init_and_bias_layout() -> None:
    torch.manual_seed(0)
    generator = DCGANGenerator(latent_dim=100, image_size=64, width=64)
    convs = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert abs(weights.std().item() - 0.02) < 0.001
    assert [m.bias is not None for m in convs] == [False, False, False, False, True]
    assert torch.all(convs[-1].bias == 0)
    norms = torch.cat([m.weight for m in generator.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(norms.mean().item() - 1.0) < 0.01


@pytest.mark.parametrize("size", [16, 24, 40, 96])
def test_srgan_discriminator_patch_sizes(size: int) -> None:
    model = SRGANDiscriminator(channels=4, dense=8).eval()
    assert model(torch.rand(2, 3, size, size)).shape == (2,)


def test_srgan_discriminator_is_the_papers_at_96() -> None:
    model = SRGANDiscriminator(channels=2, dense=8)
    assert model.features(torch.rand(1, 3, 96, 96)).shape == (1, 16, 6, 6)
    strides = [m.stride[0] for m in model.features if isinstance(m, nn.Conv2d)]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 2]


def test_parameter_counts() -> None:
    srresnet = parameter_count(SRResNet(scale=4, blocks=16, channels=64, norm="batch"))
    msrresnet = parameter_count(MSRResNet(scale=4, blocks=16, channels=64))
    print(f"SRResNet x4: {srresnet}, MSRResNet x4: {msrresnet}")
    assert 1_500_000 <= srresnet <= 1_600_000
    assert 1_500_000 <= msrresnet <= 1_540_000


def test_default_receptive_radii() -> None:
    assert SRResNet().receptive_radius == 40
    assert MSRResNet().receptive_radius == 36


def randomise_batchnorm(model: nn.Module) -> None:
    """Give every batch norm non-trivial statistics and affine parameters."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fold_batchnorm_is_equivalent(scale: int) -> None:
    torch.manual_seed(1)
    model = SRResNet(scale=scale, blocks=2, channels=8, norm="batch").eval()
    randomise_batchnorm(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    folded = fold_batchnorm(model)

    assert folded.norm == "none"
    assert (folded.scale, folded.blocks, folded.channels) == (scale, 2, 8)
    assert (
        folded.state_dict().keys()
        == SRResNet(scale=scale, blocks=2, channels=8, norm="none").state_dict().keys()
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.rand(2, 3, 9, 13)
    with torch.no_grad():
        assert (folded(x) - model(x)).abs().max().item() <= 1e-5


def test_fold_batchnorm_copies_a_norm_free_model() -> None:
    model = SRResNet(scale=2, blocks=1, channels=4, norm="none")
    folded = fold_batchnorm(model)
    assert folded is not model
    assert same_state(folded, model)
    with torch.no_grad():
        folded.tail.weight.add_(1.0)
    assert not same_state(folded, model)


def test_fold_batchnorm_leaves_the_rng_alone() -> None:
    model = SRResNet(scale=2, blocks=1, channels=4)
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    fold_batchnorm(model)
    assert torch.equal(torch.rand(4), expected)


SMALL: dict[str, tuple[type[nn.Module], dict]] = {
    "srresnet": (SRResNet, {"scale": 3, "blocks": 2, "channels": 4}),
    "msrresnet": (MSRResNet, {"scale": 4, "blocks": 2, "channels": 4}),
    "srgan_discriminator": (SRGANDiscriminator, {"channels": 4, "dense": 8}),
    "dcgan_generator": (DCGANGenerator, {"latent_dim": 8, "image_size": 32, "width": 4}),
    "dcgan_discriminator": (DCGANDiscriminator, {"image_size": 32, "width": 4}),
}


def small(name: str) -> nn.Module:
    cls, arguments = SMALL[name]
    return cls(**arguments)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_init_is_deterministic(name: str) -> None:
    torch.manual_seed(7)
    first = small(name)
    torch.manual_seed(7)
    second = small(name)
    torch.manual_seed(8)
    other = small(name)
    assert same_state(first, second)
    assert not same_state(first, other)


def test_srresnet_residual_branch_starts_small() -> None:
    torch.manual_seed(0)
    scaled = SRResNet(scale=2, blocks=1, channels=8).body[0].conv2.weight
    torch.manual_seed(0)
    default = nn.Conv2d(8, 8, 3, padding=1)
    assert scaled.abs().max() < 0.5 * default.weight.abs().max()


def furthest_influence(model: nn.Module, scale: int, radius: int) -> int:
    """The largest LR (Chebyshev) distance from one perturbed input pixel to an output pixel it changes.

    Output pixel (y, x) is charged to the LR pixel (y // scale, x // scale) it lies in, which is how a
    tile padded by the radius is cut back out of its upscaled result.
    """
    size = 2 * radius + 9
    centre = size // 2
    x = torch.rand(1, 3, size, size, dtype=torch.float64)
    bumped = x.clone()
    bumped[0, :, centre, centre] += 1.0
    with torch.no_grad():
        changed = (model(bumped) - model(x)).abs().amax(dim=(0, 1)) > 0
    rows, cols = torch.nonzero(changed, as_tuple=True)
    distance = torch.maximum((rows // scale - centre).abs(), (cols // scale - centre).abs())
    return int(distance.max())


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_receptive_radius_is_a_tight_upper_bound(scale: int) -> None:
    torch.manual_seed(scale)
    model = SRResNet(scale=scale, blocks=2, channels=4).double().eval()
    randomise_batchnorm(model)
    radius = model.receptive_radius
    assert radius == 2 * 2 + 8
    assert furthest_influence(model, scale, radius) == radius


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_receptive_radius_is_an_upper_bound(scale: int) -> None:
    torch.manual_seed(scale)
    model = MSRResNet(scale=scale, blocks=2, channels=4).double()
    radius = model.receptive_radius
    # The bilinear skip's +1 is slack over the conv path, which dominates it.
    assert radius - 1 <= furthest_influence(model, scale, radius) <= radius


def test_msrresnet_keys_match_basicsr() -> None:
    expected = {
        f"{layer}.{kind}"
        for layer in [
            "conv_first",
            "body.0.conv1",
            "body.0.conv2",
            "body.1.conv1",
            "body.1.conv2",
            "upconv1",
            "upconv2",
            "conv_hr",
            "conv_last",
        ]
        for kind in ["weight", "bias"]
    }
    state = MSRResNet(scale=4, blocks=2, channels=64).state_dict()
    assert set(state) == expected
    assert state["upconv1.weight"].shape == (256, 64, 3, 3)
    assert state["conv_last.weight"].shape == (3, 64, 3, 3)
    assert MSRResNet(scale=3, blocks=2, channels=64).state_dict()["upconv1.weight"].shape == (576, 64, 3, 3)
    assert "upconv2.weight" not in MSRResNet(scale=2, blocks=2, channels=4).state_dict()


def test_srresnet_key_layout() -> None:
    keys = set(SRResNet(scale=4, blocks=1, channels=4, norm="batch").state_dict())
    assert {"head.0.weight", "head.0.bias", "head.1.weight", "tail.weight", "tail.bias"} <= keys
    assert {"body.0.conv1.weight", "body.0.bn1.running_var", "body.0.act.weight", "body.0.bn2.weight"} <= keys
    assert {"trunk.0.weight", "trunk.1.running_mean", "upsample.0.0.weight", "upsample.1.2.weight"} <= keys
    plain = set(SRResNet(scale=3, blocks=1, channels=4, norm="none").state_dict())
    assert not any(".bn" in key or key.startswith("trunk.1") for key in plain)
    assert "upsample.1.0.weight" not in plain


@pytest.mark.parametrize("name", sorted(SMALL))
def test_registry_builds_each_class(name: str) -> None:
    cls, arguments = SMALL[name]
    model = build(name, **arguments)
    assert type(model) is cls
    assert model.state_dict().keys() == cls(**arguments).state_dict().keys()


def test_tasks() -> None:
    assert SRResNet.task == MSRResNet.task == "upscale"
    assert DCGANGenerator.task == "sample"
