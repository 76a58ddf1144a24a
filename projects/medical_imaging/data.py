"""PneumoniaMNIST: find or download it, validate it, turn it into tensors.

    $ python -m projects.medical_imaging.data      # where the data is, the split sizes and class balance

The MedMNIST v2 layout is one `.npz` file with `train_images` (N, H, W) uint8 and
`train_labels` (N, 1), and the same for `val` and `test`. Label 0 = normal, 1 = pneumonia.
Your own file in that layout works too (`--data path.npz`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlstarter.datasets import DataError, DataFile, Dataset, digest, fetch, read_medmnist

from .config import Config

DATASET = Dataset(
    name="pneumoniamnist",
    files=(
        DataFile(
            "pneumoniamnist.npz",
            url="https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1",
            md5="28209eda62fecd6e6a2d98b1501bb15f",  # MedMNIST publishes MD5s only (medmnist/info.py)
        ),
    ),
    license="CC BY 4.0",
    citation=(
        "Jiancheng Yang et al., 'MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical "
        "image classification', Scientific Data 2023. Source images: Kermany et al., Cell 2018."
    ),
    homepage="https://medmnist.com/",
    description="PneumoniaMNIST: pediatric chest X-rays, 28x28 grayscale, normal vs pneumonia, 4708/524/624",
)
SPLITS = ("train", "val", "test")
CLASS_NAMES = ("normal", "pneumonia")  # label 0, label 1
MAX_SIDE = 512  # images larger than this per side are refused: the models are built for MedMNIST sizes


@dataclass
class Data:
    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # train, val, test: (images (N, H, W) uint8, labels (N,) int64)
    files: dict[str, Path]  # the file they came from, for the run's checksums


def load(cfg: Config) -> Data:
    """The official train / validation / test split of the file (`data.path`, or PneumoniaMNIST's own)."""
    if cfg.data.path:
        path = Path(cfg.data.path).expanduser()
        if not path.is_file():
            raise DataError(f"--data {cfg.data.path}: no such file.")
    else:
        path = fetch(DATASET)["pneumoniamnist.npz"]
    return Data(splits=read_npz(path), files={path.name: path})


def is_official(files: dict[str, Path]) -> bool:
    """Whether these are the official PneumoniaMNIST file (by its checksum), whose test split the published
    results use; any other file's results are not comparable with them, even a subset of the same images."""
    official = DATASET.files[0]
    return len(files) == 1 and digest(next(iter(files.values())), official.algorithm) == official.checksum


def read_npz(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read and check a MedMNIST-layout file; every problem is named with the array it is in."""
    return read_medmnist(path, _check_split)  # the file's structure; each split's arrays by _check_split


def _check_split(path: Path, split: str, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    where = f"{path}, {split}"
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]  # (N, H, W, 1) -> (N, H, W)
    if images.ndim != 3:
        raise DataError(f"{where}_images: shape {images.shape}; expected (N, H, W) grayscale images")
    if images.dtype != np.uint8:
        raise DataError(f"{where}_images: dtype {images.dtype}; expected uint8 pixels 0-255")
    n, height, width = images.shape
    if n == 0 or height != width or not 8 <= height <= MAX_SIDE:
        raise DataError(
            f"{where}_images: shape {images.shape}; expected square images, 8 to {MAX_SIDE} pixels a side, at least one"
        )
    shape = labels.shape
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(f"{where}_labels: shape {shape}; expected ({n}, 1), one label per image")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}_labels: dtype {labels.dtype}; expected integers 0 and 1")
    bad = np.flatnonzero((labels != 0) & (labels != 1))
    if len(bad):
        raise DataError(
            f"{where}_labels: value {labels[bad[0]]} at index {bad[0]} ({len(bad)} bad in all); "
            f"expected 0 (normal) or 1 (pneumonia)"
        )
    if len(np.unique(labels)) < 2:
        raise DataError(
            f"{where}_labels: only class {labels[0]} ({CLASS_NAMES[labels[0]]}); every split needs both classes "
            "to be trained on, or scored with ROC AUC"
        )
    return images, labels.astype(np.int64)


if __name__ == "__main__":
    data = load(Config())
    print(f"{DATASET.description}\nFile: {next(iter(data.files.values()))}")
    for name, (images, labels) in data.splits.items():
        print(
            f"  {name:5s} {len(labels):5d} images of {images.shape[1]}x{images.shape[2]}, {labels.mean():.0%} pneumonia"
        )
