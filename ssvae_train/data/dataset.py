"""The `DataSet` record every loader returns, and `load_dataset`, the one entry point by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssvae_train.errors import UserError

DATASETS = ("digits", "mnist", "uci-har")


@dataclass
class DataSet:
    """Train and test arrays in raw units plus what a device needs to know about a sample."""

    name: str
    x_train: np.ndarray  # float32 [N, *sample_shape]
    y_train: np.ndarray  # int64 [N], 0..K-1
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
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def load_dataset(name: str, data_dir: str | Path | None = None) -> DataSet:
    """Load a data set by name: `digits` (embedded, needs no directory), `mnist` or `uci-har`."""
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
    if name == "mnist":
        from ssvae_train.data.mnist import load_mnist

        return load_mnist(path)
    from ssvae_train.data.uci_har import load_uci_har

    return load_uci_har(path)
