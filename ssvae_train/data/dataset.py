"""The `DataSet` record every loader returns (`load.load_dataset` picks the loader by name).

A label of `UNLABELLED` (-1) marks a training row without a label: user data (`arrays`, `recordings`)
comes that way, and budgets, batching, validation and evaluation treat such rows as unlabelled. The
built-in sets are fully labelled; their budgets simulate the few labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BUILTIN = ("digits", "mnist", "uci-har", "hapt")
USER = ("arrays", "recordings")  # the user's own data: one .npz, or a folder of CSV recordings
DATASETS = BUILTIN + USER
BUILTIN_KINDS = {"digits": "image", "mnist": "image", "uci-har": "sensor", "hapt": "sensor"}  # known before loading
UNLABELLED = -1


@dataclass
class SensorRecording:
    """One continuous recording as a device meets it: samples [T, C] in raw units, a class name per sample
    ("" = unlabelled), the group it belongs to (a person, device or session) and whether it is a test one."""

    name: str
    group: str
    x: np.ndarray
    labels: np.ndarray  # object/str [T]
    test: bool = False


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
    groups_train: np.ndarray | None = None  # group (recording, person) of every training row: validation splits by it
    group_names: list[str] | None = None  # groups_train's ids name these groups (people, recordings), when known
    counts: dict = field(default_factory=dict)  # what the loader kept, left unlabelled and skipped
    source: str = ""
    extra: dict = field(default_factory=dict)
    # the continuous recordings the windows were cut from (hapt, recordings): alert operating points are
    # fitted on the validation groups' whole time, pauses and transitions included
    recordings: list[SensorRecording] | None = None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def train_recording_index(self) -> np.ndarray | None:
        """Each training row's training recording (0, 1, ... in `recordings` order, test ones skipped): both
        recording loaders store a recording's windows in time order, recording after recording, so rows with the
        same index are one stream. None when the rows are not `window`/`hop` windows of `recordings`."""
        if self.recordings is None or self.window is None or self.hop is None:
            return None
        sizes = [max((len(r.x) - self.window) // self.hop + 1, 0) for r in self.recordings if not r.test]
        if sum(sizes) != len(self.y_train):
            return None
        return np.repeat(np.arange(len(sizes)), sizes)

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
