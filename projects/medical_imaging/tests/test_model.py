"""The network, the augmentations and Grad-CAM: shapes, ranges and the math."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mlstarter.runs import OldRunError, Run

from .. import ood
from ..config import AugmentConfig, Config, ModelConfig
from ..model import PneumoniaNet, augment, build, grad_cam, load, predict_proba, save, to_tensor
from ..train import youden_threshold
from .conftest import PROJECT, toy_images


@pytest.mark.parametrize("kind", ["cnn", "resnet"])
@pytest.mark.parametrize("side", [28, 64])
def test_the_network_maps_images_to_one_logit_each(kind: str, side: int):
    net = PneumoniaNet(ModelConfig(kind=kind))
    assert net(torch.randn(5, 1, side, side)).shape == (5,)


def test_standardisation_uses_the_given_statistics():
    images = np.array([[[0, 255]]], dtype=np.uint8)
    x = to_tensor(images, mean=0.5, std=0.5)
    assert x.shape == (1, 1, 1, 2) and torch.allclose(x, torch.tensor([[[[-1.0, 1.0]]]]))


def test_augmentation_keeps_shape_and_pixel_range_and_differs_per_image():
    torch.manual_seed(0)
    images, _ = toy_images(8, seed=0)
    x = to_tensor(images, 0.4, 0.2)
    out = augment(x, AugmentConfig(), 0.4, 0.2)
    pixels = out * 0.2 + 0.4
    assert out.shape == x.shape and pixels.min() >= -1e-6 and pixels.max() <= 1 + 1e-6
    assert not torch.allclose(out, x)
    same = augment(x[:1].repeat(2, 1, 1, 1), AugmentConfig(), 0.4, 0.2)
    assert not torch.allclose(same[0], same[1])  # a different random draw for each image


def test_no_augmentation_is_the_identity():
    x = to_tensor(toy_images(4, seed=1)[0], 0.4, 0.2)
    out = augment(x, AugmentConfig(rotate_degrees=0, shift_pixels=0, brightness=0, contrast=0), 0.4, 0.2)
    assert torch.allclose(out, x, atol=1e-5)


@pytest.mark.parametrize("block", [0, 1, 2, -1])
def test_grad_cam_is_a_heatmap_per_image_in_0_1_at_any_block(block: int):
    torch.manual_seed(0)
    net = PneumoniaNet(ModelConfig())
    heat = grad_cam(net, torch.randn(3, 1, 28, 28), block=block)
    assert heat.shape == (3, 28, 28) and heat.min() >= 0 and heat.max() <= 1 + 1e-6
    assert all(p.grad is None for p in net.parameters())  # it leaves no gradients behind
    assert grad_cam(net, torch.randn(2, 1, 28, 28), block=block, size=112).shape == (2, 112, 112)


def test_the_network_in_pieces_is_the_network():
    torch.manual_seed(0)
    net = PneumoniaNet(ModelConfig()).eval()
    x = torch.randn(4, 1, 28, 28)
    for block in range(3):  # feature_maps then classify, cut at any block, give forward's logits
        assert torch.allclose(net.classify(net.feature_maps(x, block), block), net(x), atol=1e-5)
    assert net.feature_maps(x, 1).shape == (4, 64, 14, 14) and net.feature_maps(x).shape == (4, 128, 7, 7)


def test_the_smooth_upsampling_is_bilinear():
    """A map of one hot cell becomes a smooth bump around it, not a block of equal pixels."""
    torch.manual_seed(0)
    net = PneumoniaNet(ModelConfig()).eval()
    heat = grad_cam(net, torch.randn(1, 1, 28, 28), size=112)[0]
    assert len(torch.unique(heat.round(decimals=4))) > 7 * 7 * 4  # far more levels than 7x7 cells


def test_youden_threshold_separates_separable_scores():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    t = youden_threshold(y, p)
    assert 0.3 < t <= 0.7 and ((p >= t) == y).all()


def test_predict_proba_in_batches_matches_one_batch():
    torch.manual_seed(0)
    net = PneumoniaNet(ModelConfig()).eval()
    images, _ = toy_images(10, seed=2)
    assert np.allclose(predict_proba(net, images, 0.4, 0.2, batch_size=3), predict_proba(net, images, 0.4, 0.2))


def test_a_saved_model_loads_back_with_the_same_predictions(tmp_path: Path):
    torch.manual_seed(0)
    cfg = Config(model=ModelConfig(kind="resnet", channels=(8, 16)))
    network = build(cfg.model).eval()
    images, labels = toy_images(6, seed=3)
    f = ood.features(network, to_tensor(images, 0.4, 0.2), block=1)
    reference = ood.fit_reference(f, labels[:, 0], f, images, flag_rate=0.02, block=1)
    save(tmp_path, network, cfg=cfg, metrics={"val_roc_auc": 0.5}, mean=0.4, std=0.2, threshold=0.3, image_side=28,
         reference=reference)  # fmt: skip
    trained = load(Run(PROJECT, "test", tmp_path))
    assert np.allclose(trained.predict_proba(images), predict_proba(network, images, 0.4, 0.2))
    p, scores = trained.predict(images)  # one pass for both
    assert np.allclose(p, trained.predict_proba(images), atol=1e-6) and np.allclose(scores, trained.ood_score(images))
    assert (trained.mean, trained.std, trained.threshold, trained.image_side) == (0.4, 0.2, 0.3, 28)
    assert not trained.network.training  # ready to predict: dropout off, batch norm's running statistics


def test_a_run_without_a_reference_says_to_train_again(tmp_path: Path):
    cfg = Config(model=ModelConfig(channels=(8, 16)))
    save(tmp_path, build(cfg.model), cfg=cfg, metrics={}, mean=0.4, std=0.2, threshold=0.3, image_side=28,
         reference={})  # fmt: skip
    (tmp_path / ood.REFERENCE_FILE).unlink()  # as a run trained before the check was written
    with pytest.raises(OldRunError, match="Train a new one: make train"):
        load(Run(PROJECT, "old", tmp_path))
