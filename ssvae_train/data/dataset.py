"""The `DataSet` record every loader returns, and `load_dataset`, the one entry point by name.

A label of `UNLABELLED` (-1) marks a training row without a label: user data (`arrays`, `recordings`)
comes that way, and budgets, batching, validation and evaluation treat such rows as unlabelled. The
built-in sets are fully labelled; their budgets simulate the few labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssvae_train.errors import UserError

BUILTIN = ("digits", "mnist", "uci-har")
USER = ("arrays", "recordings")  # the user's own data: one .npz, or a folder of CSV recordings
DATASETS = BUILTIN + USER
BUILTIN_KINDS = {"digits": "image", "mnist": "image", "uci-har": "sensor"}  # known before loading
UNLABELLED = -1


@dataclass
class DataSet:
    """Train and test arrays in raw units plus what a device needs to know about a sample."""

    name: str
    x_train: np.ndarray  # float32 [N, *sample_shape]
    y_train: np.ndarray  # int64 [N], 0..K-1, or UNLABELLED
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    kind: str  # "image" (Bernoulli on x / max_value), "sensor" or "features" (Gaussian on standardised x)
    units: str
    max_value: float | None = None  # images: the value of a white pixel
    channels: list[str] | None = None  # sensors: channel names in order
    sample_rate_hz: float | None = None
    window: int | None = None
    hop: int | None = None
    subjects_train: np.ndarray | None = None
    subjects_test: np.ndarray | None = None
    groups_train: np.ndarray | None = None  # recording of every training row: validation is split by it
    counts: dict = field(default_factory=dict)  # what the loader kept, left unlabelled and skipped
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def row_counts(self) -> dict:
        """Rows (windows, for recordings) as loaded: labelled and unlabelled training rows, test rows,
        plus whatever the loader counted on the way (kept, mixed labels, skipped)."""
        return {
            "train_rows": int(len(self.y_train)),
            "train_labelled": int((self.y_train >= 0).sum()),
            "train_unlabelled": int((self.y_train < 0).sum()),
            "test_rows": int(len(self.y_test)),
            **self.counts,
        }


def load_dataset(
    name: str, data_dir: str | Path | None = None, window: int | None = None, hop: int | None = None
) -> DataSet:
    """Load a data set by name: `digits` (embedded, needs no directory), `mnist`, `uci-har`, or the
    user's own `arrays` (a .npz file) or `recordings` (a folder of CSVs, cut by `window`/`hop`)."""
    if (window is not None or hop is not None) and name != "recordings":
        raise UserError("--window and --hop cut recordings into windows: use them with --dataset recordings")
    if name == "digits":
        from ssvae_train.data.digits import load_digits

        return load_digits()
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    if data_dir is None:
        raise UserError(f"--data-dir is required for {name} (the folder with its files)")
    path = Path(data_dir)
    if not path.exists():
        raise UserError(f"data directory {str(path)!r} does not exist")
    if name == "arrays":
        from ssvae_train.data.arrays import load_arrays

        return load_arrays(path)
    if name == "recordings":
        from ssvae_train.data.recordings import load_recordings

        return load_recordings(path, window, hop)
    if name == "mnist":
        from ssvae_train.data.mnist import load_mnist

        return load_mnist(path)
    from ssvae_train.data.uci_har import load_uci_har

    return load_uci_har(path)
