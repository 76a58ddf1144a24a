"""The data contract: tokenising, reading the dataset and your own CSV, splitting."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import re
import tarfile
import threading
from pathlib import Path

import pytest

from mlstarter.datasets import DataError, DatasetNotFoundError, fetch

from .. import data
from ..config import Config, DataConfig
from ..data import DATASET
from .conftest import toy_reviews, write_csv


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("I didn't like it :(", ["i", "didn't", "like", "it", ":", "("]),
        ("Great!", ["great", "!"]),
        ('the 21st century\'s new " conan "', ["the", "21st", "century's", "new", '"', "conan", '"']),
        ("Très BIEN, Amélie", ["très", "bien", ",", "amélie"]),
        ("love it 😍🎉", ["love", "it", "😍", "🎉"]),
        ("סרט מצוין", ["סרט", "מצוין"]),  # Hebrew, right to left
        ("很好看", ["很好看"]),  # no spaces in Chinese: one token (an exercise in the README)
        ("हिन्दी फ़िल्म", ["हिन्दी", "फ़िल्म"]),  # Hindi: vowel signs and viramas are combining marks
        ("cafe\u0301 İstanbul", ["café", "i̇stanbul"]),  # e + combining accent becomes é (NFC)
        ("   ", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]):
    assert data.tokenize(text) == tokens


def test_the_dataset_files_are_read_as_latin_1(tmp_path: Path):
    (tmp_path / "pos").write_bytes("a touching , na\xefve film\n\nsuperb \x85 really\n".encode("latin-1"))
    (tmp_path / "neg").write_bytes("clich\xe9d\n".encode("latin-1"))
    frame = data.read_polarity(tmp_path / "pos", tmp_path / "neg")
    assert frame[data.TEXT].tolist() == [
        "clichéd",
        "a touching , naïve film",
        "superb \x85 really",
    ]  # the empty line is skipped
    assert frame[data.LABEL].tolist() == [0, 1, 1]


def test_your_own_csv_with_words_or_numbers_as_labels(tmp_path: Path):
    rows = [(t, "positive" if y else "Negative") for t, y in toy_reviews(30)] + [("Fine, ok", 1), ("Meh", "0")]
    frame = data.read_csv(write_csv(tmp_path / "r.csv", rows))
    assert len(frame) == 32 and set(frame[data.LABEL]) == {0, 1}
    assert frame[data.TEXT].iloc[-1] == "Meh" and frame[data.LABEL].iloc[-1] == 0


def test_a_bad_csv_names_each_bad_row_and_column(tmp_path: Path):
    rows = toy_reviews(30)
    rows[3] = ("   ", 1)
    rows[7] = ("fine", "maybe")
    with pytest.raises(DataError) as error:
        data.read_csv(write_csv(tmp_path / "r.csv", rows))
    message = str(error.value)
    assert "2 invalid value(s)" in message
    assert "row 5, column text: empty" in message  # row 1 is the header
    assert "row 9, column label: 'maybe' is not one of 1, 0, positive, negative" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"review,score\ngood,1\n", "no column text or label"),
        (b"text,label\n" + b"good,1\n" * 30 + b"bad,0\n" * 3, "3 of class 0 (negative), 30 of class 1 (positive)"),
        (
            b"text,label\n" + b"good,1\n" * 30,
            "0 of class 0 (negative), 30 of class 1 (positive): every example has the same label",
        ),
        (
            b"text;label\ngood;1\n",
            "looks semicolon-separated: its header has 1 semicolon(s) and no comma. Pass --set data.separator=semicolon",
        ),  # fmt: skip
        (b"text\tlabel\ngood\t1\n", "looks tab-separated"),
        (b"text,label\n" + "caf\xe9,1\n".encode("latin-1"), "not UTF-8"),
        (b"", "not a readable CSV"),
        (b"Text,text,label\na,b,1\n", "repeat a name"),
    ],
)
def test_csv_problems_are_explained(tmp_path: Path, content: bytes, expected: str):
    (tmp_path / "r.csv").write_bytes(content)
    with pytest.raises(DataError, match=re.escape(expected)):
        data.read_csv(tmp_path / "r.csv")


def test_a_semicolon_separated_csv_reads_with_the_option(tmp_path: Path):
    (tmp_path / "r.csv").write_text("text;label\n" + "good, fine;1\n" * 10 + "bad, sad;0\n" * 10, encoding="utf-8")
    frame = data.read_csv(tmp_path / "r.csv", ";")
    assert list(frame[data.LABEL]) == [1] * 10 + [0] * 10 and frame[data.TEXT][0] == "good, fine"


def test_a_missing_file_is_named():
    with pytest.raises(DataError, match="no_such.csv: no such file"):
        data.load(Config(data=DataConfig(path="no_such.csv")))


def test_split_is_stratified_disjoint_and_repeatable(tmp_path: Path):
    frame = data.read_csv(write_csv(tmp_path / "r.csv", toy_reviews(300)))
    train, val, test = data.split(frame, DataConfig(), seed=1)
    assert len(train) + len(val) + len(test) == 300 and len(test) == 30 and len(val) in (30, 31)
    assert not set(train.index) & set(val.index) and not set(val.index) & set(test.index)
    assert not set(train.index) & set(test.index)
    assert abs(test[data.LABEL].mean() - frame[data.LABEL].mean()) < 0.05
    assert data.split(frame, DataConfig(), seed=1)[2].index.equals(test.index)


def test_load_splits_your_csv_and_names_the_file(tmp_path: Path):
    path = write_csv(tmp_path / "r.csv", toy_reviews(300))
    corpus = data.load(Config(seed=1, data=DataConfig(path=str(path))))
    assert len(corpus.sentences) == 300 and corpus.files == {"r.csv": path}
    train, val, test = data.split(corpus.sentences, DataConfig(), seed=1)
    assert list(corpus.splits) == ["train", "val", "test"]
    for name, part in zip(("train", "val", "test"), (train, val, test), strict=True):
        assert corpus.splits[name].index.equals(part.index)


def test_the_real_dataset(real_data: dict[str, Path]):
    frame = data.read_polarity(real_data["rt-polarity.pos"], real_data["rt-polarity.neg"])
    assert len(frame) == 10662 and frame[data.LABEL].sum() == 5331
    assert frame[data.TEXT].str.len().median() > 50


@pytest.fixture
def archive_server(real_data: dict[str, Path]):
    """The canonical archive's layout, built from the real files, served from 127.0.0.1."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, path in real_data.items():
            tar.add(path, arcname=f"rt-polaritydata/{name}")
    body = buffer.getvalue()
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/rt-polaritydata.tar.gz", requests
    httpd.shutdown()
    httpd.server_close()


def at(url: str):
    """The project's dataset declaration, with its download address moved to `url`."""
    return dataclasses.replace(DATASET, files=tuple(dataclasses.replace(f, url=url) for f in DATASET.files))


def test_the_declared_archive_members_and_checksums_download(
    archive_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url, requests = archive_server
    monkeypatch.setenv("MLSTARTER_ROOT", str(tmp_path))  # an empty cache
    monkeypatch.delenv("MLSTARTER_DATA_DIR", raising=False)
    files = fetch(at(url))
    assert requests == ["/rt-polaritydata.tar.gz"]  # one download for both files
    for file in DATASET.files:
        assert hashlib.sha256(files[file.name].read_bytes()).hexdigest() == file.sha256
        assert files[file.name] == tmp_path / "datasets" / "rt-polarity" / file.name


def test_offline_without_a_copy_says_where_to_put_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLSTARTER_ROOT", str(tmp_path))
    monkeypatch.delenv("MLSTARTER_DATA_DIR", raising=False)
    with pytest.raises(DatasetNotFoundError) as error:
        fetch(at("http://127.0.0.1:9/rt-polaritydata.tar.gz"), retries=0)  # port 9: nothing listens
    message = str(error.value)
    assert "take rt-polaritydata/rt-polarity.pos out of it" in message
    assert str(tmp_path / "datasets" / "rt-polarity" / "rt-polarity.pos") in message
    assert "MLSTARTER_DATA_DIR" in message


def test_shares_too_small_for_the_data_are_explained(tmp_path: Path):
    frame = data.read_csv(write_csv(tmp_path / "r.csv", toy_reviews(24)))
    with pytest.raises(DataError, match="cannot split 24 texts with data.val_size=0.1 and data.test_size=0.02"):
        data.split(frame, DataConfig(test_size=0.02), seed=0)
