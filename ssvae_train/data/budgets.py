"""Label budgets, the validation split and the held-out anomaly class.

A budget chooses which training rows keep their label; everything else is still used, unlabelled.
The validation split always comes out of the training set, never the test set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ssvae_train.data.dataset import DataSet
from ssvae_train.errors import UserError


def parse_labels(spec: str | int | float) -> int | float | None:
    """`all` -> None (every row labelled); `100` -> 100 rows; `0.05` -> 5 % of the rows."""
    text = str(spec).strip().lower()
    if text == "all":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--labels {spec!r}: expected a count (100), a fraction (0.05) or 'all'") from None
    if value <= 0:
        raise UserError(f"--labels {spec!r}: must be positive")
    if "." in text or "e" in text:
        if value > 1:
            raise UserError(f"--labels {spec!r}: a fraction must be at most 1")
        return None if value == 1 else value
    return int(value)


@dataclass
class Split:
    """Row indices into the training arrays: `train` (all used rows), its `labelled` part, and `val`."""

    train: np.ndarray
    labelled: np.ndarray
    val: np.ndarray

    @property
    def unlabelled(self) -> np.ndarray:
        return np.setdiff1d(self.train, self.labelled)


def exclude_class(ds: DataSet, k: int) -> DataSet:
    """Drop class k from training (the anomaly protocol); test rows of class k get label -1.

    The remaining classes are renumbered 0..K-2 so the model never has an output it cannot learn.
    """
    if not 0 <= k < ds.n_classes:
        raise UserError(f"--exclude-class {k}: the data set has classes 0..{ds.n_classes - 1}")
    keep = ds.y_train != k
    remap = np.full(ds.n_classes, -1, dtype=np.int64)
    remap[[c for c in range(ds.n_classes) if c != k]] = np.arange(ds.n_classes - 1)
    return replace(
        ds,
        x_train=ds.x_train[keep], y_train=remap[ds.y_train[keep]],
        y_test=remap[ds.y_test],
        subjects_train=None if ds.subjects_train is None else ds.subjects_train[keep],
        classes=[c for i, c in enumerate(ds.classes) if i != k],
        extra={**ds.extra, "excluded_class": k, "excluded_name": ds.classes[k]},
    )


def _stratified_take(rng: np.random.Generator, y: np.ndarray, idx: np.ndarray, per_class: list[int]) -> np.ndarray:
    taken = []
    for c, n in enumerate(per_class):
        rows = idx[y[idx] == c]
        if n > len(rows):
            raise UserError(f"class {c} has {len(rows)} training rows, {n} labels were asked for")
        taken.append(rng.permutation(rows)[:n])
    return np.sort(np.concatenate(taken)) if taken else np.array([], dtype=np.int64)


def make_split(
    y: np.ndarray, n_classes: int, labels: int | float | None, seed: int, val_fraction: float = 0.1
) -> Split:
    """Stratified validation split, then a class-balanced label budget drawn from the rest (from `seed`)."""
    rng = np.random.default_rng(seed)
    all_idx = np.arange(len(y))
    counts = np.bincount(y, minlength=n_classes)
    val_per_class = [int(round(val_fraction * n)) for n in counts]
    val = _stratified_take(rng, y, all_idx, val_per_class)
    train = np.setdiff1d(all_idx, val)
    if labels is None:
        return Split(train=train, labelled=train, val=val)
    train_counts = np.bincount(y[train], minlength=n_classes)
    if isinstance(labels, float):
        per_class = [max(1, int(round(labels * n))) for n in train_counts]
    else:
        if labels < n_classes:
            raise UserError(f"--labels {labels}: fewer labels than the {n_classes} classes (need at least one each)")
        if labels > len(train):
            raise UserError(f"--labels {labels}: only {len(train)} training rows after the validation split")
        per_class = [labels // n_classes + (1 if c < labels % n_classes else 0) for c in range(n_classes)]
    return Split(train=train, labelled=_stratified_take(rng, y, train, per_class), val=val)
