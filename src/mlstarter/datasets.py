"""Datasets: declare where a dataset comes from, then find it locally or download it.

A project declares its data once:

    GERMAN_CREDIT = Dataset(
        name="german_credit",
        files=(DataFile("german.data", url="https://.../german.data", sha256="b21f..."),),
        license="CC BY 4.0", citation="Hofmann, H. (1994) ...", homepage="https://...",
    )

and `fetch(GERMAN_CREDIT)` returns the local path of each file, resolved in this order:

1. `<dir>/<dataset name>/<file>` in every folder of `MLSTARTER_DATA_DIR`, then in the
   repository's `datasets/` cache, checked against the sha256;
2. a download from the canonical URL into `datasets/<dataset name>/` (pooch: progress bar,
   checksum, a corrupted download fetched again);
3. otherwise a `DatasetNotFoundError` that names every place tried and how to put the
   file there by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pooch

from . import paths


@dataclass(frozen=True)
class DataFile:
    name: str  # the file's name on disk
    url: str  # canonical download address
    sha256: str  # checksum of the canonical file


@dataclass(frozen=True)
class Dataset:
    name: str  # folder name under each data directory
    files: tuple[DataFile, ...]
    license: str
    citation: str
    homepage: str
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


class DatasetNotFoundError(FileNotFoundError):
    """No valid copy of a dataset file could be found or downloaded."""


class ChecksumError(ValueError):
    """A file in a data directory is not the file the dataset declares."""


class DataError(ValueError):
    """A data file that does not match the format a project expects; the message names row and column."""


def sha256sum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(dataset: Dataset, *, download: bool = True, retries: int = 2) -> dict[str, Path]:
    """Local paths of every file of `dataset`, downloading what is missing."""
    return {f.name: fetch_file(dataset, f, download=download, retries=retries) for f in dataset.files}


def fetch_file(dataset: Dataset, file: DataFile, *, download: bool = True, retries: int = 2) -> Path:
    """One file of a dataset: found in a data directory, or downloaded, or a clear error."""
    tried = []
    cache = paths.cache_dir()
    for folder in paths.data_dirs():
        path = folder / dataset.name / file.name
        if not path.is_file():
            tried.append(f"{path} (not there)")
            continue
        actual = sha256sum(path)
        if actual == file.sha256:
            return path
        if folder != cache:
            raise ChecksumError(
                f"{path} has sha256 {actual}, but {dataset.name}/{file.name} should have {file.sha256}.\n"
                f"The file is corrupted or a different version. Replace it with the file from {file.url}, "
                f"or remove it so that the download is tried."
            )
        tried.append(f"{path} (checksum mismatch: {actual[:12]}…; downloading it again)")

    if download:
        try:
            return _download(dataset, file, cache / dataset.name, retries)
        except Exception as error:  # network down, server error, checksum of the download wrong
            tried.append(f"{file.url} (download failed: {_describe(error)})")
    else:
        tried.append(f"{file.url} (download not attempted)")

    places = "\n".join(f"  - {t}" for t in tried)
    raise DatasetNotFoundError(
        f"Could not find {dataset.name}/{file.name}. Tried:\n{places}\n"
        f"To fix it, download {file.url} (sha256 {file.sha256}) by hand and save it as "
        f"{cache / dataset.name / file.name}, or set MLSTARTER_DATA_DIR to a folder that holds "
        f"{dataset.name}/{file.name}."
    )


def status(dataset: Dataset) -> dict[str, str | None]:
    """For each file, where a valid copy already lies (or None), without downloading."""
    found: dict[str, str | None] = {}
    for file in dataset.files:
        found[file.name] = None
        for folder in paths.data_dirs():
            path = folder / dataset.name / file.name
            if path.is_file() and sha256sum(path) == file.sha256:
                found[file.name] = str(path)
                break
    return found


def checksums(files: dict[str, Path]) -> dict[str, str]:
    """sha256 of each file actually used, for a run's environment.json."""
    return {name: sha256sum(path) for name, path in files.items()}


def _download(dataset: Dataset, file: DataFile, folder: Path, retries: int) -> Path:
    # pooch checks the sha256 of what it downloads and of a copy already in `folder`;
    # a mismatch is downloaded again, up to `retries` more times, then raises.
    fetcher = pooch.create(
        path=folder,
        base_url="",
        registry={file.name: f"sha256:{file.sha256}"},
        urls={file.name: file.url},
        retry_if_failed=retries,
    )
    return Path(fetcher.fetch(file.name, progressbar=True))  # pooch logs each attempt to stderr


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
