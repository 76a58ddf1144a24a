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
   checksum, a corrupted download fetched again). Where the canonical source is an archive
   (`.tar.gz`, `.zip`), the file names its `member` and the member's sha256 is checked;
3. otherwise a `DatasetNotFoundError` that names every place tried and how to put the
   file there by hand.
"""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pooch

from . import paths


@dataclass(frozen=True)
class DataFile:
    name: str  # the file's name on disk
    url: str  # canonical download address
    sha256: str = ""  # checksum of the canonical file (of the member, for a file inside an archive)
    member: str = ""  # its path inside the .tar.gz/.zip at `url`; empty when `url` is the file itself
    md5: str = ""  # only where the publisher gives no sha256 (e.g. MedMNIST); one of the two is required

    def __post_init__(self) -> None:
        if not (self.sha256 or self.md5):
            raise ValueError(f"DataFile {self.name!r} needs a sha256 (or, failing that, an md5) checksum")

    @property
    def algorithm(self) -> str:
        return "sha256" if self.sha256 else "md5"

    @property
    def checksum(self) -> str:
        return self.sha256 or self.md5


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


def digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex checksum of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256sum(path: Path) -> str:
    return digest(path, "sha256")


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
        actual = digest(path, file.algorithm)
        if actual == file.checksum:
            return path
        if folder != cache:
            raise ChecksumError(
                f"{path} has {file.algorithm} {actual}, but {dataset.name}/{file.name} should have {file.checksum}.\n"
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
    by_hand = (
        f"download {file.url}, take {file.member} out of it ({file.algorithm} {file.checksum})"
        if file.member
        else f"download {file.url} ({file.algorithm} {file.checksum}) by hand"
    )
    siblings = [f"{f.member} as {f.name}" for f in dataset.files if f.member and f.url == file.url and f != file]
    also = f" Take {', '.join(siblings)} out of the same archive, beside it." if siblings else ""
    raise DatasetNotFoundError(
        f"Could not find {dataset.name}/{file.name}. Tried:\n{places}\n"
        f"To fix it, {by_hand} and save it as {cache / dataset.name / file.name}, "
        f"or set MLSTARTER_DATA_DIR to a folder that holds {dataset.name}/{file.name}.{also}"
    )


def status(dataset: Dataset) -> dict[str, str | None]:
    """For each file, where a valid copy already lies (or None), without downloading."""
    found: dict[str, str | None] = {}
    for file in dataset.files:
        found[file.name] = None
        for folder in paths.data_dirs():
            path = folder / dataset.name / file.name
            if path.is_file() and digest(path, file.algorithm) == file.checksum:
                found[file.name] = str(path)
                break
    return found


def checksums(files: dict[str, Path]) -> dict[str, str]:
    """sha256 of each file actually used, for a run's environment.json."""
    return {name: sha256sum(path) for name, path in files.items()}


def _download(dataset: Dataset, file: DataFile, folder: Path, retries: int) -> Path:
    if file.member:
        return _download_member(file, folder, retries)
    # pooch checks the checksum of what it downloads and of a copy already in `folder`;
    # a mismatch is downloaded again, up to `retries` more times, then raises.
    fetcher = pooch.create(
        path=folder,
        base_url="",
        registry={file.name: f"{file.algorithm}:{file.checksum}"},
        urls={file.name: file.url},
        retry_if_failed=retries,
    )
    return Path(fetcher.fetch(file.name, progressbar=True))  # pooch logs each attempt to stderr


def _download_member(file: DataFile, folder: Path, retries: int) -> Path:
    """Download the archive at `file.url` (kept in `folder/.downloads` for the dataset's other
    files), extract `file.member` and check its sha256; a bad archive is deleted and fetched again."""
    archive_name = file.url.rstrip("/").split("/")[-1].split("?")[0]
    downloads = folder / ".downloads"
    error: Exception | None = None
    for _ in range(retries + 1):
        try:
            # known_hash=None: the archive has no published checksum; its member is checked below
            archive = pooch.retrieve(file.url, known_hash=None, fname=archive_name, path=downloads, progressbar=True)
        except Exception as network_error:  # connection refused, timeout, HTTP error: try again
            error = network_error
            continue
        archive = Path(archive)
        try:
            content = _read_member(archive, file.member)
            actual = hashlib.new(file.algorithm, content).hexdigest()
            if actual != file.checksum:
                raise ChecksumError(
                    f"{file.member} in {archive_name} has {file.algorithm} {actual}, expected {file.checksum}"
                )
        except (ChecksumError, KeyError, OSError, EOFError, zlib.error, tarfile.TarError, zipfile.BadZipFile) as bad:
            error = bad  # truncated, corrupted, or a different version of the archive
            archive.unlink(missing_ok=True)  # so that the next try downloads it again
            continue
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{file.name}.partial"
        partial.write_bytes(content)
        return partial.replace(folder / file.name)
    assert error is not None
    raise error


def _read_member(archive: Path, member: str) -> bytes:
    """The bytes of one member of a .tar(.gz) or .zip archive, read without extracting anything else."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            return z.read(member)  # KeyError when absent
    with tarfile.open(archive) as tar:
        extracted = tar.extractfile(member)  # KeyError when absent; None for a folder
        if extracted is None:
            raise KeyError(f"{member} is not a file in {archive.name}")
        return extracted.read()


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


MEDMNIST_SPLITS = ("train", "val", "test")
Split = tuple[np.ndarray, np.ndarray]  # (images, labels)


def read_medmnist(path: Path, check_split: Callable[[Path, str, np.ndarray, np.ndarray], Split]) -> dict[str, Split]:
    """Read a MedMNIST-layout .npz: `train_images`, `train_labels`, and the same for `val` and `test`.

    Opened without pickles (a .npz could carry code). The file's structure is checked here; each
    split's arrays go through the project's `check_split(path, split, images, labels)`, which
    returns them as the project wants them or raises DataError. Every problem names the array.
    """
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single .npy array, not a .npz archive of named arrays.")
    with archive:
        names = [f"{s}_{kind}" for s in MEDMNIST_SPLITS for kind in ("images", "labels")]
        missing = [name for name in names if name not in archive.files]
        if missing:
            raise DataError(
                f"{path}: missing arrays {', '.join(missing)}. Found {', '.join(archive.files) or 'none'}; "
                f"a MedMNIST file has {', '.join(names)}."
            )
        try:
            splits = {s: check_split(path, s, archive[f"{s}_images"], archive[f"{s}_labels"]) for s in MEDMNIST_SPLITS}
        except DataError:
            raise  # says what is wrong already (a DataError is a ValueError: it must not be caught below)
        except ValueError as error:  # numpy refuses object arrays when allow_pickle is off
            raise DataError(f"{path}: {error}. Save plain uint8 images and integer labels.") from None
    if splits["train"][0].std() == 0:
        raise DataError(f"{path}, train_images: every pixel has the same value; there is nothing to learn from")
    shapes = {s: images.shape[1:] for s, (images, _) in splits.items()}
    if len(set(shapes.values())) > 1:
        raise DataError(f"{path}: the splits have different image shapes: {shapes}")
    return splits


SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# A config names the separator, not the character: `--set data.separator=semicolon` survives a shell and
# `make ... ARGS="..."` (an unquoted ; would end the command there, | would start a pipe, a tab is hard to type)
SEPARATOR_NAMES = tuple(SEPARATORS.values())


def separator(name: str) -> str:
    """The field separator a config names: "comma", "semicolon", "tab" or "pipe" -> the character."""
    return {n: s for s, n in SEPARATORS.items()}[name]


def check_separator(path: Path, sep: str, option: str | None = "data.separator") -> None:
    """Refuse a CSV whose header is split by another separator than `sep`, naming what it looks like.

    A `;`-separated export (Excel in much of Europe) read with commas becomes one column whose name is
    the whole header: the error would be "missing columns", which does not say what to do. `option` is the
    config key that sets the separator, or a script's flag ("--separator"); None where there is none (the fix
    is then to save the file with `sep`).
    """
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        header = next((line for line in f if line.strip()), "")
    if sep in header:
        return
    found = {s: header.count(s) for s in SEPARATORS if s != sep and header.count(s)}
    if found:
        likely = max(found, key=found.__getitem__)
        shown = SEPARATORS[likely]  # its name, which a shell passes as it is
        expected = SEPARATORS.get(sep, repr(sep))
        save = f"save the file {expected}-separated"
        raise DataError(
            f"{path} looks {SEPARATORS[likely]}-separated: its header has {found[likely]} {SEPARATORS[likely]}(s) and "
            f"no {expected}. "
            + (f"Pass {passed(option, shown)} (or {save})." if option else f"{save[0].upper()}{save[1:]}.")
        )


def passed(option: str, value: str) -> str:
    """How to pass `value`: a config key (`--set data.separator=semicolon`) or a script's own flag (`--separator semicolon`)."""
    return f"{option} {value}" if option.startswith("-") else f"--set {option}={value}"


def check_class_counts(where: str, counts: dict[str, int], needed: int, why: str, fix: str) -> None:
    """Refuse, before any fitting, labels with a class missing or too rare for the splits and folds.

    `counts` maps each class, named for people ("1 (defaulted)"), to how many examples have it;
    `why` says what needs `needed` of each (e.g. "5-fold cross-validation and a 20% test split"), `fix`
    what else the user can change (e.g. "or lower the folds: --set model.cv_folds=3").
    """
    found = ", ".join(f"{n:,} of class {name}" for name, n in counts.items())
    missing = [name for name, n in counts.items() if n == 0]
    if missing:
        raise DataError(
            f"{where}: {found}: every example has the same label, so there is nothing to tell apart. A classifier "
            f"needs examples of every class ({why} need at least {needed} of each): add examples of class "
            f"{', '.join(missing)}."
        )
    rare = [name for name, n in counts.items() if n < needed]
    if rare:
        raise DataError(
            f"{where}: {found}. {why} need at least {needed} of each class, so class {', '.join(rare)} is too "
            f"rare to train and measure on. Add examples of it, {fix}."
        )
