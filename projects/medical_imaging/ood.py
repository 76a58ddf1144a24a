"""Is this image like the training X-rays? An out-of-distribution (OOD) score, and the run's reference.json.

A classifier answers every image with a class: an all-black square, a photo of a cat or an
adult's CT scan all get a P(pneumonia), often a confident one (a blank grey square gets 0.99).
This module says when an image is unlike anything the network was trained on, so the answer
can carry a warning.

The score (Lee et al. 2018, "A simple unified framework for detecting out-of-distribution
samples"): the Mahalanobis distance of the image's features f to the nearer class of training
images, where f is one block's feature maps averaged over the image (`ood.block`; (64,) for the
middle block with the defaults),

    # score(f) = min over c in {normal, pneumonia} of sqrt((f - mu_c)^T  Sigma^-1  (f - mu_c))
    # mu_c: the mean features of training class c; Sigma: their shared covariance (features minus their class mean)

Sigma is estimated with Ledoit-Wolf shrinkage (a blend of the sample covariance and a scaled
identity), so it can be inverted even from fewer images than features (a --dry-run's 128). The
threshold is a quantile of the scores of the *validation* images, which training never saw:
`ood.flag_rate` of real X-rays are flagged by design. Why the middle block, and not the last
layer's features, an energy score, the confidence or pixel statistics: measured in README.md,
section 7 (the last layer's features, for one, let white and grey squares through).

`fit_reference` writes what the training images look like into the run as `reference.json`:
these statistics, the validation images' scores, and plain image statistics (mean and spread of
intensity, size), which the drift monitor (monitor.py) compares served images with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.covariance import LedoitWolf

REFERENCE_FILE = "reference.json"  # in the run folder


@torch.no_grad()
def features(network: torch.nn.Module, x: torch.Tensor, block: int, batch_size: int = 512) -> np.ndarray:
    """Standardised images (N, 1, H, W) -> block `block`'s maps averaged over the image: (N, C), float64."""
    network.eval()
    out = [network.feature_maps(x[i : i + batch_size], block).mean(dim=(2, 3)) for i in range(0, len(x), batch_size)]
    return torch.cat(out).double().numpy() if out else np.empty((0, 0))


def fit_reference(
    f_train: np.ndarray,
    y_train: np.ndarray,
    f_val: np.ndarray,
    X_train: np.ndarray,
    flag_rate: float,
    block: int,
) -> dict[str, Any]:
    """reference.json's content: the class means and shared covariance of the training features, the
    threshold (the (1 - flag_rate) quantile of the validation images' scores), those scores (for the drift
    monitor), and image statistics."""
    means = np.stack([f_train[y_train == c].mean(axis=0) for c in (0, 1)])  # (2, C): mu_normal, mu_pneumonia
    centred = f_train - means[y_train]  # each image's features minus its own class's mean
    covariance = LedoitWolf(assume_centered=True).fit(centred).covariance_  # (C, C), shrunk towards s * I
    val_scores = mahalanobis(f_val, means, np.linalg.inv(covariance))
    threshold = float(np.quantile(val_scores, 1 - flag_rate))
    ood = {
        "method": "Mahalanobis distance of one block's mean features to the nearer training class (Ledoit-Wolf)",
        "block": block,  # whose feature maps, averaged over the image
        "threshold": threshold,  # flag an image whose score is above this
        "flag_rate": flag_rate,  # asked for
        "validation_flagged": float((val_scores > threshold).mean()),  # got, on the validation images
        "class_means": means.tolist(),  # [mu_normal, mu_pneumonia]
        "covariance": covariance.tolist(),
        "validation_scores": np.round(val_scores, 2).tolist(),  # the monitor compares served images' scores with these
    }
    return {"ood": ood, "images": image_statistics(X_train)}


MONITOR_SAMPLE = 2000  # per-image statistics kept for the drift monitor: enough for deciles, a few KB of JSON


def image_statistics(images: np.ndarray) -> dict[str, Any]:
    """Plain statistics of uint8 images (N, H, W): each image's mean and spread of intensity, summarised, and
    a sample of MONITOR_SAMPLE images' values for the drift monitor (monitor.py)."""
    per_image_mean = images.reshape(len(images), -1).mean(axis=1)
    per_image_std = images.reshape(len(images), -1).std(axis=1)
    sample = np.random.default_rng(0).permutation(len(images))[:MONITOR_SAMPLE]
    return {
        "count": len(images),
        "height": int(images.shape[1]),
        "width": int(images.shape[2]),
        "pixel_mean": float(images.mean()),  # over every pixel of every image, 0-255
        "pixel_std": float(images.std()),
        "image_mean": {"mean": float(per_image_mean.mean()), "std": float(per_image_mean.std()),
                       "p01": float(np.quantile(per_image_mean, 0.01)), "p99": float(np.quantile(per_image_mean, 0.99))},
        "image_std": {"mean": float(per_image_std.mean()), "std": float(per_image_std.std()),
                      "p01": float(np.quantile(per_image_std, 0.01)), "p99": float(np.quantile(per_image_std, 0.99))},
        "values": {"mean": np.round(per_image_mean[sample], 1).tolist(),  # of intensity 0-255, one per image
                   "std": np.round(per_image_std[sample], 1).tolist()},
    }  # fmt: skip


def mahalanobis(f: np.ndarray, class_means: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(N, C) features -> (N,) distances to the nearer class mean, in units of the features' spread.
    `precision` is Sigma^-1, the inverse of the shared covariance."""
    squared = [np.einsum("ij,jk,ik->i", f - mu, precision, f - mu) for mu in class_means]  # (f-mu)^T Sigma^-1 (f-mu)
    return np.sqrt(np.maximum(np.min(squared, axis=0), 0))


def unusual_images(X_real: np.ndarray, n: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Images that are not chest X-rays, as a user might send them by mistake, n of each kind (uint8 (n, H, W)):
    black (blank, nearly black), white (overexposed, nearly white), grey (an empty mid-grey square), noise
    (random pixels) and inverted (real X-rays with black and white swapped, as some viewers export them)."""
    rng = np.random.default_rng(seed)
    side = X_real.shape[1:]
    level = rng.uniform(0, 20, (n, 1, 1))  # a different dark level for each, plus a little sensor noise
    sensor = rng.normal(0, 2, (n, *side))
    return {
        "black": (level + sensor).clip(0, 255).astype(np.uint8),
        "white": (255 - level + sensor).clip(0, 255).astype(np.uint8),
        "grey": (rng.uniform(100, 160, (n, 1, 1)) + sensor).clip(0, 255).astype(np.uint8),
        "noise": rng.integers(0, 256, (n, *side)).astype(np.uint8),
        "inverted": 255 - X_real[rng.permutation(len(X_real))[:n]],
    }
