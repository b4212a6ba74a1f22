"""UCI-HAR in its original layout, read in place from the zip or an extracted folder.

The nine inertial signals become float32 `[N, 128, 9]` (g for accelerations, rad/s for gyroscopes),
labels 0..5 named by `activity_labels.txt`, subject ids when `subject_*.txt` are present. The full
original and the one-third subset in `../shared/data` share this layout and load the same way.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ssvae_train.data.dataset import DataSet
from ssvae_train.errors import UserError

ROOT = "UCI HAR Dataset"
CHANNELS = [
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "total_acc_x", "total_acc_y", "total_acc_z",
]
WINDOW, HOP, SAMPLE_RATE_HZ = 128, 64, 50.0


class _Source:
    """Reads members by their path under `UCI HAR Dataset/`, from a zip or a folder alike."""

    def __init__(self, path: Path):
        self.zip: zipfile.ZipFile | None = None
        self.prefix = ""
        if path.is_file():
            try:
                self.zip = zipfile.ZipFile(path)
            except zipfile.BadZipFile:
                raise UserError(f"{path}: not a zip file") from None
            names = self.zip.namelist()
            # the member named exactly activity_labels.txt, not macOS' `__MACOSX/.../._activity_labels.txt`
            hits = [
                n for n in names
                if n.rsplit("/", 1)[-1] == "activity_labels.txt" and not n.startswith("__MACOSX/")
            ]
            if not hits:
                raise UserError(f"{path}: not a UCI-HAR archive (no activity_labels.txt inside)")
            self.prefix = hits[0][: -len("activity_labels.txt")]
            self.names = set(names)
        else:
            self.root = path

    def has(self, member: str) -> bool:
        if self.zip is not None:
            return self.prefix + member in self.names
        return (self.root / member).is_file()

    def read(self, member: str) -> bytes:
        if not self.has(member):
            raise UserError(f"UCI-HAR: {member} is missing")
        if self.zip is not None:
            try:
                return self.zip.read(self.prefix + member)
            except (zipfile.BadZipFile, OSError, EOFError) as e:
                raise UserError(f"UCI-HAR: cannot read {member} from the zip ({e})") from None
        return (self.root / member).read_bytes()


def _locate(path: Path) -> _Source:
    """Accept the zip itself, the extracted `UCI HAR Dataset/` folder, or a folder holding either."""
    if path.is_file():
        return _Source(path)
    for folder in (path, path / ROOT):
        if (folder / "activity_labels.txt").is_file():
            return _Source(folder)
    for z in sorted(path.glob("*.zip"), key=lambda p: (p.name != f"{ROOT}.zip", p.name)):
        try:
            with zipfile.ZipFile(z) as zf:
                if any("Inertial Signals/" in n for n in zf.namelist()):
                    return _Source(z)
        except zipfile.BadZipFile:
            continue
    raise UserError(f"{path}: no UCI-HAR data found (expected '{ROOT}.zip' or an extracted '{ROOT}/' folder)")


def _numbers(blob: bytes, member: str) -> np.ndarray:
    try:
        return np.array(blob.split(), dtype=np.float32)
    except ValueError:
        raise UserError(f"UCI-HAR: {member} holds something that is not a number") from None


def _split(src: _Source, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    y = _numbers(src.read(f"{split}/y_{split}.txt"), f"y_{split}.txt").astype(np.int64) - 1
    if y.size == 0:
        raise UserError(f"UCI-HAR: the {split} split holds no windows (y_{split}.txt is empty)")
    signals = []
    for ch in CHANNELS:
        member = f"{split}/Inertial Signals/{ch}_{split}.txt"
        values = _numbers(src.read(member), member)
        if values.size != len(y) * WINDOW:
            raise UserError(f"UCI-HAR: {member} has {values.size} values, expected {len(y)} x {WINDOW}")
        signals.append(values.reshape(len(y), WINDOW))
    x = np.stack(signals, axis=-1)
    subjects = None
    if src.has(f"{split}/subject_{split}.txt"):
        subjects = _numbers(src.read(f"{split}/subject_{split}.txt"), "subject file").astype(np.int64)
        if len(subjects) != len(y):
            subjects = None  # subject ids that do not align with the windows are worse than none
    if y.min() < 0 or y.max() > 5:
        raise UserError(f"UCI-HAR: {split} labels outside 1..6")
    return x, y, subjects


def load_uci_har(path: Path) -> DataSet:
    """Load train and test windows; `path` is a zip, an extracted folder, or a folder holding the zip."""
    src = _locate(Path(path))
    lines = src.read("activity_labels.txt").decode().split("\n")
    classes = [ln.split()[1] for ln in lines if ln.strip()]
    x_tr, y_tr, s_tr = _split(src, "train")
    x_te, y_te, s_te = _split(src, "test")
    return DataSet(
        name="uci-har", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, classes=classes,
        kind="sensor", units="g (acc), rad/s (gyro)", channels=list(CHANNELS),
        sample_rate_hz=SAMPLE_RATE_HZ, window=WINDOW, hop=HOP,
        subjects_train=s_tr, subjects_test=s_te, source=f"UCI-HAR from {path}",
    )
