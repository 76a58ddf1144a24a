"""The two players, their losses, and the judge, in plain PyTorch (no torchvision).

Generator      z (B, latent) [+ one-hot class] -> linear -> (B, C, b, b) -> [transposed conv, doubling the side] x k
               -> conv 3x3 -> tanh -> (B, channels, side, side) in [-1, 1]
Discriminator  the mirror image: conv 3x3 -> [strided conv, halving the side] x k -> one logit per image
               (+ a projection of the class, Miyato & Koyama 2018, for the conditional model)
Judge          a small classifier of the real images, whose last hidden layer is the feature
               space of the Fréchet distance (`frechet_distance`, used by train.py and evaluate.py)

Both networks are sized from the image side: 8 = 4 x 2 (one doubling), 28 = 7 x 2 x 2 (two),
64 = 4 x 2^4 (four). The most channels sit at the smallest resolution and halve as the side
doubles (8x8: 128 -> 64; 28x28: 128 -> 64 -> 32), so a larger image costs less than it would with
the same widths everywhere. DCGAN practice (Radford et al. 2016): strided convolutions instead of pooling,
batch norm, ReLU in the generator, LeakyReLU(0.2) in the discriminator, weights drawn from N(0, 0.02).

    generator, discriminator = build(cfg, side=8, channels=1, n_classes=10)   # untrained, seeded by cfg.seed
    save(run.dir, generator, discriminator, judge, cfg, images, metrics)     # train.py: the run's model files
    gan = load(run)                                                           # evaluate.py and serve.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from mlstarter import persistence
from mlstarter.config import from_dict, to_dict
from mlstarter.runs import Run

from .config import Config, JudgeConfig, ModelConfig
from .data import Data, buildable_sides


def layer_plan(side: int) -> tuple[int, int]:
    """(base side b, number of doublings k) with b * 2**k == side, b from 3 to 7 and k at least 1:
    8 -> (4, 1), 28 -> (7, 2). Other sides (9, 255, ...) cannot be built by doubling: ValueError."""
    base, doublings = side, 0
    while base % 2 == 0 and base > 7:
        base, doublings = base // 2, doublings + 1
    if not (3 <= base <= 7 and doublings >= 1):
        raise ValueError(
            f"{side} is not a side the networks can build: use one of {', '.join(map(str, buildable_sides()))}"
        )
    return base, doublings


MIN_CHANNELS = 16


def channel_plan(side: int, channels: int) -> list[int]:
    """Channels at each resolution, smallest first: `channels`, halved at every doubling (at least 16).
    8x8 with 128: [128, 64] (4x4, 8x8); 28x28: [128, 64, 32] (7x7, 14x14, 28x28)."""
    widths = [channels]
    for _ in range(layer_plan(side)[1]):
        widths.append(max(widths[-1] // 2, min(MIN_CHANNELS, channels)))
    return widths


class Generator(nn.Module):
    """(B, latent_dim) noise [+ (B,) classes] -> (B, channels, side, side) images in [-1, 1]."""

    def __init__(self, cfg: ModelConfig, side: int, channels: int, n_classes: int):
        super().__init__()
        self.latent_dim, self.n_classes, self.conditional = cfg.latent_dim, n_classes, cfg.conditional
        self.base = layer_plan(side)[0]
        widths = channel_plan(side, cfg.channels)
        self.base_channels = widths[0]
        inputs = cfg.latent_dim + (n_classes if cfg.conditional else 0)
        self.project = nn.Sequential(  # (B, inputs) -> (B, C * b * b), then seen as (B, C, b, b)
            nn.Linear(inputs, self.base_channels * self.base**2, bias=False),
            nn.BatchNorm1d(self.base_channels * self.base**2),
            nn.ReLU(inplace=True),
        )
        blocks = []
        for c_in, c_out in zip(widths, widths[1:], strict=False):  # (B, c_in, s, s) -> (B, c_out, 2s, 2s)
            blocks += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            blocks += [nn.ReLU(inplace=True)]
        self.upsample = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(widths[-1], channels, 3, padding=1)  # -> (B, channels, side, side)
        init_weights(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional:
            z = torch.cat([z, F.one_hot(labels, self.n_classes).to(z.dtype)], dim=1)  # (B, latent + n_classes)
        x = self.project(z).view(-1, self.base_channels, self.base, self.base)  # (B, C, b, b)
        return torch.tanh(self.to_image(self.upsample(x)))


class Discriminator(nn.Module):
    """(B, channels, side, side) images [+ (B,) classes] -> (B,) logits: how real each image looks."""

    def __init__(self, cfg: ModelConfig, side: int, channels: int, n_classes: int):
        super().__init__()
        self.conditional = cfg.conditional
        base = layer_plan(side)[0]
        widths = channel_plan(side, cfg.channels)[::-1]  # the generator's, largest image first
        # batch norm mixes the images of a batch, which the gradient penalty (one image at a time) forbids;
        # spectral norm does the job of keeping the discriminator in check instead
        norm = cfg.loss == "nonsaturating" and not cfg.spectral_norm
        sn = spectral_norm if cfg.spectral_norm else (lambda layer: layer)
        blocks: list[nn.Module] = [sn(nn.Conv2d(channels, widths[0], 3, padding=1)), nn.LeakyReLU(0.2, inplace=True)]
        for c_in, c_out in zip(widths, widths[1:], strict=False):  # (B, c_in, s, s) -> (B, c_out, s/2, s/2)
            blocks.append(sn(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1, bias=not norm)))
            blocks += [nn.BatchNorm2d(c_out)] if norm else []
            blocks.append(nn.LeakyReLU(0.2, inplace=True))
        c = widths[-1]
        self.features = nn.Sequential(*blocks, nn.Flatten())  # (B, c * b * b)
        self.score = sn(nn.Linear(c * base**2, 1))
        # projection discriminator: logit = w . h + <embed(y), h>, "does this image look like a real y?"
        self.embed = sn(nn.Embedding(n_classes, c * base**2)) if cfg.conditional else None
        init_weights(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        logit = self.score(h).squeeze(1)
        if self.embed is not None:
            logit = logit + (self.embed(labels) * h).sum(dim=1)
        return logit


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: convolution and linear weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.Embedding):
            weight = m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# The losses. D outputs logits, so sigmoid(logit) = D(x), the probability that x is real.


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, smoothing: float) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))]: the binary cross-entropy of telling real (target 1 - smoothing) from fake (0)."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, 1.0 - smoothing))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating: minimise -log D(G(z)) rather than log(1 - D(G(z))).

    Early on D rejects every fake, D(G(z)) ~ 0, where log(1 - D) is flat and gives G no gradient;
    -log D(G(z)) is steepest exactly there (Goodfellow et al. 2014).
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN: the critic maximises E[D(x)] - E[D(G(z))], an estimate of the Wasserstein-1 distance."""
    return fake_scores.mean() - real_scores.mean()


def gradient_penalty(
    critic: Discriminator, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None
) -> torch.Tensor:
    """WGAN-GP: (||grad_x D(x_hat)|| - 1)^2 at random points x_hat between real and fake images.

    The Wasserstein estimate is only valid for a 1-Lipschitz critic; the penalty pushes its
    gradient norm towards 1 where it matters, between the two distributions (Gulrajani et al. 2017).
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x_hat = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(x_hat, labels).sum(), x_hat, create_graph=True)
    return ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()


class Judge(nn.Module):
    """The classifier behind the Fréchet distance: (B, channels, side, side) -> (B, n_classes) logits.

    conv 3x3 (32) -> ReLU -> conv 3x3 stride 2 (64) -> ReLU -> conv 3x3 stride 2 (64) -> ReLU
    -> global average pooling (B, 64) -> linear -> ReLU = the features (B, features) -> linear -> logits
    """

    def __init__(self, cfg: JudgeConfig, channels: int, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 64, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(64, cfg.features),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(cfg.features, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


# A run's networks: built untrained by train.py and evaluate.py, saved by train.py, loaded by evaluate.py and serve.py


def build(cfg: Config, side: int, channels: int, n_classes: int) -> tuple[Generator, Discriminator]:
    """The two players, untrained, for square images of `side` pixels with `channels` channels in `n_classes`
    classes. Seeded with cfg.seed, so evaluate.py rebuilds the very generator that training started from
    (its Fréchet distance is the ceiling a trained generator is measured against)."""
    torch.manual_seed(cfg.seed)
    return (
        Generator(cfg.model, side, channels, n_classes),
        Discriminator(cfg.model, side, channels, n_classes),
    )


@dataclass(frozen=True)
class TrainedGAN:
    """What evaluate.py and serve.py need from a run: its best generator and its judge, on the CPU, in eval mode."""

    generator: Generator
    judge: Judge
    cfg: Config
    images: dict[str, Any]  # what the networks were built for: side, channels, n_classes, and the data's name


def save(
    run_dir: Path,
    generator: Generator,
    discriminator: Discriminator,
    judge: Judge,
    cfg: Config,
    images: Data,
    metrics: dict[str, float],
) -> None:
    """Write the run's three networks (weights only), each with the config and image size that rebuild it."""
    info = {"side": images.side, "channels": images.channels, "n_classes": images.n_classes, "name": images.name}
    config = to_dict(cfg)
    persistence.save_torch(run_dir / "generator.pt", cpu_weights(generator), config=config, metrics=metrics,
                           images=info)  # fmt: skip
    # the discriminator is not needed to draw; it is kept to go on training, or to study what it learned
    persistence.save_torch(run_dir / "discriminator.pt", cpu_weights(discriminator), config=config, images=info)
    persistence.save_torch(run_dir / "judge.pt", cpu_weights(judge), config=config, images=info)


def cpu_weights(network: nn.Module) -> dict[str, torch.Tensor]:
    """A network's state_dict on the CPU, so a run trained on a GPU loads anywhere."""
    return {k: v.detach().cpu() for k, v in network.state_dict().items()}


def load(run: Run) -> TrainedGAN:
    """The run's best generator and its judge, rebuilt from their config and read back safely (weights only)."""
    saved = persistence.load_torch(run.path / "generator.pt")
    cfg, info = from_dict(Config, saved["config"]), saved["images"]
    generator = Generator(cfg.model, info["side"], info["channels"], info["n_classes"])
    generator.load_state_dict(saved["model_state"])
    judge = Judge(cfg.judge, info["channels"], info["n_classes"])
    judge.load_state_dict(persistence.load_torch(run.path / "judge.pt")["model_state"])
    return TrainedGAN(generator.eval(), judge.eval(), cfg, info)


# Images: uint8 (N, H, W) or (N, H, W, 3), as stored and served <-> float (N, C, H, W) in [-1, 1], as the networks see them


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W[, C]) -> float (N, C, H, W) in [-1, 1], the range of the generator's tanh."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(127.5).sub_(1.0)
    return x.unsqueeze(1) if images.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def to_images(x: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W) for one channel, (N, H, W, C) for colour."""
    pixels = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels[:, 0].numpy() if pixels.shape[1] == 1 else pixels.permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def generate(
    generator: Generator, n: int, seed: int, labels: np.ndarray | None = None, batch_size: int = 500
) -> np.ndarray:
    """n images (uint8) from the noise of `seed`, on the CPU: the same seed gives the same images.

    The noise comes from a torch.Generator of its own, so it depends on nothing but the seed, and
    image i is the same whether you ask for 16 images or 64. The generator must be in eval mode,
    so that batch norm uses its running statistics rather than those of the batch.
    """
    # numpy draws the numbers one after another, so the first k images' noise is the same for any n >= k
    # (torch.randn on the CPU fills blocks of 16 and redraws a partial last block: it would depend on n)
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, generator.latent_dim), dtype=np.float32))
    y = torch.as_tensor(labels, dtype=torch.long) if labels is not None else None
    device = next(generator.parameters()).device
    out = [
        generator(z[i : i + batch_size].to(device), None if y is None else y[i : i + batch_size].to(device))
        for i in range(0, n, batch_size)
    ]
    return to_images(torch.cat(out)) if out else np.zeros((0,), np.uint8)


@torch.no_grad()
def judge_features(judge: Judge, images: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """The judge's (features (N, features), class probabilities (N, n_classes)) for uint8 images, on the CPU."""
    judge.eval()
    device = next(judge.parameters()).device
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        h = judge.features(to_tensor(images[i : i + batch_size]).to(device))
        feats.append(h.cpu())
        probs.append(torch.softmax(judge.head(h), dim=1).cpu())
    return torch.cat(feats).double().numpy(), torch.cat(probs).numpy()


def image_grid(images: np.ndarray, columns: int, scale: int = 1, pad: int = 1) -> np.ndarray:
    """uint8 images (N, H, W[, C]) -> one uint8 picture, `columns` images a row, each scaled up `scale` times
    (nearest neighbour: every pixel becomes a scale x scale square), with `pad` dark pixels between them."""
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    images = images.repeat(scale, axis=1).repeat(scale, axis=2)  # (N, h*scale, w*scale, C)
    h, w = h * scale, w * scale
    columns = max(1, min(columns, n))
    rows = -(-n // columns)  # ceiling division
    grid = np.zeros((rows * (h + pad) + pad, columns * (w + pad) + pad, c), np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top : top + h, left : left + w] = image
    return grid[..., 0] if c == 1 else grid


# The Fréchet distance: how far the judge's features of one set of images are from another's


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of features (N, d): the Gaussian the Fréchet distance compares."""
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """The Fréchet distance between two Gaussians N(mu_a, S_a) and N(mu_b, S_b) (Dowson & Landau 1982):

    # d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))
    # Tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric matrix,
    # so numpy's eigh gives real eigenvalues (scipy's sqrtm of S_a S_b can return complex noise)
    """
    (mu_a, s_a), (mu_b, s_b) = a, b
    values, vectors = np.linalg.eigh(s_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T  # S_a^(1/2)
    cross = np.sqrt(np.linalg.eigvalsh(root_a @ s_b @ root_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * cross)
