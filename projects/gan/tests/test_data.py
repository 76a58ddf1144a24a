"""The data contract: digits offline, MNIST's IDX files (found, downloaded, checked), MedMNIST-layout files."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from mlstarter import datasets
from mlstarter.datasets import DataError, DataFile, Dataset

from .. import data
from ..config import Config, DataConfig
from .conftest import toy_images, write_idx, write_npz


def load(settings: DataConfig) -> data.Data:
    """data.load takes the whole project config; these tests vary only its data section."""
    return data.load(Config(data=settings))


def test_digits_are_offline_and_split_70_15_15_by_class():
    images = load(DataConfig())
    sizes = {name: len(labels) for name, (_, labels) in images.splits.items()}
    assert sizes == {"train": 1257, "val": 270, "test": 270}
    X_train, y_train = images.splits["train"]
    assert X_train.shape[1:] == (8, 8) and X_train.dtype == np.uint8 and X_train.max() == 255
    assert images.n_classes == 10 and images.side == 8 and images.channels == 1
    for _, labels in images.splits.values():  # stratified: every digit about equally often in every split
        assert np.bincount(labels).min() >= 0.8 * np.bincount(labels).max()
    assert all(datasets.status(data.DATASET).values())  # nothing to fetch: `make list` says offline
    assert list(images.files) == ["digits.csv.gz"] and images.files["digits.csv.gz"].is_file()


def test_stratified_halves_share_the_classes():
    labels = np.array([0, 0, 1, 1, 1, 1, 2, 2])
    a, b = data.stratified_halves(labels)
    assert sorted([*a, *b]) == list(range(8)) and np.bincount(labels[a]).tolist() == np.bincount(labels[b]).tolist()


def test_idx_files_round_trip(tmp_path: Path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    assert np.array_equal(data.read_idx(write_idx(tmp_path / "x.gz", images)), images)
    labels = np.array([7, 3], np.uint8)
    assert np.array_equal(data.read_idx(write_idx(tmp_path / "y.gz", labels)), labels)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello world", "not an IDX file"),
        (bytes([0, 0, 0x0D, 1]) + (3).to_bytes(4, "big") + b"\x00" * 12, "not an IDX file of unsigned bytes"),
        (bytes([0, 0, 0x08, 3]) + (2).to_bytes(4, "big"), "header is cut short"),
        (bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + b"\x01\x02", "says (5,) = 5 values, but the file holds 2"),
    ],
)
def test_a_bad_idx_file_is_named(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "bad-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.read_idx(path)


def fake_mnist(folder: Path, url: str = "https://example.invalid/mnist/") -> Dataset:
    """Small IDX files in MNIST's names, and a Dataset declaring them with their MD5s (as data.MNIST does)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (5100, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(5100) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (100, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(100) % 10,
    }
    files = []
    for name, array in arrays.items():
        path = write_idx(folder / name, array)
        files.append(DataFile(name, url=url + name, md5=hashlib.md5(path.read_bytes()).hexdigest()))
    return Dataset(name="mnist", files=tuple(files), license="-", citation="-", homepage="-")


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty repository root (its datasets/ cache is where downloads land) and no other data directory."""
    monkeypatch.setenv("MLSTARTER_ROOT", str(tmp_path / "repo"))
    monkeypatch.delenv("MLSTARTER_DATA_DIR", raising=False)
    return tmp_path / "repo"


def test_mnist_is_read_from_a_data_directory_with_a_fixed_validation_split(
    tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(data, "MNIST", fake_mnist(tmp_path / "shared" / "mnist"))
    monkeypatch.setenv("MLSTARTER_DATA_DIR", str(tmp_path / "shared"))
    images = load(DataConfig(source="mnist"))
    sizes = {name: len(labels) for name, (_, labels) in images.splits.items()}
    assert sizes == {"train": 100, "val": data.MNIST_VAL, "test": 100}
    assert images.side == 28 and images.n_classes == 10
    assert np.array_equal(load(DataConfig(source="mnist")).splits["val"][1], images.splits["val"][1])


def test_mnist_is_downloaded_and_md5_checked(tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch):
    """A local web server stands in for the mirror: the files are downloaded into datasets/mnist/ and checked."""
    served = tmp_path / "mirror"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(data, "MNIST", fake_mnist(served, url))
        splits, files = data.load_mnist()
        assert all(path.parent == data_root / "datasets" / "mnist" for path in files.values())
        assert len(splits["test"][1]) == 100
        # a file that changed on the mirror is refused: its MD5 no longer matches
        (data_root / "datasets" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
        write_idx(served / "t10k-labels-idx1-ubyte.gz", np.arange(100) % 9)
        with pytest.raises(datasets.DatasetNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
            data.load_mnist()
    finally:
        server.shutdown()
        server.server_close()


def test_a_wrong_mnist_file_in_a_data_directory_is_refused(tmp_path: Path, data_root: Path, monkeypatch):
    fake_mnist(tmp_path / "shared" / "mnist")  # IDX files, but not the real MNIST: their MD5s differ
    monkeypatch.setenv("MLSTARTER_DATA_DIR", str(tmp_path / "shared"))
    with pytest.raises(datasets.ChecksumError, match="train-images-idx3-ubyte.gz has md5"):
        data.load_mnist(download=False)


def test_without_mnist_and_offline_the_error_says_where_to_put_it(data_root: Path):
    with pytest.raises(datasets.DatasetNotFoundError, match="datasets/mnist/train-images-idx3-ubyte.gz"):
        data.load_mnist(download=False)


def test_the_real_mnist_files():
    if not all(datasets.status(data.MNIST).values()):
        pytest.skip("needs the four MNIST IDX files in a data directory: run `make train PROJECT=gan "
                    "ARGS=\"--set data.source=mnist\"` once online (or set MLSTARTER_DATA_DIR)")  # fmt: skip
    splits, _ = data.load_mnist(download=False)
    assert {s: len(labels) for s, (_, labels) in splits.items()} == {"train": 55000, "val": 5000, "test": 10000}


@pytest.mark.parametrize("colour", [False, True])
def test_a_good_npz_gives_three_splits(tmp_path: Path, colour: bool):
    images = load(DataConfig(path=str(write_npz(tmp_path / "x.npz", colour=colour))))
    X_train, y_train = images.splits["train"]
    assert X_train.shape == ((96, 16, 16, 3) if colour else (96, 16, 16)) and X_train.dtype == np.uint8
    assert y_train.shape == (96,) and images.n_classes == 3 and images.channels == (3 if colour else 1)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"val_labels": np.full((48, 1), -1, np.int64)}, "val_labels: value -1 at index 0 (48 bad in all)"),
        ({"test_images": np.zeros((48, 16, 16), np.float32)}, "test_images: dtype float32; expected uint8"),
        ({"train_images": np.zeros((96, 2, 16, 16), np.uint8)}, "train_images: shape (96, 2, 16, 16)"),
        ({"train_labels": np.zeros((90, 1), np.uint8)}, "train_labels: shape (90, 1); expected (96, 1)"),
        ({"train_labels": np.zeros((96, 14), np.uint8)}, "train_labels: shape (96, 14), several labels per image"),
        ({"val_images": toy_images(48, 1, side=32)[0]}, "different image shapes"),
        ({"val_labels": np.zeros((48, 1), np.float64)}, "val_labels: dtype float64; expected integer"),
        ({"test_labels": np.full((48, 1), 5, np.uint8)}, "test_labels: class 5 never appears in train_labels"),
        (
            {
                "train_labels": np.zeros((96, 1), np.uint8),
                "val_labels": np.zeros((48, 1), np.uint8),
                "test_labels": np.zeros((48, 1), np.uint8),
            },
            "train_labels: only one class",
        ),  # fmt: skip
        ({"train_images": np.zeros((96, 16, 20), np.uint8)}, "expected square images"),
        ({"train_images": np.zeros((96, 4, 4), np.uint8)}, "a side the networks can build by doubling (8, 10, 12"),
        ({"train_images": np.zeros((96, 9, 9), np.uint8)}, "a side the networks can build by doubling"),
        ({"train_images": np.full((96, 16, 16), 7, np.uint8)}, "every pixel has the same value"),
        ({"val_images": toy_images(4, 1)[0], "val_labels": toy_images(4, 1)[1]}, "val_images: 4 images; at least 10"),
    ],
)
def test_a_bad_npz_names_the_array_and_the_problem(tmp_path: Path, override: dict, message: str):
    path = write_npz(tmp_path / "bad.npz", **override)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        data.read_npz(path)
    assert str(error.value).count(str(path)) == 1 and "Save plain uint8" not in str(
        error.value
    )  # said once, no stray advice


def test_missing_arrays_files_and_pickles_are_refused(tmp_path: Path):
    np.savez(tmp_path / "x.npz", train_images=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(DataError, match="missing arrays train_labels, val_images"):
        data.read_npz(tmp_path / "x.npz")
    (tmp_path / "junk.npz").write_bytes(b"definitely not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        data.read_npz(tmp_path / "junk.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DataError, match="a single .npy array"):
        data.read_npz(tmp_path / "one.npy")
    objects = {f"{s}_{k}": np.array([{"a": 1}], dtype=object) for s in data.SPLITS for k in ("images", "labels")}
    np.savez(tmp_path / "p.npz", **objects)
    with pytest.raises(DataError, match="Save plain uint8 images"):  # object arrays would need pickle: never
        data.read_npz(tmp_path / "p.npz")
    with pytest.raises(DataError, match="no such file"):
        load(DataConfig(path=str(tmp_path / "absent.npz")))


def test_the_real_xray_sample(sample_npz: Path):
    images = load(DataConfig(path=str(sample_npz)))
    assert {s: len(labels) for s, (_, labels) in images.splits.items()} == {"train": 2428, "val": 270, "test": 468}
    assert images.side == 28 and images.n_classes == 2 and images.channels == 1
