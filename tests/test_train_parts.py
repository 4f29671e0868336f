"""The training engine's parts in-process: schedule, data, losses, metrics, Fréchet distance, SRGAN step."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from sr_studio.core.errors import SRStudioError, UsageError
from sr_studio.core.metrics import downscale, psnr_y, ssim_y
from sr_studio.models import build
from sr_studio.train import losses
from sr_studio.train.common import WeightAverage, lr_at, started_whole, warm_start
from sr_studio.train.config import config_from_dict
from sr_studio.train.data import PatchSampler, degrade, list_images, load_dataset, scan
from sr_studio.train.features import distances
from sr_studio.train.sampler import SampleTrainer, standing_statistics
from sr_studio.train.upscaler import UpscaleTrainer
from tests.pictures import textured


def make_config(tmp_path: Path, **sections):
    data = {"data": {"train": ["images"], "patch": 16}, **sections}
    return config_from_dict(data, tmp_path, "test")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for index in range(4):
        Image.fromarray(textured(40, 48, seed=index)).save(images / f"{index}.png")
    Image.fromarray(textured(40, 40, channels=4, seed=9)).save(images / "sub" / "alpha.png")
    Image.fromarray(textured(8, 8)).save(images / "tiny.png")
    (images / "notes.txt").write_text("not an image")
    return images


def test_cosine_schedule_warms_up_then_decays_to_zero(tmp_path):
    config = make_config(tmp_path, train={"steps": 100, "warmup": 10, "lr": 1.0})
    assert lr_at(config, 5, 1.0) == pytest.approx(0.5)
    assert lr_at(config, 10, 1.0) == pytest.approx(1.0)
    assert lr_at(config, 55, 1.0) == pytest.approx(0.5)
    assert lr_at(config, 100, 1.0) == pytest.approx(0.0, abs=1e-12)
    step = make_config(tmp_path, train={"steps": 100, "schedule": "step", "milestones": [50, 80]})
    assert [lr_at(step, s, 1.0) for s in (50, 51, 81)] == [1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"train": {"steps": 0}}, "steps"),
        ({"train": {"loss": "l3"}}, "loss"),
        ({"train": {"lr": "fast"}}, "lr must be a number"),
        ({"task": "paint"}, "task"),
        ({"data": {"train": []}}, "data.train"),
        ({"train": {"r1": -1.0}}, "r1"),
    ],
)
def test_bad_configs_are_one_line_usage_errors(tmp_path, sections, message):
    data = {"data": {"train": ["images"]}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    with pytest.raises(UsageError, match=message):
        config_from_dict(data, tmp_path, "test")


def test_folders_are_searched_recursively_and_unusable_files_are_counted(tmp_path, folder):
    config = make_config(tmp_path, data={"train": ["images"], "patch": 16, "val_share": 0.25})
    assert len(list_images(config, ["images"])) == 6
    dataset = load_dataset(config, min_side=16)
    assert len(dataset.train) + len(dataset.val) == 5 and len(dataset.val) == 1
    assert [(p.name, "smaller" in reason) for p, reason in dataset.skipped] == [("tiny.png", True)]
    assert all(image.shape[2] == 3 and image.dtype == np.uint8 for image in dataset.train + dataset.val)
    again = load_dataset(config, min_side=16)
    assert again.val_files == dataset.val_files  # the split is fixed by the seed


def test_a_list_file_names_the_validation_images_and_keeps_them_out_of_training(tmp_path, folder):
    (tmp_path / "val.txt").write_text("images/1.png\n# a comment\nimages/3.png\n")
    config = make_config(tmp_path, data={"train": ["images"], "val": ["val.txt"], "patch": 16})
    dataset = load_dataset(config, min_side=16)
    assert [p.name for p in dataset.val_files] == ["1.png", "3.png"]
    assert not {p.name for p in dataset.train_files} & {"1.png", "3.png"}


def test_tsv_lists_filter_by_category(tmp_path, folder):
    (tmp_path / "images.tsv").write_text("file\tcategory\n0.png\tA\n1.png\tB\n2.png\tA\n")
    config = make_config(tmp_path, data={"train": ["images.tsv"], "categories": ["A"]})
    assert [p.name for p in list_images(config, ["images.tsv"])] == ["0.png", "2.png"]


def test_tsv_lists_keep_rows_matching_either_the_categories_or_the_subcategories(tmp_path, folder):
    (tmp_path / "images.tsv").write_text(
        "file\tcategory\tsubcategory\n0.png\tA\ta1\n1.png\tB\tb1\n2.png\tB\tb2\n3.png\tC\tc1\n"
    )
    data = {"train": ["images.tsv"], "categories": ["A"], "subcategories": ["b2"]}
    config = make_config(tmp_path, data=data)
    assert [p.name for p in list_images(config, ["images.tsv"])] == ["0.png", "2.png"]


def test_scan_reads_headers_and_warns_about_small_sets(tmp_path, folder):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 nothing")
    summary = scan(make_config(tmp_path), min_side=16)
    assert len(summary.usable) == 5
    assert sorted(p.name for p, _ in summary.skipped) == ["broken.jpg", "tiny.png"]
    assert any("expect overfitting" in warning for warning in summary.warnings)
    assert summary.megapixels == pytest.approx((4 * 40 * 48 + 40 * 40) / 1e6)


def test_a_missing_data_folder_is_named(tmp_path):
    with pytest.raises(SRStudioError, match="no such folder"):
        load_dataset(make_config(tmp_path, data={"train": ["nowhere"]}), min_side=8)


def test_patch_batches_are_deterministic_given_the_generator_and_lr_matches_hr():
    images = [textured(64, 80, seed=1), textured(200, 120, seed=2)]
    sampler = PatchSampler(images, patch=32, scale=4)
    lr_a, hr_a = sampler.batch(6, torch.Generator().manual_seed(7))
    lr_b, hr_b = sampler.batch(6, torch.Generator().manual_seed(7))
    assert torch.equal(hr_a, hr_b) and torch.equal(lr_a, lr_b)
    assert hr_a.shape == (6, 3, 32, 32) and lr_a.shape == (6, 3, 8, 8)
    torch.testing.assert_close(lr_a, downscale(hr_a, 4))
    degraded = degrade(hr_a, 4, torch.Generator().manual_seed(1))
    assert degraded.shape == lr_a.shape and not torch.allclose(degraded, lr_a, atol=0.01)


def test_patches_come_from_images_in_proportion_to_their_area():
    small, large = np.zeros((32, 32, 3), np.uint8), np.full((96, 96, 3), 255, np.uint8)
    _, hr = PatchSampler([small, large], patch=32, scale=2).batch(900, torch.Generator().manual_seed(0))
    share_large = float((hr.mean(dim=(1, 2, 3)) > 0.5).float().mean())
    assert share_large == pytest.approx(9 / 10, abs=0.04)


def test_psnr_and_ssim_follow_the_protocol():
    reference = textured(40, 40).astype(np.float64) / 255
    assert psnr_y(reference, reference, 4) == math.inf
    assert ssim_y(reference, reference, 4) == pytest.approx(1.0)
    noisy = np.clip(reference + np.random.default_rng(0).normal(0, 0.05, reference.shape), 0, 1)
    assert 20 < psnr_y(noisy, reference, 4) < 35
    assert ssim_y(noisy, reference, 4) < 0.99
    border_only = reference.copy()
    border_only[:2] = 0  # damage inside the cropped border does not count
    assert psnr_y(border_only, reference, 2) == math.inf


def test_random_perceptual_loss_is_fixed_by_its_seed_and_zero_only_for_equal_images():
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    loss = losses.RandomPerceptualLoss(seed=0)
    assert float(loss(a, a)) == 0
    assert float(loss(a, b)) > 0
    assert float(losses.RandomPerceptualLoss(seed=0)(a, b)) == float(loss(a, b))
    assert not any(p.requires_grad for p in loss.parameters())


def test_diffaugment_keeps_shapes_and_is_differentiable():
    x = torch.rand(4, 3, 32, 32, requires_grad=True) * 2 - 1
    out = losses.diff_augment(x, "color,translation,cutout", torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.sum().backward()
    with pytest.raises(ValueError, match="unknown DiffAugment"):
        losses.diff_augment(x, "zoom", torch.Generator())


def test_frechet_distance_is_zero_for_one_set_and_ranks_distributions():
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(64, 3, 32, 32, generator=generator) * 2 - 1
    same = torch.rand(64, 3, 32, 32, generator=generator) * 2 - 1
    other = torch.rand(64, 3, 32, 32, generator=generator) * 0.2
    assert distances(real, real)["frechet"] == pytest.approx(0, abs=1e-6)
    assert distances(same, real)["frechet"] < distances(other, real)["frechet"]


def test_kernel_distance_is_unbiased_for_two_samples_of_one_set_and_positive_for_different_sets():
    generator = torch.Generator().manual_seed(0)
    pool = torch.rand(240, 3, 16, 16, generator=generator) * 2 - 1
    other = torch.rand(120, 3, 16, 16, generator=generator) * 0.2
    first, second = pool[:120], pool[120:]
    same, different = distances(first, second), distances(other, second)
    assert different["kernel"] > 0
    assert abs(same["kernel"]) < 0.05 * different["kernel"]
    # Small samples: the Fréchet distance grows as the sample shrinks; the kernel distance does not.
    small_same, small_different = distances(first[:20], second[:20]), distances(other[:20], second[:20])
    assert small_same["frechet"] > 2 * same["frechet"]
    assert abs(small_same["kernel"]) < 0.05 * small_different["kernel"]


def test_the_trained_feature_space_tells_blurred_pictures_from_sharp_ones():
    sharp = torch.stack([torch.from_numpy(textured(64, 64, seed=seed)) for seed in range(72)])
    sharp = sharp.permute(0, 3, 1, 2).float() / 127.5 - 1
    blurred = F.interpolate(F.avg_pool2d(sharp, 4), scale_factor=4, mode="bilinear")
    first, second = sharp[:36], sharp[36:]
    same, different = distances(first, second, "stlpips-vgg"), distances(blurred[:36], second, "stlpips-vgg")
    assert distances(second, second, "stlpips-vgg")["frechet"] == pytest.approx(0, abs=1e-6)
    assert different["kernel"] > 0 and abs(same["kernel"]) < 0.1 * different["kernel"]
    assert same["frechet"] < different["frechet"]
    with pytest.raises(ValueError, match="unknown feature space"):
        distances(first, second, "inception")


def test_warm_start_copies_only_tensors_that_fit():
    from sr_studio.models.srresnet import SRResNet

    source = SRResNet(scale=4, blocks=2, channels=8, norm="none")
    target = SRResNet(scale=2, blocks=2, channels=8, norm="none")
    copied, total = warm_start(target, source.state_dict())
    assert copied == total < len(source.state_dict())  # ×4's second upsampling stage has no place in ×2
    torch.testing.assert_close(target.tail.weight, source.tail.weight)
    unfit = SRResNet(scale=2, blocks=2, channels=16, norm="none")
    assert warm_start(unfit, source.state_dict())[0] == 1  # only the tail's three biases fit


def test_srgan_step_trains_generator_and_discriminator(tmp_path, folder):
    config = make_config(
        tmp_path,
        data={"train": ["images"], "patch": 32, "val_share": 0.2},
        model={
            "architecture": "srresnet",
            "arguments": {"scale": 2, "blocks": 1, "channels": 8, "norm": "none"},
        },
        train={"batch": 2, "adversarial": 1e-3, "perceptual": 1.0, "feature_matching": 0.1},
    )
    trainer = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
    before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    numbers = trainer.step(1, torch.Generator().manual_seed(0))
    assert {"content", "perceptual", "adversarial", "feature_matching", "discriminator"} <= set(numbers)
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.discriminator.parameters(), strict=True))
    metrics = trainer.evaluate(0, tmp_path / "preview.png")
    assert set(metrics) >= {"bicubic", "model"} and (tmp_path / "preview.png").is_file()


def test_the_grid_penalty_adds_its_weighted_term_to_the_loss(tmp_path, folder):
    config = make_config(
        tmp_path,
        data={"train": ["images"], "patch": 32, "val_share": 0.2},
        model={"architecture": "msrresnet", "arguments": {"scale": 2, "blocks": 1, "channels": 8}},
        train={"batch": 2, "periodic": 3.0},
    )
    trainer = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
    numbers = trainer.step(1, torch.Generator().manual_seed(0))
    assert numbers["periodic"] > 0
    assert numbers["loss"] == pytest.approx(numbers["content"] + 3.0 * numbers["periodic"], rel=1e-5)


def test_pixel_weight_scales_the_content_term_in_the_loss(tmp_path, folder):
    config = make_config(
        tmp_path,
        data={"train": ["images"], "patch": 32, "val_share": 0.2},
        model={"architecture": "msrresnet", "arguments": {"scale": 2, "blocks": 1, "channels": 8}},
        train={"batch": 2, "pixel": 0.01},
    )
    trainer = UpscaleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
    numbers = trainer.step(1, torch.Generator().manual_seed(0))
    assert numbers["content"] > 0
    assert numbers["loss"] == pytest.approx(0.01 * numbers["content"], rel=1e-5)


def same(before: list[torch.Tensor], module: torch.nn.Module) -> bool:
    return all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_discriminator_warm_up_leaves_the_generator_alone_until_it_ends(tmp_path, folder):
    arguments = {"latent_dim": 8, "image_size": 32, "width": 4}
    config = make_config(
        tmp_path,
        task="sample",
        data={"train": ["images"], "patch": 32},
        model={"architecture": "dcgan_generator", "arguments": arguments},
        train={"batch": 2, "beta1": 0.5, "ema": 0.9, "d_warmup": 1},
    )
    trainer = SampleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
    generator_weights = [p.detach().clone() for p in trainer.network.parameters()]
    critic_weights = [p.detach().clone() for p in trainer.discriminator.parameters()]
    numbers = trainer.step(1, torch.Generator().manual_seed(0))
    assert "loss" not in numbers and "discriminator" in numbers
    assert same(generator_weights, trainer.network) and not same(critic_weights, trainer.discriminator)
    assert "loss" in trainer.step(2, torch.Generator().manual_seed(1))
    assert not same(generator_weights, trainer.network)


def test_r1_penalty_is_the_squared_gradient_norm_at_the_real_inputs_and_trains_the_critic():
    weights = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)  # D(x) = w·x: ∇ₓD = w everywhere
    inputs = torch.rand(5, 3, requires_grad=True)
    penalty = losses.r1_penalty(inputs @ weights, inputs)
    assert float(penalty.detach()) == pytest.approx(14.0)
    penalty.backward()  # it must reach the critic's weights: d‖w‖²/dw = 2w
    assert torch.allclose(weights.grad, 2 * weights.detach())


def test_an_r1_weight_changes_the_critic_step_and_is_logged(tmp_path, folder):
    arguments = {"latent_dim": 8, "image_size": 32, "width": 4}
    critics, logged = [], []
    for r1 in (0.0, 10.0):
        config = make_config(
            tmp_path,
            task="sample",
            data={"train": ["images"], "patch": 32},
            model={"architecture": "dcgan_generator", "arguments": arguments},
            train={"batch": 2, "beta1": 0.5, "r1": r1},
        )
        torch.manual_seed(0)  # the same initial networks for both
        trainer = SampleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
        numbers = trainer.step(1, torch.Generator().manual_seed(0))
        critics.append([p.detach().clone() for p in trainer.discriminator.parameters()])
        logged.append("r1" in numbers and numbers["r1"] > 0)
    assert logged == [False, True]
    assert not all(torch.equal(a, b) for a, b in zip(*critics, strict=True))


def test_the_weight_average_ramps_from_scratch_but_not_from_a_whole_warm_start():
    network = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(network.weight)
    ramped, kept = WeightAverage(network, 0.999), WeightAverage(network, 0.999, ramp=False)
    torch.nn.init.ones_(network.weight)
    ramped.update(network, 1)
    kept.update(network, 1)
    assert float(ramped.network.weight) == pytest.approx(1 - 2 / 11)  # decay (1 + 1) / (10 + 1)
    assert float(kept.network.weight) == pytest.approx(0.001)
    assert started_whole((5, 5)) and not started_whole((3, 5)) and not started_whole(None)


def test_a_warm_started_sampler_measures_its_base_beside_the_yardsticks(tmp_path, folder):
    arguments = {"latent_dim": 8, "image_size": 32, "width": 4}
    base = tmp_path / "base.safetensors"
    torch.manual_seed(1)
    save_file(build("dcgan_generator", **arguments).state_dict(), base)
    config = make_config(
        tmp_path,
        task="sample",
        data={"train": ["images"], "patch": 32},
        model={"base": str(base)},
        train={"batch": 2, "beta1": 0.5, "ema": 0.9},
    )
    trainer = SampleTrainer(config, load_dataset(config, min_side=32), torch.device("cpu"), "fp32")
    assert trainer.warm_started == (len(trainer.network.state_dict()),) * 2
    yardsticks = trainer.baseline(0)
    assert {"untrained", "real_halves", "base"} <= set(yardsticks)
    assert yardsticks["base"]["frechet"] != yardsticks["untrained"]["frechet"]  # another network's samples


def test_standing_statistics_replace_whatever_batch_norm_statistics_a_generator_had():
    generator = build("dcgan_generator", latent_dim=8, image_size=32, width=4)
    corrupted = copy.deepcopy(generator)
    for layer in corrupted.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_var.mul_(10)
            layer.running_mean.add_(3)
    standing_statistics(generator, 4, seed=0, device=torch.device("cpu"))
    standing_statistics(corrupted, 4, seed=0, device=torch.device("cpu"))
    settled = dict(generator.named_buffers())
    assert all(torch.equal(settled[name], value) for name, value in corrupted.named_buffers())
    assert not settled["layers.1.running_var"].eq(1).all()  # measured, not the reset's ones
    assert not generator.training and all(
        layer.momentum == 0.1 for layer in generator.modules() if isinstance(layer, torch.nn.BatchNorm2d)
    )
