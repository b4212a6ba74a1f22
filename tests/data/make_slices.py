"""Regenerate the small real-data slices in this folder from the full copies in `../shared/data`.

    python tests/data/make_slices.py [--source ../shared/data]

- `mnist/`: the four IDX `.gz` files in their original format (magic numbers, big-endian headers) holding the
  first `MNIST_TRAIN` training and first `MNIST_TEST` test images and labels, unchanged pixel for pixel.
- `uci-har/UCI HAR Dataset.zip`: the original layout (`UCI HAR Dataset/...`) holding the first `HAR_TRAIN`
  training and first `HAR_TEST` test windows (lines copied byte for byte) of all nine inertial signals of the
  subset zip, its y files, and the original README.txt, activity_labels.txt and features.txt.
- `uci-har/UCI HAR Dataset - labels and metadata only.zip`: copied unchanged (8 KB of original files, with
  the subject ids and the full label files).
- `originals/t10k-labels-idx1-ubyte.gz`: the canonical file, copied unchanged (its sha256 is the one the
  downloader checks).
- `hapt/HAPT slice.zip`: HAPT's original layout (`HAPT Data Set/activity_labels.txt`, `RawData/...`) holding
  samples `HAPT_SPAN` (lines copied byte for byte) of the acc and gyro files of `HAPT_EXPERIMENTS`: three
  training people and one UCI-HAR test person, each span holding all six activities, transitions and
  unlabelled time; `labels.txt` keeps those experiments' rows, renumbered to the span (rows reaching past its
  edges are clipped to it).

The output is deterministic: gzip with mtime 0, zip entries dated 1980-01-01.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import struct
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[1].parent / "shared" / "data"  # <repo>/../shared/data

MNIST_TRAIN, MNIST_TEST = 600, 200
HAR_TRAIN, HAR_TEST = 64, 60  # the first 64 / 60 windows already hold all six activities
ROOT = "UCI HAR Dataset/"
CHANNELS = [f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz"]
STAMP = (1980, 1, 1, 0, 0, 0)
HAPT_ZIP = "HAPT Data Set - RawData, 27 users.zip"
HAPT_ROOT = "HAPT Data Set/"
HAPT_EXPERIMENTS = ((1, 1), (6, 3), (9, 5), (3, 2))  # (experiment, user): users 1, 3, 5 train; user 2 is a test person
HAPT_SPAN = (2300, 14800)  # 0-based sample lines [first, last): 250 s at 50 Hz


def slice_idx(raw: bytes, n: int) -> bytes:
    """Keep the header (with its count rewritten to n) and the first n records of an IDX file."""
    ndim = raw[3]
    dims = list(struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim]))
    record = 1
    for d in dims[1:]:
        record *= d
    header = raw[:4] + struct.pack(f">{ndim}I", n, *dims[1:])
    offset = 4 + 4 * ndim
    return header + raw[offset : offset + n * record]


def make_mnist(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, n in (
        ("train-images-idx3-ubyte.gz", MNIST_TRAIN),
        ("train-labels-idx1-ubyte.gz", MNIST_TRAIN),
        ("t10k-images-idx3-ubyte.gz", MNIST_TEST),
        ("t10k-labels-idx1-ubyte.gz", MNIST_TEST),
    ):
        raw = gzip.decompress((source / name).read_bytes())
        (out / name).write_bytes(gzip.compress(slice_idx(raw, n), compresslevel=9, mtime=0))


def _first_lines(data: bytes, n: int) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:n])


def _add(zf: zipfile.ZipFile, name: str, data: bytes | None = None) -> None:
    info = zipfile.ZipInfo(name, date_time=STAMP)
    if data is None:  # a folder entry, as in the original archive
        info.external_attr = 0o40755 << 16 | 0x10
        zf.writestr(info, b"")
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, data, compresslevel=9)


def make_har(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source / "UCI HAR Dataset - subset.zip") as src:
        def read(member: str) -> bytes:
            return src.read(ROOT + member)

        with zipfile.ZipFile(out / "UCI HAR Dataset.zip", "w") as zf:
            _add(zf, ROOT)
            for member in ("README.txt", "activity_labels.txt", "features.txt"):
                _add(zf, ROOT + member, read(member))
            for split, n in (("train", HAR_TRAIN), ("test", HAR_TEST)):
                _add(zf, f"{ROOT}{split}/")
                _add(zf, f"{ROOT}{split}/Inertial Signals/")
                for ch in CHANNELS:
                    member = f"{split}/Inertial Signals/{ch}_{split}.txt"
                    _add(zf, ROOT + member, _first_lines(read(member), n))
                _add(zf, f"{ROOT}{split}/y_{split}.txt", _first_lines(read(f"{split}/y_{split}.txt"), n))
    name = "UCI HAR Dataset - labels and metadata only.zip"
    shutil.copyfile(source / name, out / name)


def make_hapt(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    first, last = HAPT_SPAN
    with zipfile.ZipFile(source / HAPT_ZIP) as src, zipfile.ZipFile(out / "HAPT slice.zip", "w") as zf:
        _add(zf, HAPT_ROOT)
        _add(zf, HAPT_ROOT + "activity_labels.txt", src.read(HAPT_ROOT + "activity_labels.txt"))
        _add(zf, HAPT_ROOT + "RawData/")
        rows = []
        for line in src.read(HAPT_ROOT + "RawData/labels.txt").decode().splitlines():
            exp, user, act, a, b = map(int, line.split())
            if (exp, user) in HAPT_EXPERIMENTS and b > first and a <= last:  # 1-based inclusive [a, b]
                rows.append(f"{exp} {user} {act} {max(a, first + 1) - first} {min(b, last) - first}\n")
        _add(zf, HAPT_ROOT + "RawData/labels.txt", "".join(rows).encode())
        for exp, user in HAPT_EXPERIMENTS:
            for kind in ("acc", "gyro"):
                member = f"{HAPT_ROOT}RawData/{kind}_exp{exp:02d}_user{user:02d}.txt"
                lines = src.read(member).splitlines(keepends=True)
                _add(zf, member, b"".join(lines[first:last]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder with mnist/ and uci-har/")
    args = parser.parse_args()
    make_mnist(args.source / "mnist", HERE / "mnist")
    make_har(args.source / "uci-har", HERE / "uci-har")
    make_hapt(args.source / "hapt", HERE / "hapt")
    (HERE / "originals").mkdir(exist_ok=True)
    name = "t10k-labels-idx1-ubyte.gz"
    shutil.copyfile(args.source / "mnist" / name, HERE / "originals" / name)
    for path in sorted(HERE.rglob("*")):
        if path.is_file() and path.suffix in (".gz", ".zip"):
            print(f"{path.stat().st_size:>8}  {path.relative_to(HERE)}")


if __name__ == "__main__":
    main()
