"""Fetch MNIST and UCI-HAR from where their authors (or well-kept mirrors) publish them.

Every file is checked against the checksums recorded in `shared/data/SOURCES.md` before it takes its
final name: it is streamed to a temporary file beside the target and renamed only once it verifies, so an
interrupted or corrupt download never leaves a half-written file behind. Files already present with the
right checksum are not fetched again. Only the standard library is used (urllib).

- `mnist`: the four canonical IDX `.gz` files, tried mirror by mirror (`MNIST_MIRRORS`), checked by sha256.
- `uci-har`: the UCI repository's zip, which nests `UCI HAR Dataset.zip`; that inner zip is saved as
  `<to>/UCI HAR Dataset.zip` (the layout `load_uci_har` reads) once its members verify: the inertial
  signals and X files by their git blob ids, the labels and metadata by sha256.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import typer

from ssvae_edge.contract import file_sha256
from ssvae_train.errors import UserError
from ssvae_train.files import user_mode

DOWNLOADABLE = ("mnist", "uci-har")
TIMEOUT_S = 60.0
CHUNK = 1 << 16
USER_AGENT = "ssvae-download/0.1 (python urllib)"

# Tried in order; each serves the four files under the same names. With `base_url` only that is used.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror (torchvision's first choice)
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # the CVDF mirror TensorFlow's tutorials used
    "http://yann.lecun.com/exdb/mnist/",  # the original home, often refusing automated downloads
)
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

HAR_URL = "https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip"
HAR_ZIP = "UCI HAR Dataset.zip"
HAR_ROOT = "UCI HAR Dataset/"
# Members under `UCI HAR Dataset/`, checked by git blob id: sha1(b"blob <size>\0" + data), `git hash-object`.
HAR_GIT_BLOB = {
    "train/Inertial Signals/body_acc_x_train.txt": "d7ff0d4ad07a340e4393eafe56d11e288e66d130",
    "train/Inertial Signals/body_acc_y_train.txt": "e65ebe65201cbdabcab402bc48e68fd2ca14dc42",
    "train/Inertial Signals/body_acc_z_train.txt": "f563e7cc41f8055f28ef280858a5abc796aaf1ca",
    "train/Inertial Signals/body_gyro_x_train.txt": "3370ae82b8f9f731178db1f19b96fb37f6807e33",
    "train/Inertial Signals/body_gyro_y_train.txt": "7bfd0c692e28f5b6ad50d600b7b6115ba3ae46cc",
    "train/Inertial Signals/body_gyro_z_train.txt": "47b249fdc5cf56d8d9af1e4de9f3a862171aaccb",
    "train/Inertial Signals/total_acc_x_train.txt": "065f256a01e80c186c537bf3d8914561d3ef2d2f",
    "train/Inertial Signals/total_acc_y_train.txt": "296d4bea280d5aee99aba37154baa108dbf46a42",
    "train/Inertial Signals/total_acc_z_train.txt": "0b4478a83d2143908372a3d26c303dfd0542c07e",
    "test/Inertial Signals/body_acc_x_test.txt": "7bab0da74959c441017a5fe0589e21f2f11fa871",
    "test/Inertial Signals/body_acc_y_test.txt": "c8be4e8dceb829cbb3736a84b1a7acd848951e68",
    "test/Inertial Signals/body_acc_z_test.txt": "7b8d432a7bbb6de641b31cc6c0e60bb3eb1e52f6",
    "test/Inertial Signals/body_gyro_x_test.txt": "12b9cbeb0ad6e513eddedacc8a9de7cb3a499de7",
    "test/Inertial Signals/body_gyro_y_test.txt": "6bb5b55af6eeb5539da977a19cc0aface531a9e6",
    "test/Inertial Signals/body_gyro_z_test.txt": "2f5db159780941c54f69552f69c7049b01eb1f56",
    "test/Inertial Signals/total_acc_x_test.txt": "b9be6f1e8b3eb0fe3e4c787f4b1fda5b6ed08353",
    "test/Inertial Signals/total_acc_y_test.txt": "0e0cf5409b67e5dc61f8dd9d0ac52ae3b9f15b5e",
    "test/Inertial Signals/total_acc_z_test.txt": "7712b8a440954da188d87636c83ee10090ae5f33",
    "train/X_train.txt": "b06f3e4c7cddf435f2f2b102b4824f51ee8a6298",
    "test/X_test.txt": "f3c01cbd355e0000229bce4e38156ee338fa6b08",
}
# Members under `UCI HAR Dataset/`, checked by sha256 (the originals of SOURCES.md section 2a).
HAR_SHA256 = {
    "README.txt": "8a7182026076bd799ad53107dbadf1927a51fd8fd0124beaf122372f6a2db38c",
    "activity_labels.txt": "f6e6b292704438261f0283b2a82659ab0661447dc16520938bdf379ed1bf8de0",
    "features.txt": "b384889885b1c8680ecf250e0e605b4c79536cdf09ce9f2fa7225a3c6773b5c7",
    "features_info.txt": "5d7e7d1f204dcfba846043029ef7a15a07c2b3711ee0a122da031f5971b3b585",
    "train/y_train.txt": "415b3357e2e2d5e70a45c781947c6bdd80e0410a579d862eedcd6bbce3c694ef",
    "train/subject_train.txt": "66e1e2fbe9b396fa5155f531dc3348c803f503be663e2318772d49947db9153a",
    "test/y_test.txt": "2a94cb53ca46b956c1b2aebd4a09a72badd8a8e9ea9cdfe9f31b3306a08666bb",
    "test/subject_test.txt": "63b8c577f4a85431c06bd87f6384608c90a9f72f05c7956dd21255dc63515c07",
}


class _FetchError(Exception):
    """One source failed (network, HTTP status, short read); the caller decides whether to try another."""


def download(name: str, to: Path, base_url: str | None = None, progress: bool = True) -> list[Path]:
    """Download data set `name` (`mnist` or `uci-har`) into folder `to`; return the verified files.

    `base_url` replaces the upstream locations with one folder URL holding the same file names
    (`<base_url>/train-images-idx3-ubyte.gz`, `<base_url>/human+activity+recognition+using+smartphones.zip`),
    e.g. a local mirror. Raises `UserError` (one line) on a network failure or a checksum mismatch.
    """
    to = Path(to)
    if name not in DOWNLOADABLE:
        choices = ", ".join(DOWNLOADABLE)
        raise UserError(f"cannot download {name!r}: choose one of {choices} (digits ships with scikit-learn)")
    if to.exists() and not to.is_dir():
        raise UserError(f"{to} exists and is not a folder")
    try:
        to.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {to}: {e.strerror or e}") from None
    if name == "mnist":
        return _download_mnist(to, base_url, progress)
    return [_download_har(to, base_url, progress)]


# ---------------------------------------------------------------------------------------------- MNIST


def _download_mnist(to: Path, base_url: str | None, progress: bool) -> list[Path]:
    sources = [base_url] if base_url else list(MNIST_MIRRORS)
    paths = []
    for fname, expected in MNIST_SHA256.items():
        dest = to / fname
        if dest.is_file() and sha256_file(dest) == expected:
            _say(progress, f"{fname}: already present, sha256 ok")
            paths.append(dest)
            continue
        failures = []
        for source in sources:
            url = _join(source, fname)
            try:
                tmp = _fetch(url, to, fname, progress)
            except _FetchError as e:
                failures.append(f"{url}: {e}")
                continue
            got = sha256_file(tmp)
            if got != expected:
                tmp.unlink(missing_ok=True)
                failures.append(f"{url}: sha256 mismatch (got {got[:16]}..., expected {expected[:16]}...)")
                continue
            os.replace(tmp, dest)
            break
        else:
            raise UserError(f"could not download {fname}: {'; '.join(failures)}")
        paths.append(dest)
    return paths


# ---------------------------------------------------------------------------------------------- UCI-HAR


def _download_har(to: Path, base_url: str | None, progress: bool) -> Path:
    dest = to / HAR_ZIP
    if dest.is_file():
        try:
            verify_har_zip(dest)
            _say(progress, f"{HAR_ZIP}: already present, checksums ok")
            return dest
        except UserError as e:
            _say(progress, f"{HAR_ZIP}: present but {e}; downloading it again")
    url = _join(base_url, HAR_URL.rsplit("/", 1)[1]) if base_url else HAR_URL
    try:
        outer = _fetch(url, to, "UCI-HAR", progress)
    except _FetchError as e:
        raise UserError(f"could not download UCI-HAR from {url}: {e}") from None
    inner = outer
    try:
        inner = _extract_inner(outer, to, url)
        verify_har_zip(inner, shown_name=HAR_ZIP)
        os.replace(inner, dest)
    finally:  # whatever happened, no temporary file stays behind (after a rename these are gone already)
        outer.unlink(missing_ok=True)
        inner.unlink(missing_ok=True)
    return dest


def _extract_inner(outer: Path, to: Path, url: str) -> Path:
    """The UCI download nests `UCI HAR Dataset.zip`; copy it out to a temp file (or take `outer` as is
    when it already is the data set's own zip)."""
    try:
        with zipfile.ZipFile(outer) as zf:
            names = zf.namelist()
            nested = [n for n in names if n.rsplit("/", 1)[-1] == HAR_ZIP and not n.startswith("__MACOSX/")]
            if not nested:
                if HAR_ROOT + "activity_labels.txt" in names:
                    return outer
                raise UserError(f"{url}: the archive holds no '{HAR_ZIP}' (is this the UCI-HAR download?)")
            fd, tmp_name = tempfile.mkstemp(dir=to, prefix=f".{HAR_ZIP}.", suffix=".part")
            os.chmod(tmp_name, user_mode())  # mkstemp's 0600 would stay on the renamed data file
            tmp = Path(tmp_name)
            try:
                with os.fdopen(fd, "wb") as out, zf.open(nested[0]) as src:
                    shutil.copyfileobj(src, out, CHUNK)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            return tmp
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise UserError(f"{url}: the download is not a readable zip archive ({e})") from None
    except OSError as e:
        raise UserError(f"cannot extract {HAR_ZIP} into {to}: {e.strerror or e}") from None


def verify_har_zip(path: Path, shown_name: str | None = None) -> None:
    """Check every member listed in `HAR_GIT_BLOB` and `HAR_SHA256`; raise `UserError` naming the first
    one that is missing or differs."""
    shown = shown_name or Path(path).name
    expected = {m: ("git blob id", h) for m, h in HAR_GIT_BLOB.items()}
    expected.update({m: ("sha256", h) for m, h in HAR_SHA256.items()})
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            for member, (kind, want) in expected.items():
                info = infos.get(HAR_ROOT + member)
                if info is None:
                    raise UserError(f"{shown}: {HAR_ROOT}{member} is missing")
                h = hashlib.sha1(b"blob %d\0" % info.file_size) if kind == "git blob id" else hashlib.sha256()
                with zf.open(info) as f:
                    while block := f.read(1 << 20):
                        h.update(block)
                if h.hexdigest() != want:
                    raise UserError(
                        f"{shown}: {HAR_ROOT}{member} fails its {kind} check "
                        f"(got {h.hexdigest()[:16]}..., expected {want[:16]}...)"
                    )
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise UserError(f"{shown}: not a readable zip archive ({e})") from None
    except OSError as e:
        raise UserError(f"{shown}: cannot read ({e.strerror or e})") from None


# ---------------------------------------------------------------------------------------------- helpers


sha256_file = file_sha256  # the project's one file hash (ssvae_edge/contract.py)


def git_blob_id(data: bytes) -> str:
    """What `git hash-object` prints for a file holding `data`."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def _say(progress: bool, message: str) -> None:
    if progress:
        typer.echo(message, err=True)


def _fetch(url: str, folder: Path, label: str, progress: bool) -> Path:
    """Stream `url` into a new temp file in `folder` and return its path; nothing is left on failure."""
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{label}.", suffix=".part")
    os.chmod(tmp_name, user_mode())  # mkstemp's 0600 would stay on the renamed data file
    tmp = Path(tmp_name)
    done = False
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            received = 0
            if progress and total:
                bar = typer.progressbar(length=total, label=f"{label}", file=sys.stderr)
            else:
                _say(progress, f"{label}: downloading from {url}")
                bar = None
            with bar if bar is not None else _NoBar() as b:
                while block := resp.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    b.update(len(block))
            if total is not None and received != total:
                raise _FetchError(f"connection closed after {received} of {total} bytes")
        done = True
        return tmp
    except urllib.error.HTTPError as e:
        raise _FetchError(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _FetchError(f"{e.reason}") from None
    except TimeoutError:
        raise _FetchError(f"no answer within {TIMEOUT_S:g} s") from None
    except (http.client.HTTPException, OSError) as e:
        raise _FetchError(f"{type(e).__name__}: {e}") from None
    finally:
        if not done:
            tmp.unlink(missing_ok=True)


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        pass
