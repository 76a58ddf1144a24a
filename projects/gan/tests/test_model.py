"""The networks, the losses and the measures: shapes, ranges and the math."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg

from ..config import JudgeConfig, ModelConfig
from ..evaluate import nearest_training_image, precision_recall
from ..model import (
    Discriminator,
    Generator,
    Judge,
    discriminator_loss,
    frechet_distance,
    gaussian_stats,
    generate,
    generator_loss,
    gradient_penalty,
    image_grid,
    layer_plan,
    to_images,
    to_tensor,
)


@pytest.mark.parametrize(("side", "plan"), [(8, (4, 1)), (16, (4, 2)), (28, (7, 2)), (64, (4, 4)), (224, (7, 5))])
def test_layer_plan_builds_every_side_from_a_small_base(side: int, plan: tuple[int, int]):
    assert layer_plan(side) == plan and plan[0] * 2 ** plan[1] == side


@pytest.mark.parametrize("side", [9, 63, 127, 255])
def test_a_side_that_cannot_be_built_by_doubling_is_refused(side: int):
    with pytest.raises(ValueError, match=f"{side} is not a side the networks can build: use one of 8, 10, 12"):
        layer_plan(side)


@pytest.mark.parametrize("side", [8, 28, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(
    "cfg",
    [ModelConfig(), ModelConfig(conditional=False), ModelConfig(spectral_norm=True), ModelConfig(loss="wgan-gp")],
    ids=["conditional", "unconditional", "spectral-norm", "wgan-gp"],
)
def test_the_networks_have_the_right_shapes(side: int, channels: int, cfg: ModelConfig):
    G, D = Generator(cfg, side, channels, 10), Discriminator(cfg, side, channels, 10)
    z, y = torch.randn(4, cfg.latent_dim), torch.tensor([0, 3, 9, 3])
    images = G(z, y)
    assert images.shape == (4, channels, side, side) and images.abs().max() <= 1  # tanh: in [-1, 1]
    assert D(images, y).shape == (4,)
    assert Judge(JudgeConfig(), channels, 10)(images).shape == (4, 10)


def test_the_conditional_generator_draws_different_classes_from_the_same_noise():
    G = Generator(ModelConfig(), 8, 1, 10).eval()
    z = torch.randn(1, 64).repeat(2, 1)
    two = G(z, torch.tensor([1, 7]))
    assert not torch.allclose(two[0], two[1])


@pytest.mark.parametrize("latent_dim", [64, 100, 7])  # 100 and 7 are not multiples of torch's 16-number blocks
def test_generation_is_deterministic_per_seed_and_independent_of_n(latent_dim: int):
    torch.manual_seed(0)
    G = Generator(ModelConfig(latent_dim=latent_dim), 8, 1, 10).eval()
    labels = np.arange(16) % 10
    first = generate(G, 16, seed=3, labels=labels)
    torch.manual_seed(123)  # the global random state plays no part
    assert np.array_equal(first, generate(G, 16, seed=3, labels=labels))
    assert np.array_equal(first[:4], generate(G, 4, seed=3, labels=labels[:4]))  # image i is the same whatever n
    assert not np.array_equal(first, generate(G, 16, seed=4, labels=labels))
    assert first.shape == (16, 8, 8) and first.dtype == np.uint8


def test_pixels_round_trip_through_the_networks_range():
    gray = np.array([[[0, 255], [128, 64]]], np.uint8)
    x = to_tensor(gray)
    assert x.shape == (1, 1, 2, 2) and x.min() == -1 and x.max() == 1
    assert np.array_equal(to_images(x), gray)
    colour = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.uint8)
    assert to_tensor(colour).shape == (2, 3, 8, 8) and np.array_equal(to_images(to_tensor(colour)), colour)


def test_image_grid_places_and_scales_every_image():
    images = np.stack([np.full((2, 2), v, np.uint8) for v in (10, 20, 30)])
    grid = image_grid(images, columns=2, scale=3, pad=1)
    assert grid.shape == (2 * 7 + 1, 2 * 7 + 1)  # 2 rows, 2 columns of 6 px images with 1 px gaps
    assert (grid[1:7, 1:7] == 10).all() and (grid[1:7, 8:14] == 20).all() and (grid[8:14, 1:7] == 30).all()
    assert image_grid(np.zeros((5, 4, 4, 3), np.uint8), 8).shape == (6, 26, 3)


def test_the_losses_are_the_binary_cross_entropies_they_claim():
    real, fake = torch.tensor([0.0]), torch.tensor([0.0])  # D(x) = D(G(z)) = 0.5
    assert discriminator_loss(real, fake, 0.0).item() == pytest.approx(2 * np.log(2))
    # smoothing: the real target is 0.9, and D is pushed to stop at 0.9 rather than grow ever surer
    confident = discriminator_loss(torch.tensor([10.0]), torch.tensor([-10.0]), 0.1)
    assert confident > discriminator_loss(torch.tensor([np.log(9.0)]), torch.tensor([-10.0]), 0.1)
    assert generator_loss(torch.tensor([0.0])).item() == pytest.approx(np.log(2))  # -log D(G(z))


def test_the_gradient_penalty_is_zero_for_a_critic_of_unit_slope():
    w = torch.randn(1, 1, 4, 4)
    w = w / w.norm()
    critic = lambda x, labels: (x * w).sum(dim=(1, 2, 3))  # gradient w everywhere: norm 1
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    assert gradient_penalty(critic, real, fake, None).item() == pytest.approx(0.0, abs=1e-10)
    steep = lambda x, labels: 3 * critic(x, labels)  # norm 3: penalty (3 - 1)^2 = 4
    assert gradient_penalty(steep, real, fake, None).item() == pytest.approx(4.0, rel=1e-5)


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 5))
    assert frechet_distance(gaussian_stats(a), gaussian_stats(a)) == pytest.approx(0, abs=1e-8)
    # 1-D Gaussians: d^2 = (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2
    one = (np.array([1.0]), np.array([[4.0]]))
    other = (np.array([3.0]), np.array([[9.0]]))
    assert frechet_distance(one, other) == pytest.approx(4 + 1)
    # any dimension: the textbook formula with scipy's matrix square root
    b = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 2
    (mu_a, s_a), (mu_b, s_b) = gaussian_stats(a), gaussian_stats(b)
    textbook = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * linalg.sqrtm(s_a @ s_b).real)
    assert frechet_distance((mu_a, s_a), (mu_b, s_b)) == pytest.approx(textbook, rel=1e-6)


def test_precision_and_recall_tell_quality_from_variety():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    same = precision_recall(real, rng.normal(size=(300, 4)))
    assert same[0] > 0.8 and same[1] > 0.8
    far = precision_recall(real, rng.normal(size=(300, 4)) + 20)
    assert far == (0.0, 0.0)
    collapsed = precision_recall(real, real[:1].repeat(300, axis=0) + rng.normal(size=(300, 4)) * 1e-3)
    assert collapsed[0] == 1.0 and collapsed[1] < 0.1  # mode collapse: every fake realistic, one kind only


def test_nearest_training_image_finds_a_copy():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (50, 8, 8)).astype(np.uint8)
    distance, index = nearest_training_image(train[[7, 3]], train)
    assert index.tolist() == [7, 3] and np.allclose(distance, 0, atol=1e-3)
    white = nearest_training_image(np.full((1, 8, 8), 255, np.uint8), np.zeros((1, 8, 8), np.uint8))[0]
    assert white[0] == pytest.approx(1.0)  # RMS distance on a 0-1 scale
