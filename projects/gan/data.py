"""The images a GAN learns to draw: scikit-learn's digits, MNIST, or your own MedMNIST-layout .npz.

    $ python -m projects.gan.data      # where the data is, the split sizes, the image size and classes

`load(cfg)` returns every source in the same shape, a `Data`: `train`, `val` and `test` splits
of (images (N, H, W) or (N, H, W, 3) uint8, labels (N,) int64 from 0 to n_classes - 1), the files
they came from, and the image side, channels and classes that the networks are built for.

- digits (default, offline): 1,797 8x8 digits bundled with scikit-learn, split 70/15/15
  with a fixed seed, stratified by digit;
- mnist: the four IDX files that the common mirrors serve, checked by their published MD5s;
  the official 60,000 / 10,000 split, with 5,000 training images kept aside for validation;
- `--data path.npz`: any file in the MedMNIST layout (train/val/test _images and _labels).
"""

from __future__ import annotations

import gzip
import importlib.resources
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mlstarter.datasets import DataError, DataFile, Dataset, fetch, read_medmnist

from .config import Config

# The default data ships inside scikit-learn: no files to fetch, so it is always available offline
# (`make list` says so). Its source is the UCI "Optical Recognition of Handwritten Digits" test set.
DATASET = Dataset(
    name="digits",
    files=(),
    license="CC BY 4.0",
    citation="E. Alpaydin and C. Kaynak, 'Optical Recognition of Handwritten Digits' (1998), UCI Machine Learning "
    "Repository, https://doi.org/10.24432/C50P49; bundled with scikit-learn as sklearn.datasets.load_digits",
    homepage="https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html",
    description="scikit-learn's digits: 1,797 handwritten digits, 8x8 grayscale, 10 classes (bundled, offline)",
)

MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # the mirror torchvision downloads from
MNIST = Dataset(
    name="mnist",
    files=(  # the MD5s published with the files (and listed by torchvision's MNIST class)
        DataFile(
            "train-images-idx3-ubyte.gz",
            url=MNIST_MIRROR + "train-images-idx3-ubyte.gz",
            md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ),
        DataFile(
            "train-labels-idx1-ubyte.gz",
            url=MNIST_MIRROR + "train-labels-idx1-ubyte.gz",
            md5="d53e105ee54ea40749a09fcbcd1e9432",
        ),
        DataFile(
            "t10k-images-idx3-ubyte.gz",
            url=MNIST_MIRROR + "t10k-images-idx3-ubyte.gz",
            md5="9fb629c4189551a2d022fa330f9573f3",
        ),
        DataFile(
            "t10k-labels-idx1-ubyte.gz",
            url=MNIST_MIRROR + "t10k-labels-idx1-ubyte.gz",
            md5="ec29112dd5afa0611ce80d1b7f02629c",
        ),
    ),  # fmt: skip
    license="none stated on the original page; widely redistributed for research (derived from NIST SD-1 and SD-3)",
    citation="Y. LeCun, C. Cortes and C. J. C. Burges, 'The MNIST database of handwritten digits' (1998)",
    homepage="https://yann.lecun.com/exdb/mnist/",
    description="MNIST: 70,000 handwritten digits, 28x28 grayscale, 10 classes, 60,000 train / 10,000 test",
)
SOURCES = {"digits": DATASET, "mnist": MNIST}
SPLITS = ("train", "val", "test")
SPLIT_SEED = 0  # the digits and MNIST validation splits are fixed, so runs with different seeds share a test set
MNIST_VAL = 5000  # MNIST training images kept aside for validation
MAX_SIDE = 256  # images larger than this per side are refused: the networks are sized for small images
MAX_CLASSES = 100
MIN_EVAL_IMAGES = 10  # in val and test: each is split in two halves to measure a Fréchet distance


@dataclass(frozen=True)
class Data:
    """The images of one source, split, with what the networks need to know about them."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # train, val, test -> (images uint8, labels int64)
    files: dict[str, Path]  # the files the images came from, for the run's checksums
    name: str  # a short name for titles: digits, mnist, or the .npz file's name
    n_classes: int

    @property
    def side(self) -> int:
        return int(self.splits["train"][0].shape[1])

    @property
    def channels(self) -> int:
        images = self.splits["train"][0]
        return 1 if images.ndim == 3 else int(images.shape[3])


def load(cfg: Config) -> Data:
    """The splits of the configured source: the --data file (data.path), else the digits or MNIST."""
    if cfg.data.path:
        path = Path(cfg.data.path).expanduser()
        if not path.is_file():
            raise DataError(f"--data {cfg.data.path}: no such file.")
        splits = read_npz(path)
        return Data(splits, {path.name: path}, path.name, _n_classes(splits))
    if cfg.data.source == "mnist":
        splits, files = load_mnist()
        return Data(splits, files, "mnist", 10)
    splits, files = load_digits_splits()
    return Data(splits, files, "digits", 10)


def load_digits_splits() -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Path]]:
    """scikit-learn's 1,797 digits, stratified 70/15/15 into train/val/test with a fixed seed."""
    digits = load_digits()
    images = np.rint(digits.images * (255 / 16)).astype(np.uint8)  # ink 0-16 -> pixels 0-255
    labels = digits.target.astype(np.int64)
    X_train, X_rest, y_train, y_rest = train_test_split(
        images, labels, test_size=0.3, stratify=labels, random_state=SPLIT_SEED
    )
    X_val, X_test, y_val, y_test = train_test_split(
        X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=SPLIT_SEED
    )
    source = Path(str(importlib.resources.files("sklearn.datasets.data") / "digits.csv.gz"))
    return {"train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test)}, {source.name: source}


def load_mnist(download: bool = True) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Path]]:
    """MNIST from its IDX files (found in a data directory or downloaded, MD5-checked)."""
    files = fetch(MNIST, download=download)
    X_train, y_train = read_idx(files["train-images-idx3-ubyte.gz"]), read_idx(files["train-labels-idx1-ubyte.gz"])
    X_test, y_test = read_idx(files["t10k-images-idx3-ubyte.gz"]), read_idx(files["t10k-labels-idx1-ubyte.gz"])
    for images, labels, name in ((X_train, y_train, "train"), (X_test, y_test, "t10k")):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(
                f"MNIST {name}: {images.shape} images and {labels.shape} labels; expected (N, 28, 28) and (N,)"
            )
    X_train, X_val, y_train, y_val = train_test_split(
        X_train, y_train, test_size=MNIST_VAL, stratify=y_train, random_state=SPLIT_SEED
    )
    splits = {
        "train": (X_train, y_train.astype(np.int64)),
        "val": (X_val, y_val.astype(np.int64)),
        "test": (X_test, y_test.astype(np.int64)),
    }
    return splits, files


IDX_TYPES = {0x08: np.uint8}  # MNIST uses unsigned bytes only


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) IDX file, the format MNIST is published in.

    # header: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions d,
    # then d big-endian 32-bit sizes; then the values, row-major
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            content = f.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable IDX file ({error}).") from None
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in IDX_TYPES:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (its header is {content[:4].hex() or 'empty'}).")
    ndim = content[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(content) < header:
        raise DataError(f"{path}: the IDX header is cut short.")
    shape = struct.unpack(f">{ndim}I", content[4:header])
    expected = int(np.prod(shape))
    if len(content) - header != expected:
        raise DataError(
            f"{path}: the header says {shape} = {expected:,} values, but the file holds {len(content) - header:,}."
        )
    return np.frombuffer(content, dtype=IDX_TYPES[content[2]], offset=header).reshape(shape).copy()


def read_npz(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read and check a MedMNIST-layout file; every problem is named with the array it is in."""
    splits = read_medmnist(path, _check_split)  # the file's structure; each split's arrays by _check_split
    n_classes = _n_classes(splits)
    for split, (_, labels) in splits.items():
        if labels.max() >= n_classes:
            raise DataError(
                f"{path}, {split}_labels: class {labels.max()} never appears in train_labels "
                f"(classes 0 to {n_classes - 1}); the generator could not learn to draw it"
            )
    if len(np.unique(splits["train"][1])) < 2:
        raise DataError(f"{path}, train_labels: only one class; the judge classifier needs at least two")
    return splits


def buildable_sides(largest: int = 256) -> list[int]:
    """The image sides the networks build by doubling a small base, b * 2**k with b from 3 to 7 and k >= 1,
    from 8 up to `largest`: 8, 10, 12, 14, 16, 20, 24, 28, 32, ..., 256."""
    return sorted({b * 2**k for b in range(3, 8) for k in range(1, 9) if 8 <= b * 2**k <= largest})


def _check_split(path: Path, split: str, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    where = f"{path}, {split}"
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]  # (N, H, W, 1) -> (N, H, W)
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise DataError(f"{where}_images: shape {images.shape}; expected (N, H, W) grayscale or (N, H, W, 3) colour")
    if images.dtype != np.uint8:
        raise DataError(f"{where}_images: dtype {images.dtype}; expected uint8 pixels 0-255")
    n, height, width = images.shape[:3]
    if split != "train" and 0 < n < MIN_EVAL_IMAGES:
        raise DataError(
            f"{where}_images: {n} images; at least {MIN_EVAL_IMAGES} are needed, in two halves, to measure the "
            "Fréchet distance"
        )
    if n == 0 or height != width or height not in buildable_sides(MAX_SIDE):
        raise DataError(
            f"{where}_images: shape {images.shape}; expected square images with a side the networks can build by "
            f"doubling ({', '.join(map(str, buildable_sides(MAX_SIDE)))}), at least one image"
        )
    shape = labels.shape
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2 and labels.shape[0] == n:
        raise DataError(
            f"{where}_labels: shape {shape}, several labels per image (a multi-label dataset such as ChestMNIST); "
            "this project needs one class per image"
        )
    if labels.ndim != 1 or len(labels) != n:
        raise DataError(f"{where}_labels: shape {shape}; expected ({n}, 1), one label per image")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}_labels: dtype {labels.dtype}; expected integer classes 0, 1, 2, ...")
    bad = np.flatnonzero((labels < 0) | (labels >= MAX_CLASSES))
    if len(bad):
        raise DataError(
            f"{where}_labels: value {labels[bad[0]]} at index {bad[0]} ({len(bad)} bad in all); "
            f"expected classes 0 to {MAX_CLASSES - 1}"
        )
    return images, labels.astype(np.int64)


def _n_classes(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> int:
    return int(splits["train"][1].max()) + 1


def stratified_halves(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of two halves with (almost) the same number of each class: every other image of each class."""
    order = np.argsort(labels, kind="stable")
    return np.sort(order[0::2]), np.sort(order[1::2])


if __name__ == "__main__":
    data = load(Config())
    print(f"{data.name}: {data.side}x{data.side}, {data.channels} channel(s), {data.n_classes} classes")
    for path in data.files.values():
        print(f"File: {path}")
    for name, (_, labels) in data.splits.items():
        counts = np.bincount(labels, minlength=data.n_classes)
        print(f"  {name:5s} {len(labels):6d} images; per class {counts.min()} to {counts.max()}")
