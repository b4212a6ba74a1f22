"""MNIST from the four original IDX `.gz` files, headers parsed and checked."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ssvae_train.data.dataset import DataSet
from ssvae_train.errors import UserError

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Parse one IDX file (gzip or raw): check the magic number and that the payload has the declared size."""
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"{path.name}: not a readable gzip file ({e})") from None
    if len(raw) < 8:
        raise UserError(f"{path.name}: too short to be an IDX file")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise UserError(f"{path.name}: IDX magic number {magic}, expected {expected_magic}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise UserError(f"{path.name}: too short for its own header ({len(raw)} bytes, {ndim} dimensions)")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    payload = raw[4 + 4 * ndim :]
    if len(payload) != int(np.prod(dims)):
        raise UserError(f"{path.name}: header declares {dims} but holds {len(payload)} bytes")
    return np.frombuffer(payload, dtype=np.uint8).reshape(dims)


def load_mnist(data_dir: Path) -> DataSet:
    """The 60,000 training and 10,000 test images as float32 pixels 0..255."""
    data_dir = Path(data_dir)
    missing = [f for f in FILES.values() if not (data_dir / f).exists()]
    if missing:
        raise UserError(f"{data_dir}: missing MNIST file(s) {', '.join(missing)}")
    arr = {
        k: read_idx(data_dir / f, IMAGE_MAGIC if "images" in k else LABEL_MAGIC) for k, f in FILES.items()
    }
    for split in ("train", "test"):
        if len(arr[f"{split}_images"]) != len(arr[f"{split}_labels"]):
            raise UserError(f"{data_dir}: {split} images and labels differ in count")
    return DataSet(
        name="mnist",
        x_train=arr["train_images"].astype(np.float32), y_train=arr["train_labels"].astype(np.int64),
        x_test=arr["test_images"].astype(np.float32), y_test=arr["test_labels"].astype(np.int64),
        classes=[str(i) for i in range(10)], kind="image", units="pixel intensity 0..255", max_value=255.0,
        source=f"MNIST IDX files in {data_dir}",
    )
