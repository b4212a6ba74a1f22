"""A run's data: the data set with its held-out class removed, the split, and the scaling statistics.

Training, evaluation and export all rebuild the same `Prepared` from a run's config, so the rows a
model was calibrated or validated on are exactly the rows it was trained beside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssvae_train.config import FitConfig
from ssvae_train.data.budgets import Split, exclude_class, make_split, parse_labels
from ssvae_train.data.dataset import DataSet, load_dataset


@dataclass
class Prepared:
    ds: DataSet
    split: Split

    def scaling(self) -> tuple[np.ndarray, np.ndarray]:
        """(shift, scale) taking raw units to model units: pixels to 0..1, signals standardised per channel."""
        if self.ds.kind == "image":
            return np.zeros(1, np.float32), np.array([self.ds.max_value], np.float32)
        x = self.ds.x_train[self.split.train]
        axes = tuple(range(x.ndim - 1))
        return x.mean(axes).astype(np.float32), (x.std(axes) + 1e-6).astype(np.float32)

    def meta(self) -> dict:
        """What a checkpoint (and later a bundle manifest) records about the data."""
        ds = self.ds
        return {
            "name": ds.name, "classes": list(ds.classes), "kind": ds.kind, "units": ds.units,
            "sample_shape": list(ds.sample_shape), "max_value": ds.max_value, "channels": ds.channels,
            "sample_rate_hz": ds.sample_rate_hz, "window": ds.window, "hop": ds.hop, "source": ds.source,
            "excluded_class": ds.extra.get("excluded_class"), "excluded_name": ds.extra.get("excluded_name"),
            "n_train": int(len(self.split.train)), "n_labelled": int(len(self.split.labelled)),
            "n_val": int(len(self.split.val)), "n_test": int(len(ds.y_test)),
        }


def prepare(cfg: FitConfig) -> Prepared:
    ds = load_dataset(cfg.dataset, cfg.data_dir)
    if cfg.exclude_class is not None:
        ds = exclude_class(ds, cfg.exclude_class)
    split = make_split(ds.y_train, ds.n_classes, parse_labels(cfg.labels), cfg.seed, cfg.val_fraction)
    if cfg.m1_run is not None:  # the labels and the split stay; the samples become M1's latents
        from ssvae_train.data.stacked import stack

        ds = stack(ds, cfg.m1_run, cfg, split.train)
    return Prepared(ds, split)
