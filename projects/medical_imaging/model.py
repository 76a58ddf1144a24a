"""The network, the augmentations, and Grad-CAM, in plain PyTorch (no torchvision).

cnn     three blocks of [conv 3x3 -> batch norm -> ReLU] x 2 -> max-pool, then global
        average pooling, dropout and one linear layer to the logit of pneumonia
resnet  the same blocks with a skip connection around the two convolutions (He et al. 2016)

`build` makes an untrained network; `save` writes a trained one into a run folder with the
numbers it needs at prediction time (the pixel statistics, the threshold, and reference.json for
the out-of-distribution score, see ood.py); `load` reads it back for evaluate.py and serve.py,
tensors only (`weights_only=True`): never an unchecked pickle. `grad_cam` computes heatmaps at
any block, `draw_gradcam` draws one beside its X-ray (evaluate's grid, the API's picture).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from torch import nn

from mlstarter import persistence
from mlstarter.config import from_dict, to_dict
from mlstarter.runs import OldRunError, Run, write_json

from . import ood
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

    def feature_maps(self, x: torch.Tensor, block: int = -1) -> torch.Tensor:
        """One block's maps before its pooling; with the defaults (B, 1, 28, 28) -> block 0: (B, 32, 28, 28),
        block 1: (B, 64, 14, 14), block 2 (the last, -1): (B, 128, 7, 7)."""
        block %= len(self.blocks)
        for earlier in self.blocks[:block]:
            x = earlier(x)
        return self.blocks[block].activate(x)

    def pooled(self, maps: torch.Tensor, block: int = -1) -> torch.Tensor:
        """The rest of the network from one block's maps up to the head's input: pool, the later blocks, then the
        global average over the image: (B, C, h, w) -> (B, 128), the image's features (the penultimate layer)."""
        block %= len(self.blocks)
        x = self.blocks[block].pool(maps)
        for later in self.blocks[block + 1 :]:
            x = later(x)
        return x.mean(dim=(2, 3))

    def classify(self, maps: torch.Tensor, block: int = -1) -> torch.Tensor:
        """One block's maps -> (B,) logits: pooled features (B, 128) -> dropout -> linear."""
        return self.head(self.dropout(self.pooled(maps, block))).squeeze(1)

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


def grad_cam(model: PneumoniaNet, x: torch.Tensor, block: int = -1, size: int | None = None) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): where in each image the evidence for pneumonia lies.

    # A = block `block`'s maps before pooling (B, C, h, w); alpha_c = mean over the map of d logit / d A_c
    # map = ReLU(sum_c alpha_c * A_c): (B, h, w), upsampled bilinearly to size x size and scaled to [0, 1]
    A later block's maps carry more of the class, an earlier block's are finer (h = 7, 14 or 28 with the
    defaults); config.gradcam.block says which, chosen by the deletion test (README, section 6). Uses the model's own
    forward pieces (feature_maps, classify), so it follows any change to them. Returns (B, size, size)
    heatmaps, at the image's own size by default.
    """
    model.eval()
    with torch.enable_grad():
        maps = model.feature_maps(x.detach(), block)
        logits = model.classify(maps, block)
        # each image's logit depends only on its own maps; autograd.grad leaves the parameters' .grad alone
        (grads,) = torch.autograd.grad(logits.sum(), maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    cam = F.relu((weights * maps.detach()).sum(dim=1, keepdim=True))  # (B, 1, h, w)
    # bilinear: each output pixel blends the 4 nearest map cells, so a 7x7 map becomes smooth, not blocky
    cam = F.interpolate(cam, size=size or x.shape[-1], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-8)
    return cam / peak[:, None, None]


GRADCAM_SIDE = 112  # heatmaps are upsampled (bilinear) to 112x112 for drawing: smooth at any readable size


def draw_gradcam(axes: Sequence[Axes], pixels: np.ndarray, heat: np.ndarray) -> None:
    """Two panels: the X-ray as the model saw it (its real pixels, not smoothed), and the X-ray under its heatmap."""
    side = pixels.shape[0]
    extent = (0, side, side, 0)  # both in the image's pixel coordinates, so image and heat line up
    image_ax, heat_ax = axes
    image_ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation="nearest", extent=extent)
    image_ax.set_title(f"X-ray ({side}x{side}, as the model sees it)", fontsize=9)
    heat_ax.imshow(pixels, cmap="gray", vmin=0, vmax=255, interpolation="nearest", extent=extent)
    heat_ax.imshow(heat, cmap="jet", alpha=0.45, vmin=0, vmax=1, interpolation="bilinear", extent=extent)
    heat_ax.set_title("Grad-CAM: evidence for pneumonia", fontsize=9)
    for ax in axes:
        ax.axis("off")


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
    ood_block: int  # the block whose mean features the out-of-distribution score measures (config.ood.block)
    ood_means: np.ndarray  # (2, C): the training images' mean features, per class (reference.json)
    ood_precision: np.ndarray  # (C, C): the inverse of their shared covariance
    ood_threshold: float  # an image whose OOD score is above this is unlike the training images
    gradcam_block: int  # the block whose maps Grad-CAM weighs (config.gradcam.block)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """P(pneumonia) for uint8 images (N, H, W)."""
        return predict_proba(self.network, images, self.mean, self.std)

    @torch.no_grad()
    def predict(self, images: np.ndarray, batch_size: int = 512) -> tuple[np.ndarray, np.ndarray]:
        """(P(pneumonia), OOD score) for uint8 images (N, H, W), from one pass through the network."""
        p, f = [], []
        for i in range(0, len(images), batch_size):
            maps = self.network.feature_maps(to_tensor(images[i : i + batch_size], self.mean, self.std), self.ood_block)
            f.append(maps.mean(dim=(2, 3)).double())  # (B, C): what the OOD score measures
            p.append(torch.sigmoid(self.network.classify(maps, self.ood_block)))  # the rest of the network
        if not p:
            return np.empty(0), np.empty(0)
        return torch.cat(p).numpy(), ood.mahalanobis(torch.cat(f).numpy(), self.ood_means, self.ood_precision)

    def ood_score(self, images: np.ndarray) -> np.ndarray:
        """How unlike the training images each uint8 image (N, H, W) is: above ood_threshold = out of distribution."""
        return self.predict(images)[1]

    def grad_cam(self, images: np.ndarray, block: int | None = None, size: int | None = None) -> np.ndarray:
        """Grad-CAM heatmaps (N, size, size) in [0, 1] for uint8 images (N, H, W); the run's block by default."""
        x = to_tensor(images, self.mean, self.std)
        return grad_cam(self.network, x, self.gradcam_block if block is None else block, size).numpy()


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
    reference: dict[str, Any],
) -> None:
    """Write the trained network into a run: its weights, config and metrics in one file that describes itself,
    and `reference.json`, what the training images look like (ood.fit_reference), in plain JSON."""
    persistence.save_torch(
        run_dir / MODEL_FILE,
        network.state_dict(),
        config=to_dict(cfg),
        metrics=metrics,
        normalization={"mean": mean, "std": std},
        threshold=threshold,
        image_side=image_side,
    )
    write_json(run_dir / ood.REFERENCE_FILE, reference)


def load(run: Run) -> TrainedModel:
    """The run's trained network, on the CPU in eval mode, with its pixel statistics, thresholds and OOD reference."""
    saved = persistence.load_torch(run.path / MODEL_FILE)  # tensors and plain data only
    cfg = from_dict(Config, saved["config"])
    network = build(cfg.model)  # the same shape as trained, then its weights
    network.load_state_dict(saved["model_state"])
    if not (run.path / ood.REFERENCE_FILE).is_file():
        raise OldRunError(
            f"Run {run.run_id} has no {ood.REFERENCE_FILE}: it was trained before the out-of-distribution check. "
            f"Train a new one: make train PROJECT={run.project}"
        )
    reference = run.read_json(ood.REFERENCE_FILE)["ood"]
    return TrainedModel(
        network=network.eval(),
        mean=saved["normalization"]["mean"],
        std=saved["normalization"]["std"],
        threshold=saved["threshold"],
        image_side=saved["image_side"],
        ood_block=reference["block"],
        ood_means=np.asarray(reference["class_means"]),
        ood_precision=np.linalg.inv(np.asarray(reference["covariance"])),  # Sigma^-1, once
        ood_threshold=reference["threshold"],
        gradcam_block=cfg.gradcam.block,
    )
