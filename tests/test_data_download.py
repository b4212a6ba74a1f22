"""`download` against a local HTTP server on 127.0.0.1 serving the committed slices (never the internet),
and the real checksum tables against the real files committed under tests/data/."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ssvae_train.data import download as dl
from ssvae_train.data.mnist import FILES, load_mnist
from ssvae_train.data.uci_har import CHANNELS, load_uci_har
from ssvae_train.errors import UserError

HAR_OUTER = dl.HAR_URL.rsplit("/", 1)[1]  # human+activity+recognition+using+smartphones.zip


class Server:
    """A static file server on 127.0.0.1 that records the paths asked for. `short` maps a URL path to
    bytes that are sent with a Content-Length promising more, then the connection is closed."""

    def __init__(self, root: Path):
        self.root, self.requests, self.short = root, [], {}
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                server.requests.append(self.path)
                if self.path in server.short:
                    data = server.short[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data) + 1000))
                    self.end_headers()
                    self.wfile.write(data)
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path_factory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("served"))  # apart from tmp_path, where downloads land
    yield s
    s.close()


@contextlib.contextmanager
def raises_user_error(match: str) -> Iterator[pytest.ExceptionInfo[UserError]]:
    with pytest.raises(UserError, match=match) as info:
        yield info
    assert "\n" not in str(info.value)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def patch_mnist_table(monkeypatch, folder: Path) -> None:
    """Expect the slices' checksums instead of the full files'."""
    monkeypatch.setattr(dl, "MNIST_SHA256", {f: sha256((folder / f).read_bytes()) for f in dl.MNIST_SHA256})


def patch_har_tables(monkeypatch, har_zip: Path) -> None:
    """Expect the slice zip's members: its signals by git blob id, its labels and metadata by sha256."""
    with zipfile.ZipFile(har_zip) as zf:
        members = [n[len(dl.HAR_ROOT):] for n in zf.namelist() if not n.endswith("/")]
        blobs = {m: dl.git_blob_id(zf.read(dl.HAR_ROOT + m)) for m in members if "Inertial Signals/" in m}
        shas = {m: sha256(zf.read(dl.HAR_ROOT + m)) for m in members if "Inertial Signals/" not in m}
    monkeypatch.setattr(dl, "HAR_GIT_BLOB", blobs)
    monkeypatch.setattr(dl, "HAR_SHA256", shas)


def serve_har(server: Server, inner: bytes | None, extra: dict[str, bytes] | None = None) -> None:
    """Write the UCI download as the repository serves it: an outer zip nesting `UCI HAR Dataset.zip`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__MACOSX/._UCI HAR Dataset.zip", b"\x00\x05\x16\x07 mac resource fork")
        if inner is not None:
            zf.writestr("UCI HAR Dataset.zip", inner)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    (server.root / HAR_OUTER).write_bytes(buf.getvalue())


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------- tables


def test_mnist_table_names_the_four_files_the_loader_reads():
    assert set(dl.MNIST_SHA256) == set(FILES.values())
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in dl.MNIST_SHA256.values())


def test_har_tables_cover_every_signal_and_the_labels():
    signals = {f"{s}/Inertial Signals/{ch}_{s}.txt" for s in ("train", "test") for ch in CHANNELS}
    assert signals <= set(dl.HAR_GIT_BLOB)
    assert all(len(h) == 40 and int(h, 16) >= 0 for h in dl.HAR_GIT_BLOB.values())
    for member in ("activity_labels.txt", "features.txt", "train/y_train.txt", "test/y_test.txt",
                   "train/subject_train.txt", "test/subject_test.txt"):
        assert len(dl.HAR_SHA256[member]) == 64


def test_real_checksums_match_the_original_files(mnist_original_test_labels, har_labels_zip):
    """The committed originals (unchanged canonical files) pass the real, unpatched tables."""
    assert dl.sha256_file(mnist_original_test_labels) == dl.MNIST_SHA256["t10k-labels-idx1-ubyte.gz"]
    with zipfile.ZipFile(har_labels_zip) as zf:
        for member, expected in dl.HAR_SHA256.items():
            assert sha256(zf.read(dl.HAR_ROOT + member)) == expected, member


SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="the full MNIST copy in ../shared/data is not here")
def test_full_mnist_copy_passes_as_already_present():
    """Where the full canonical files exist (../shared/data), all four pass the real table untouched."""
    paths = dl.download("mnist", SHARED_MNIST, base_url=f"http://127.0.0.1:{closed_port()}", progress=False)
    assert [p.name for p in paths] == list(dl.MNIST_SHA256)


def test_git_blob_id_is_what_git_hash_object_prints():
    assert dl.git_blob_id(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert dl.git_blob_id(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


def test_unknown_data_set(tmp_path):
    with raises_user_error("cannot download 'digits'"):
        dl.download("digits", tmp_path)


# ---------------------------------------------------------------------------------------------- MNIST


def test_mnist_download(server, mnist_slice_dir, tmp_path, monkeypatch):
    for f in FILES.values():
        shutil.copy(mnist_slice_dir / f, server.root / f)
    patch_mnist_table(monkeypatch, mnist_slice_dir)
    to = tmp_path / "deep" / "mnist"  # created on the way
    paths = dl.download("mnist", to, base_url=server.url + "/", progress=False)
    assert [p.name for p in paths] == list(dl.MNIST_SHA256)
    assert sorted(p.name for p in to.iterdir()) == sorted(FILES.values())  # no temp file left over
    for p in paths:
        assert p.read_bytes() == (mnist_slice_dir / p.name).read_bytes()
    assert sorted(server.requests) == sorted(f"/{f}" for f in FILES.values())
    assert load_mnist(to).x_train.shape == (600, 28, 28)


def test_mnist_checksum_mismatch_leaves_nothing(server, mnist_slice_dir, tmp_path):
    """With the real table, the (sliced) files served do not match: nothing may be kept."""
    for f in FILES.values():
        shutil.copy(mnist_slice_dir / f, server.root / f)
    to = tmp_path / "mnist"
    with raises_user_error(r"could not download train-images-idx3-ubyte\.gz: .*sha256 mismatch"):
        dl.download("mnist", to, base_url=server.url, progress=False)
    assert list(to.iterdir()) == []


def test_mnist_skips_files_already_present(server, mnist_slice_dir, tmp_path, monkeypatch):
    patch_mnist_table(monkeypatch, mnist_slice_dir)
    to = shutil.copytree(mnist_slice_dir, tmp_path / "mnist")
    before = {p.name: p.stat().st_mtime_ns for p in to.iterdir()}
    paths = dl.download("mnist", to, base_url=server.url, progress=False)  # the server holds nothing
    assert server.requests == []
    assert {p.name: p.stat().st_mtime_ns for p in paths} == before


def test_mnist_replaces_a_damaged_file(server, mnist_slice_dir, tmp_path, monkeypatch):
    patch_mnist_table(monkeypatch, mnist_slice_dir)
    to = shutil.copytree(mnist_slice_dir, tmp_path / "mnist")
    (to / "t10k-labels-idx1-ubyte.gz").write_bytes(b"half a fi")
    shutil.copy(mnist_slice_dir / "t10k-labels-idx1-ubyte.gz", server.root)
    dl.download("mnist", to, base_url=server.url, progress=False)
    assert server.requests == ["/t10k-labels-idx1-ubyte.gz"]
    assert load_mnist(to).y_test.shape == (200,)


def test_mnist_404(server, tmp_path):
    to = tmp_path / "mnist"
    with raises_user_error(r"could not download train-images-idx3-ubyte\.gz: http://127\.0\.0\.1:\d+/train-images"
                           r"-idx3-ubyte\.gz: HTTP 404"):
        dl.download("mnist", to, base_url=server.url, progress=False)
    assert list(to.iterdir()) == []


def test_mnist_falls_back_to_the_next_mirror(server, mnist_slice_dir, tmp_path, monkeypatch):
    (server.root / "good").mkdir()
    for f in FILES.values():
        shutil.copy(mnist_slice_dir / f, server.root / "good" / f)
    patch_mnist_table(monkeypatch, mnist_slice_dir)
    monkeypatch.setattr(dl, "MNIST_MIRRORS", (f"{server.url}/gone/", f"{server.url}/good/"))
    dl.download("mnist", tmp_path / "mnist", progress=False)
    assert server.requests[:2] == ["/gone/train-images-idx3-ubyte.gz", "/good/train-images-idx3-ubyte.gz"]
    assert len(server.requests) == 8


def test_mnist_all_mirrors_fail(tmp_path, monkeypatch):
    port = closed_port()
    monkeypatch.setattr(dl, "MNIST_MIRRORS", (f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"))
    with raises_user_error(r"could not download train-images-idx3-ubyte\.gz: .*/a/.*; .*/b/"):
        dl.download("mnist", tmp_path / "mnist", progress=False)
    assert list((tmp_path / "mnist").iterdir()) == []


def test_connection_refused(tmp_path):
    with raises_user_error("could not download train-images-idx3-ubyte.gz: .*refused"):
        dl.download("mnist", tmp_path, base_url=f"http://127.0.0.1:{closed_port()}", progress=False)


def test_interrupted_download_leaves_nothing(server, mnist_slice_dir, tmp_path, monkeypatch):
    patch_mnist_table(monkeypatch, mnist_slice_dir)
    data = (mnist_slice_dir / "train-images-idx3-ubyte.gz").read_bytes()
    server.short["/train-images-idx3-ubyte.gz"] = data[:5000]
    with raises_user_error(r"train-images-idx3-ubyte\.gz: .*connection closed after 5000 of 6000 bytes"):
        dl.download("mnist", tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_progress_goes_to_stderr(server, mnist_slice_dir, tmp_path, monkeypatch, capsys):
    for f in FILES.values():
        shutil.copy(mnist_slice_dir / f, server.root / f)
    patch_mnist_table(monkeypatch, mnist_slice_dir)
    dl.download("mnist", tmp_path, base_url=server.url, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "train-images-idx3-ubyte.gz" in err
    dl.download("mnist", tmp_path, base_url=server.url, progress=True)
    assert "already present" in capsys.readouterr().err


def test_target_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with raises_user_error("is not a folder"):
        dl.download("mnist", tmp_path / "f", base_url="http://127.0.0.1:9", progress=False)


# ---------------------------------------------------------------------------------------------- UCI-HAR


def test_har_download_extracts_the_nested_zip(server, har_slice_zip, tmp_path, monkeypatch):
    patch_har_tables(monkeypatch, har_slice_zip)
    serve_har(server, har_slice_zip.read_bytes(), extra={"UCI HAR Dataset.names": b"dataset description"})
    to = tmp_path / "har"
    paths = dl.download("uci-har", to, base_url=server.url, progress=False)
    assert paths == [to / "UCI HAR Dataset.zip"]
    assert [p.name for p in to.iterdir()] == ["UCI HAR Dataset.zip"]  # the outer zip and temps are gone
    assert paths[0].read_bytes() == har_slice_zip.read_bytes()
    assert server.requests == [f"/{HAR_OUTER}"]
    ds = load_uci_har(to)
    assert ds.x_train.shape == (64, 128, 9) and np.array_equal(ds.y_test, load_uci_har(har_slice_zip).y_test)


def test_har_download_of_an_unnested_zip(server, har_slice_zip, tmp_path, monkeypatch):
    """A mirror that serves `UCI HAR Dataset.zip` itself under the download's name works too."""
    patch_har_tables(monkeypatch, har_slice_zip)
    shutil.copy(har_slice_zip, server.root / HAR_OUTER)
    (path,) = dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert path.read_bytes() == har_slice_zip.read_bytes() and len(list(tmp_path.iterdir())) == 1


def test_har_checksum_mismatch_leaves_nothing(server, har_slice_zip, tmp_path):
    """With the real tables, the slice's (shortened) signal files fail their git blob ids."""
    serve_har(server, har_slice_zip.read_bytes())
    member = r"UCI HAR Dataset/train/Inertial Signals/body_acc_x_train\.txt"
    with raises_user_error(rf"UCI HAR Dataset\.zip: {member} fails its git blob id check"):
        dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_har_missing_member_leaves_nothing(server, har_slice_zip, tmp_path, monkeypatch):
    patch_har_tables(monkeypatch, har_slice_zip)
    monkeypatch.setitem(dl.HAR_SHA256, "test/subject_test.txt", "0" * 64)
    serve_har(server, har_slice_zip.read_bytes())
    with raises_user_error(r"UCI HAR Dataset/test/subject_test\.txt is missing"):
        dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_har_skips_a_verified_zip(server, har_slice_zip, tmp_path, monkeypatch):
    patch_har_tables(monkeypatch, har_slice_zip)
    shutil.copy(har_slice_zip, tmp_path / "UCI HAR Dataset.zip")
    paths = dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert paths == [tmp_path / "UCI HAR Dataset.zip"]
    assert server.requests == []


def test_har_archive_without_the_data_set(server, tmp_path):
    serve_har(server, None, extra={"readme.txt": b"something else"})
    with raises_user_error("the archive holds no 'UCI HAR Dataset.zip'"):
        dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_har_download_that_is_not_a_zip(server, tmp_path):
    (server.root / HAR_OUTER).write_bytes(b"<html>maintenance</html>")
    with raises_user_error("not a readable zip archive"):
        dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_har_404(server, tmp_path):
    url = r"http://127\.0\.0\.1:\d+/human\+activity\+recognition\+using\+smartphones\.zip"
    with raises_user_error(rf"could not download UCI-HAR from {url}: HTTP 404"):
        dl.download("uci-har", tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []
