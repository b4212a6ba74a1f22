"""Loaders on the committed real-data slices (tests/data), and on damaged copies of them made in tmp_path."""

from __future__ import annotations

import contextlib
import gzip
import shutil
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from ssvae_train.data import load_dataset
from ssvae_train.data.mnist import FILES, load_mnist, read_idx
from ssvae_train.data.uci_har import CHANNELS, load_uci_har
from ssvae_train.errors import UserError

ROOT = "UCI HAR Dataset/"
CLASSES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]


@contextlib.contextmanager
def raises_user_error(match: str) -> Iterator[pytest.ExceptionInfo[UserError]]:
    """`pytest.raises(UserError)` that also insists on the one-line message the CLIs print."""
    with pytest.raises(UserError, match=match) as info:
        yield info
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------------------- MNIST


def _copy_mnist(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rewrite(path: Path, edit: Callable[[bytes], bytes]) -> None:
    """Decompress an IDX .gz, edit the raw bytes, compress it back."""
    path.write_bytes(gzip.compress(edit(gzip.decompress(path.read_bytes())), mtime=0))


def test_mnist_slice_loads_in_raw_units(mnist_slice_dir):
    ds = load_mnist(mnist_slice_dir)
    assert ds.x_train.shape == (600, 28, 28) and ds.x_test.shape == (200, 28, 28)
    assert ds.y_train.shape == (600,) and ds.y_test.shape == (200,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0 and ds.x_train.max() == 255 and ds.x_test.max() == 255
    assert np.array_equal(ds.x_train, np.round(ds.x_train))  # whole pixel values, no scaling
    assert set(ds.y_train.tolist()) == set(range(10)) and set(ds.y_test.tolist()) <= set(range(10))
    # the famous first labels of each split
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert ds.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert ds.classes == [str(i) for i in range(10)] and ds.n_classes == 10
    assert ds.kind == "image" and ds.max_value == 255.0 and ds.sample_shape == (28, 28)


def test_load_dataset_reads_mnist_by_name(mnist_slice_dir):
    ds = load_dataset("mnist", mnist_slice_dir)
    assert ds.name == "mnist" and len(ds.x_train) == 600


def test_read_idx_reads_uncompressed_files_too(mnist_slice_dir, tmp_path):
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress((mnist_slice_dir / FILES["test_labels"]).read_bytes()))
    labels = read_idx(raw, 2049)
    assert labels.shape == (200,) and labels[:3].tolist() == [7, 2, 1]


def test_mnist_wrong_magic_number(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    _rewrite(d / FILES["train_labels"], lambda raw: struct.pack(">I", 2051) + raw[4:])
    with raises_user_error(r"train-labels-idx1-ubyte\.gz: IDX magic number 2051, expected 2049"):
        load_mnist(d)


def test_mnist_images_and_labels_swapped(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    images, labels = d / FILES["test_images"], d / FILES["test_labels"]
    a, b = images.read_bytes(), labels.read_bytes()
    images.write_bytes(b)
    labels.write_bytes(a)
    with raises_user_error("magic number"):
        load_mnist(d)


def test_mnist_truncated_gzip(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    path = d / FILES["train_images"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with raises_user_error(r"train-images-idx3-ubyte\.gz: not a readable gzip file"):
        load_mnist(d)


def test_mnist_not_gzip_at_all(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    (d / FILES["test_labels"]).write_bytes(b"<html>404 Not Found</html>")
    with raises_user_error(r"t10k-labels-idx1-ubyte\.gz: not a readable gzip file"):
        load_mnist(d)


def test_mnist_header_declares_more_than_payload(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    _rewrite(d / FILES["train_images"], lambda raw: raw[:4] + struct.pack(">I", 601) + raw[8:])
    with raises_user_error(r"train-images-idx3-ubyte\.gz: header declares \(601, 28, 28\)"):
        load_mnist(d)


def test_mnist_payload_cut_short(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    _rewrite(d / FILES["test_images"], lambda raw: raw[:-100])
    with raises_user_error("header declares"):
        load_mnist(d)


@pytest.mark.parametrize("keep", [4, 9, 15])
def test_mnist_header_cut_short(mnist_slice_dir, tmp_path, keep):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    _rewrite(d / FILES["train_images"], lambda raw: raw[:keep])
    with raises_user_error(r"train-images-idx3-ubyte\.gz: too short"):
        load_mnist(d)


def test_mnist_image_and_label_counts_differ(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    _rewrite(d / FILES["test_labels"], lambda raw: raw[:4] + struct.pack(">I", 199) + raw[8:-1])
    with raises_user_error("test images and labels differ in count"):
        load_mnist(d)


def test_mnist_missing_file(mnist_slice_dir, tmp_path):
    d = _copy_mnist(mnist_slice_dir, tmp_path / "m")
    (d / FILES["train_labels"]).unlink()
    with raises_user_error(r"missing MNIST file\(s\) train-labels-idx1-ubyte\.gz"):
        load_mnist(d)


# ---------------------------------------------------------------------------------------------- UCI-HAR


def _rezip(src: Path, dst: Path, edit: Callable[[str, bytes], bytes | None] | None = None,
           add: dict[str, bytes] | None = None, first: dict[str, bytes] | None = None) -> Path:
    """Copy a zip member by member; `edit` may change (or drop, by returning None) a member's bytes,
    `first` members are written before the copied ones and `add` members after them."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in (first or {}).items():
            zout.writestr(name, data)
        for name in zin.namelist():
            data = zin.read(name)
            if edit is not None:
                data = edit(name, data)
            if data is not None:
                zout.writestr(name, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _first_lines(data: bytes, n: int) -> bytes:
    return b"".join(data.splitlines(keepends=True)[:n])


def test_har_slice_loads(har_slice_zip):
    ds = load_uci_har(har_slice_zip)
    assert ds.x_train.shape == (64, 128, 9) and ds.x_test.shape == (60, 128, 9)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert set(ds.y_train.tolist()) == set(range(6)) and set(ds.y_test.tolist()) == set(range(6))
    assert ds.classes == CLASSES and ds.n_classes == 6
    assert ds.channels == CHANNELS and ds.kind == "sensor"
    assert ds.sample_rate_hz == 50 and ds.window == 128 and ds.hop == 64 and ds.sample_shape == (128, 9)
    assert ds.subjects_train is None and ds.subjects_test is None  # the subset has no subject files
    with zipfile.ZipFile(har_slice_zip) as zf:
        first_row = zf.read(ROOT + "train/Inertial Signals/total_acc_y_train.txt").splitlines()[0]
        first_label = zf.read(ROOT + "test/y_test.txt").split()[0]
    assert np.allclose(ds.x_train[0, :, CHANNELS.index("total_acc_y")], np.array(first_row.split(), float))
    assert ds.y_test[0] == int(first_label) - 1


def test_har_slice_is_in_raw_units(har_slice_zip):
    """Accelerations in g: total acceleration carries gravity (|a| near 1 g), body acceleration does not."""
    ds = load_uci_har(har_slice_zip)
    x = np.concatenate([ds.x_train, ds.x_test])
    total = x[..., [CHANNELS.index(f"total_acc_{a}") for a in "xyz"]]
    body = x[..., [CHANNELS.index(f"body_acc_{a}") for a in "xyz"]]
    assert 0.9 < np.linalg.norm(total, axis=-1).mean() < 1.1
    assert np.abs(body.mean(axis=(0, 1))).max() < 0.05


def test_har_loads_the_same_from_zip_folder_and_folder_holding_the_zip(har_slice_zip, tmp_path):
    from_zip = load_uci_har(har_slice_zip)
    with zipfile.ZipFile(har_slice_zip) as zf:
        zf.extractall(tmp_path / "extracted")
    holder = tmp_path / "holder"
    holder.mkdir()
    shutil.copy(har_slice_zip, holder)
    for path in (tmp_path / "extracted" / "UCI HAR Dataset", tmp_path / "extracted", holder):
        other = load_uci_har(path)
        for field in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(getattr(other, field), getattr(from_zip, field)), (path, field)
        assert other.classes == from_zip.classes


def test_load_dataset_reads_uci_har_by_name(har_slice_zip):
    ds = load_dataset("uci-har", har_slice_zip.parent)
    assert ds.name == "uci-har" and ds.x_test.shape == (60, 128, 9)


def test_har_subject_ids_load_when_present(har_slice_zip, har_labels_zip, tmp_path):
    """The subset has no subject files, so add the first rows of the REAL subject files (SOURCES.md 2a).
    They are not the subset's own subjects (its original rows are unknown): this checks reading and
    alignment only."""
    with zipfile.ZipFile(har_labels_zip) as zf:
        sub_train = _first_lines(zf.read(ROOT + "train/subject_train.txt"), 64)
        sub_test = _first_lines(zf.read(ROOT + "test/subject_test.txt"), 60)
    z = _rezip(har_slice_zip, tmp_path / "with-subjects.zip", add={
        ROOT + "train/subject_train.txt": sub_train, ROOT + "test/subject_test.txt": sub_test,
    })
    ds = load_uci_har(z)
    assert ds.subjects_train.dtype == np.int64 and ds.subjects_train.shape == (64,)
    assert ds.subjects_test.shape == (60,)
    assert ds.subjects_train.tolist() == [int(v) for v in sub_train.split()]
    assert ds.subjects_test.tolist() == [int(v) for v in sub_test.split()]
    assert set(ds.subjects_train.tolist()) <= set(range(1, 31))


def test_har_subject_ids_that_do_not_align_are_dropped(har_slice_zip, har_labels_zip, tmp_path):
    with zipfile.ZipFile(har_labels_zip) as zf:
        full = zf.read(ROOT + "test/subject_test.txt")  # 2947 rows for 60 windows
    ds = load_uci_har(_rezip(har_slice_zip, tmp_path / "z.zip", add={ROOT + "test/subject_test.txt": full}))
    assert ds.subjects_test is None and ds.x_test.shape == (60, 128, 9)


def test_har_windows_line_ends(har_slice_zip, tmp_path):
    """Files re-saved on Windows (CR LF) load the same, class names without a stray CR."""
    z = _rezip(har_slice_zip, tmp_path / "crlf.zip",
               edit=lambda name, data: data.replace(b"\n", b"\r\n") if name.endswith(".txt") else data)
    crlf, plain = load_uci_har(z), load_uci_har(har_slice_zip)
    assert crlf.classes == CLASSES
    assert np.array_equal(crlf.x_train, plain.x_train) and np.array_equal(crlf.y_test, plain.y_test)


def test_har_zip_made_on_a_mac(har_slice_zip, tmp_path):
    """macOS' archiver adds `__MACOSX/.../._name` resource entries; they must not be taken for the data."""
    junk = {
        "__MACOSX/": b"",
        f"__MACOSX/{ROOT}": b"",
        f"__MACOSX/{ROOT}._activity_labels.txt": b"\x00\x05\x16\x07 resource fork",
    }
    z = _rezip(har_slice_zip, tmp_path / "mac.zip", first=junk)
    ds = load_uci_har(z)
    assert ds.classes == CLASSES and ds.x_train.shape == (64, 128, 9)


def test_har_zip_that_is_not_uci_har(mnist_slice_dir, tmp_path):
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(mnist_slice_dir / FILES["test_labels"], FILES["test_labels"])
    with raises_user_error("not a UCI-HAR archive"):
        load_uci_har(z)
    with raises_user_error("no UCI-HAR data found"):
        load_uci_har(tmp_path)  # a folder holding only that zip


def test_har_file_that_is_not_a_zip(tmp_path):
    f = tmp_path / "UCI HAR Dataset.zip"
    f.write_bytes(b"<html>not found</html>")
    with raises_user_error("not a zip file"):
        load_uci_har(f)


def test_har_empty_folder(tmp_path):
    with raises_user_error("no UCI-HAR data found"):
        load_uci_har(tmp_path)


def test_har_signal_file_with_the_wrong_count(har_slice_zip, tmp_path):
    member = ROOT + "test/Inertial Signals/body_gyro_z_test.txt"
    z = _rezip(har_slice_zip, tmp_path / "short.zip",
               edit=lambda name, data: _first_lines(data, 59) if name == member else data)
    with raises_user_error(r"body_gyro_z_test\.txt has 7552 values, expected 60 x 128"):
        load_uci_har(z)


def test_har_missing_signal_file(har_slice_zip, tmp_path):
    member = ROOT + "train/Inertial Signals/total_acc_z_train.txt"
    z = _rezip(har_slice_zip, tmp_path / "missing.zip",
               edit=lambda name, data: None if name == member else data)
    with raises_user_error(r"train/Inertial Signals/total_acc_z_train\.txt is missing"):
        load_uci_har(z)


def test_har_value_that_is_not_a_number(har_slice_zip, tmp_path):
    member = ROOT + "train/Inertial Signals/body_acc_x_train.txt"
    z = _rezip(har_slice_zip, tmp_path / "nan.zip",
               edit=lambda name, data: data.replace(b" ", b" abc ", 1) if name == member else data)
    with raises_user_error("not a number"):
        load_uci_har(z)


def test_har_label_outside_1_to_6(har_slice_zip, tmp_path):
    member = ROOT + "test/y_test.txt"
    z = _rezip(har_slice_zip, tmp_path / "y7.zip",
               edit=lambda name, data: b"7" + data[1:] if name == member else data)
    with raises_user_error("test labels outside 1..6"):
        load_uci_har(z)


def test_har_empty_split(har_slice_zip, tmp_path):
    def empty_test_files(name: str, data: bytes) -> bytes:
        return b"" if name.startswith(ROOT + "test/") and name.endswith(".txt") else data

    z = _rezip(har_slice_zip, tmp_path / "empty.zip", edit=empty_test_files)
    with raises_user_error("the test split holds no windows"):
        load_uci_har(z)


# ---------------------------------------------------------------------------------------------- digits, names


def test_digits_loader():
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1437, 8, 8) and ds.x_test.shape == (360, 8, 8)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0 and ds.x_train.max() == 16 and ds.max_value == 16.0
    assert set(ds.y_test.tolist()) == set(range(10)) and ds.n_classes == 10
    again = load_dataset("digits")
    assert np.array_equal(again.x_test, ds.x_test)  # the split is fixed


def test_load_dataset_unknown_name():
    with raises_user_error("unknown dataset 'cifar'"):
        load_dataset("cifar", ".")


@pytest.mark.parametrize("name", ["mnist", "uci-har"])
def test_load_dataset_needs_a_data_dir(name):
    with raises_user_error("--data-dir is required"):
        load_dataset(name)


@pytest.mark.parametrize("name", ["mnist", "uci-har"])
def test_load_dataset_missing_data_dir(name, tmp_path):
    with raises_user_error("does not exist"):
        load_dataset(name, tmp_path / "nowhere")
