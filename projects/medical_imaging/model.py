"""The network, the augmentations, and Grad-CAM, in plain PyTorch (no torchvision).

cnn     three blocks of [conv 3x3 -> batch norm -> ReLU] x 2 -> max-pool, then global
        average pooling, dropout and one linear layer to the logit of pneumonia
resnet  the same blocks with a skip connection around the two convolutions (He et al. 2016)

`build` makes an untrained network; `save` writes a trained one into a run folder with the
numbers it needs at prediction time (the pixel statistics, the threshold); `load` reads it back
for evaluate.py and serve.py, tensors only (`weights_only=True`): never an unchecked pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlstarter import persistence
from mlstarter.config import from_dict, to_dict
from mlstarter.runs import Run

from .config import AugmentConfig, Config, ModelConfig

MODEL_FILE = "model.pt"  # in the run folder: the weights, and everything needed to use them


class ConvBlock(nn.Module):
    """(B, C_in, H, W) -> (B, C_out, H/2, W/2): two 3x3 convolutions, then 2x2 max-pooling."""

    def __init__(self, c_in: int, c_out: int, residual: bool):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),  # bias is redundant before batch norm
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        # the skip path: identity, or a 1x1 convolution when the number of channels changes
        self.skip = (nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)) if residual else None
        self.pool = nn.MaxPool2d(2)

    def activate(self, x: torch.Tensor) -> torch.Tensor:
        """The block before its pooling: (B, C_in, H, W) -> (B, C_out, H, W)."""
        out = self.body(x)
        if self.skip is not None:
            out = out + self.skip(x)  # y = F(x) + x: the block learns a correction to its input
        return F.relu(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.activate(x))


class PneumoniaNet(nn.Module):
    """(B, 1, H, W) normalised X-rays -> (B,) logits of pneumonia."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        widths = (1, *cfg.channels)
        self.blocks = nn.Sequential(
            *[ConvBlock(a, b, cfg.kind == "resnet") for a, b in zip(widths, widths[1:], strict=False)]
        )
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.channels[-1], 1)

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's maps before its pooling: (B, 1, 28, 28) -> (B, 128, 7, 7) with the defaults."""
        for block in self.blocks[:-1]:
            x = block(x)
        return self.blocks[-1].activate(x)

    def classify(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) maps -> pool -> global average (B, C) -> dropout -> linear -> (B,) logits."""
        pooled = self.blocks[-1].pool(maps).mean(dim=(2, 3))
        return self.head(self.dropout(pooled)).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify(self.feature_maps(x))


def build(cfg: ModelConfig) -> PneumoniaNet:
    """An untrained network with random initial weights (drawn from torch's generator: seed it first)."""
    return PneumoniaNet(cfg)


def to_tensor(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """uint8 (N, H, W) -> float (N, 1, H, W), standardised with the training set's pixel mean and std."""
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    return (x - mean) / std


def augment(x: torch.Tensor, cfg: AugmentConfig, mean: float, std: float) -> torch.Tensor:
    """Random rotation, shift, brightness and contrast, a different draw for every image of the batch.

    # rotation and shift as one affine map: grid_sample reads each output pixel from the rotated,
    # shifted position of the input (coordinates run from -1 to 1, so a shift of s pixels is 2s/W)
    """
    b, _, h, w = x.shape
    angle = (torch.rand(b, device=x.device) * 2 - 1) * math.radians(cfg.rotate_degrees)
    shift = (torch.rand(b, 2, device=x.device) * 2 - 1) * cfg.shift_pixels * 2 / torch.tensor([w, h], device=x.device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    pixels = x * std + mean  # back to [0, 1] to change exposure in pixel units
    pixels = F.grid_sample(pixels, grid, padding_mode="border", align_corners=False)
    # exposure: contrast scales around each image's mean, brightness adds a constant
    contrast = 1 + (torch.rand(b, 1, 1, 1, device=x.device) * 2 - 1) * cfg.contrast
    brightness = (torch.rand(b, 1, 1, 1, device=x.device) * 2 - 1) * cfg.brightness
    centre = pixels.mean(dim=(2, 3), keepdim=True)
    pixels = ((pixels - centre) * contrast + centre + brightness).clamp(0, 1)
    return (pixels - mean) / std


def grad_cam(model: PneumoniaNet, x: torch.Tensor) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): where in each image the evidence for pneumonia lies.

    # A = the last block's maps before pooling (B, C, 7, 7); alpha_c = mean over the map of d logit / d A_c
    # map = ReLU(sum_c alpha_c * A_c), upsampled to the image size and scaled to [0, 1]
    Uses the model's own forward pieces (feature_maps, classify), so it follows any change to them.
    Returns (B, H, W) heatmaps.
    """
    model.eval()
    with torch.enable_grad():
        maps = model.feature_maps(x.detach())
        logits = model.classify(maps)
        # each image's logit depends only on its own maps; autograd.grad leaves the parameters' .grad alone
        (grads,) = torch.autograd.grad(logits.sum(), maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    cam = F.relu((weights * maps.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-8)
    return cam / peak[:, None, None]


@torch.no_grad()
def predict_proba(
    model: PneumoniaNet, images: np.ndarray, mean: float, std: float, batch_size: int = 512
) -> np.ndarray:
    """P(pneumonia) for uint8 images (N, H, W), on the CPU."""
    model.eval()
    out = [
        torch.sigmoid(model(to_tensor(images[i : i + batch_size], mean, std)))
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out).numpy() if out else np.empty(0)


@dataclass(frozen=True)
class TrainedModel:
    """A run's network with what it needs to read a new image as the training images were read."""

    network: PneumoniaNet  # in eval mode, on the CPU
    mean: float  # the training images' pixel mean and standard deviation (pixels scaled to [0, 1])
    std: float
    threshold: float  # flag pneumonia at or above this probability (chosen on the validation images)
    image_side: int  # the training images' size in pixels: 28 for PneumoniaMNIST

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """P(pneumonia) for uint8 images (N, H, W)."""
        return predict_proba(self.network, images, self.mean, self.std)

    def grad_cam(self, images: np.ndarray) -> np.ndarray:
        """Grad-CAM heatmaps (N, H, W) in [0, 1] for uint8 images (N, H, W)."""
        return grad_cam(self.network, to_tensor(images, self.mean, self.std)).numpy()


def save(
    run_dir: Path,
    network: PneumoniaNet,
    *,
    cfg: Config,
    metrics: dict[str, Any],
    mean: float,
    std: float,
    threshold: float,
    image_side: int,
) -> None:
    """Write the trained network into a run: its weights, config and metrics in one file that describes itself."""
    persistence.save_torch(
        run_dir / MODEL_FILE,
        network.state_dict(),
        config=to_dict(cfg),
        metrics=metrics,
        normalization={"mean": mean, "std": std},
        threshold=threshold,
        image_side=image_side,
    )


def load(run: Run) -> TrainedModel:
    """The run's trained network, on the CPU in eval mode, with its pixel statistics and threshold."""
    saved = persistence.load_torch(run.path / MODEL_FILE)  # tensors and plain data only
    network = build(from_dict(Config, saved["config"]).model)  # the same shape as trained, then its weights
    network.load_state_dict(saved["model_state"])
    return TrainedModel(
        network=network.eval(),
        mean=saved["normalization"]["mean"],
        std=saved["normalization"]["std"],
        threshold=saved["threshold"],
        image_side=saved["image_side"],
    )
