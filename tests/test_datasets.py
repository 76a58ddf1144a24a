"""The download path, for real, against an HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlstarter import datasets
from mlstarter.datasets import ChecksumError, DataFile, Dataset, DatasetNotFoundError

GOOD = b"1 2 3\n4 5 6\n" * 100
SHA = hashlib.sha256(GOOD).hexdigest()


class Server:
    """Serves `responses[path]` in turn (the last one repeats); counts requests."""

    def __init__(self) -> None:
        self.responses: dict[str, list[bytes]] = {}
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests += 1
                queue = server.responses.get(self.path)
                if not queue:
                    self.send_error(404)
                    return
                body = queue.pop(0) if len(queue) > 1 else queue[0]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def make_dataset(url: str) -> Dataset:
    return Dataset(
        name="toy",
        files=(DataFile("toy.txt", url=f"{url}/toy.txt", sha256=SHA),),
        license="CC0",
        citation="Toy (2026)",
        homepage=url,
    )


def test_downloads_into_the_cache_and_then_works_offline(tmp_root: Path, server: Server):
    server.responses["/toy.txt"] = [GOOD]
    dataset = make_dataset(server.url)
    path = datasets.fetch(dataset)["toy.txt"]
    assert path == tmp_root / "datasets" / "toy" / "toy.txt"
    assert path.read_bytes() == GOOD
    server.stop()  # offline from now on: the cached copy is enough
    assert datasets.fetch(dataset)["toy.txt"] == path
    assert datasets.status(dataset) == {"toy.txt": str(path)}


def test_corrupted_download_is_detected_and_fetched_again(tmp_root: Path, server: Server):
    server.responses["/toy.txt"] = [GOOD[:-10] + b"corrupted!", GOOD]
    path = datasets.fetch(make_dataset(server.url), retries=1)["toy.txt"]
    assert path.read_bytes() == GOOD
    assert server.requests == 2


def test_corrupted_download_that_stays_corrupted_is_an_error_and_leaves_nothing(tmp_root: Path, server: Server):
    server.responses["/toy.txt"] = [b"not the file"]
    with pytest.raises(DatasetNotFoundError) as error:
        datasets.fetch(make_dataset(server.url), retries=0)
    message = str(error.value)
    assert "hash" in message.lower() or "sha256" in message.lower()
    assert f"{server.url}/toy.txt" in message
    assert not (tmp_root / "datasets" / "toy" / "toy.txt").exists()


def test_corrupted_cache_copy_is_replaced(tmp_root: Path, server: Server):
    cached = tmp_root / "datasets" / "toy" / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(GOOD[:100])  # a truncated earlier download
    server.responses["/toy.txt"] = [GOOD]
    assert datasets.fetch(make_dataset(server.url))["toy.txt"].read_bytes() == GOOD


def test_server_gone_names_every_place_tried_and_the_fix(
    tmp_root: Path, tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
):
    user_dir = tmp_path / "my_data"
    monkeypatch.setenv("MLSTARTER_DATA_DIR", str(user_dir))
    dataset = make_dataset(server.url)
    server.stop()
    with pytest.raises(DatasetNotFoundError) as error:
        datasets.fetch(dataset, retries=0)
    message = str(error.value)
    assert str(user_dir / "toy" / "toy.txt") in message
    assert str(tmp_root / "datasets" / "toy" / "toy.txt") in message
    assert "download failed" in message and SHA in message
    assert "download" in message.split("To fix it")[1]


def test_data_dir_is_searched_before_the_cache(tmp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    user_dir = tmp_path / "my_data"
    (user_dir / "toy").mkdir(parents=True)
    (user_dir / "toy" / "toy.txt").write_bytes(GOOD)
    monkeypatch.setenv("MLSTARTER_DATA_DIR", str(user_dir))
    assert datasets.fetch(make_dataset("http://127.0.0.1:9"), download=False)["toy.txt"] == user_dir / "toy" / "toy.txt"


def test_wrong_file_in_a_data_dir_is_never_used_silently(
    tmp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    user_dir = tmp_path / "my_data"
    (user_dir / "toy").mkdir(parents=True)
    (user_dir / "toy" / "toy.txt").write_bytes(b"another version")
    monkeypatch.setenv("MLSTARTER_DATA_DIR", str(user_dir))
    with pytest.raises(ChecksumError, match="corrupted or a different version"):
        datasets.fetch(make_dataset("http://127.0.0.1:9"), download=False)


# A dataset whose canonical source is an archive: each file is a member, checked by its own sha256.
MEMBERS = {"corpus/a.txt": b"first file\n" * 50, "corpus/b.txt": b"second file\n" * 50}


def make_archive(members: dict[str, bytes], kind: str = "tar.gz") -> bytes:
    buffer = io.BytesIO()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w") as z:
            for name, content in members.items():
                z.writestr(name, content)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, content in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def archive_dataset(url: str) -> Dataset:
    return Dataset(
        name="corpus",
        files=tuple(
            DataFile(Path(m).name, url=url, sha256=hashlib.sha256(c).hexdigest(), member=m) for m, c in MEMBERS.items()
        ),
        license="CC0",
        citation="Toy corpus (2026)",
        homepage=url,
    )


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_files_inside_an_archive_are_downloaded_once_and_checked(tmp_root: Path, server: Server, kind: str):
    server.responses[f"/corpus.{kind}"] = [make_archive(MEMBERS, kind)]
    found = datasets.fetch(archive_dataset(f"{server.url}/corpus.{kind}"))
    assert found["a.txt"].read_bytes() == MEMBERS["corpus/a.txt"]
    assert found["b.txt"] == tmp_root / "datasets" / "corpus" / "b.txt"
    assert server.requests == 1  # the second member comes from the archive already downloaded


def test_an_archive_with_a_corrupted_member_is_fetched_again(tmp_root: Path, server: Server):
    bad = make_archive({**MEMBERS, "corpus/a.txt": b"tampered"})
    server.responses["/corpus.tar.gz"] = [bad, make_archive(MEMBERS)]
    found = datasets.fetch(archive_dataset(f"{server.url}/corpus.tar.gz"), retries=1)
    assert found["a.txt"].read_bytes() == MEMBERS["corpus/a.txt"]
    assert server.requests == 2


def test_an_archive_without_the_member_is_a_clear_error(tmp_root: Path, server: Server):
    server.responses["/corpus.tar.gz"] = [make_archive({"other/x.txt": b"x"})]
    with pytest.raises(DatasetNotFoundError) as error:
        datasets.fetch(archive_dataset(f"{server.url}/corpus.tar.gz"), retries=0)
    message = str(error.value)
    assert "KeyError" in message and "take corpus/a.txt out of it" in message
    assert "Take corpus/b.txt as b.txt out of the same archive" in message
    assert not (tmp_root / "datasets" / "corpus" / "a.txt").exists()


def test_a_truncated_archive_is_deleted_and_fetched_again(tmp_root: Path, server: Server):
    good = make_archive(MEMBERS)
    server.responses["/corpus.tar.gz"] = [good[: len(good) // 2], good]
    found = datasets.fetch(archive_dataset(f"{server.url}/corpus.tar.gz"), retries=1)
    assert found["a.txt"].read_bytes() == MEMBERS["corpus/a.txt"]
    assert server.requests == 2


def test_an_md5_checksum_works_where_no_sha256_is_published(tmp_root: Path, server: Server):
    server.responses["/toy.txt"] = [GOOD[:-1] + b"!", GOOD]
    dataset = Dataset(
        name="toy",
        files=(DataFile("toy.txt", url=f"{server.url}/toy.txt", md5=hashlib.md5(GOOD).hexdigest()),),
        license="CC0",
        citation="Toy (2026)",
        homepage=server.url,
    )
    assert datasets.fetch(dataset, retries=1)["toy.txt"].read_bytes() == GOOD  # the corrupted first try is refused
    assert datasets.status(dataset)["toy.txt"] is not None


def test_a_file_without_a_checksum_is_refused():
    with pytest.raises(ValueError, match="needs a sha256"):
        DataFile("x", url="https://example.org/x")
