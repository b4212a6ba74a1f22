"""A run's data: the data set with its held-out class removed, the split, and the scaling statistics.

Training, evaluation and export all rebuild the same `Prepared` from a run's config
(`ssvae_train.training.prepare.prepare`), so the rows a model was calibrated or validated on are exactly the rows
it was trained beside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssvae_train.data.budgets import Split
from ssvae_train.data.dataset import DataSet


@dataclass
class Prepared:
    ds: DataSet
    split: Split
    # --val-anomaly-class: that class's training rows (raw), never trained on; scores are chosen on them
    val_anomalies: np.ndarray | None = None
    # --exclude-class: the held-out class's training rows (raw), never trained on; the alert operating point
    # is measured on them (export/alert_point.py), never on test rows
    excluded_rows: np.ndarray | None = None

    def scaling(self, frame=None) -> tuple[np.ndarray, np.ndarray]:
        """(shift, scale) taking raw units to model units: pixels to 0..1, signals standardised per channel
        (after `frame`, the model's own turn of the windows, when it has one)."""
        if self.ds.kind == "image":
            return np.zeros(1, np.float32), np.array([self.ds.max_value], np.float32)
        x = self.ds.x_train[self.split.train]
        x = frame(x) if frame is not None else x
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
            "val_anomaly_class": ds.extra.get("val_anomaly_class"),
            "n_train": int(len(self.split.train)), "n_labelled": int(len(self.split.labelled)),
            "n_val": int(len(self.split.val)), "n_test": int(len(ds.y_test)), "counts": self.counts(),
        }

    def counts(self) -> dict:
        """No row dropped silently: what was loaded (kept, unlabelled, skipped) and what the split made of it."""
        y, s = self.ds.y_train, self.split
        given = int((y[s.train] >= 0).sum())
        return {
            **self.ds.row_counts(),
            "train": int(len(s.train)), "labelled": int(len(s.labelled)),
            "unlabelled": int(len(s.train) - len(s.labelled)),
            "labels_left_out_by_budget": given - int(len(s.labelled)),
            "val": int(len(s.val)), "val_labelled": int((y[s.val] >= 0).sum()),
            # unlabelled windows that held part of a held-out class's segment, dropped with it
            **({"held_out_edge_windows_skipped": self.ds.extra["excluded_edge_windows"]}
               if "excluded_edge_windows" in self.ds.extra else {}),
        }

    def counts_line(self) -> str:
        """The counts as one line, printed when a run starts."""
        c = self.counts()
        rows = "windows" if self.ds.window is not None and self.ds.name == "recordings" else "rows"
        parts = [
            f"{c['train_rows']} training {rows} ({c['train_labelled']} labelled, {c['train_unlabelled']} unlabelled",
        ]
        if "windows_mixed_labels" in c:
            parts[0] += f", {c['windows_mixed_labels']} of them as their samples do not all carry one label"
        parts[0] += ")"
        parts.append(f"{c['test_rows']} test")
        skipped = {k: v for k, v in c.items() if "skipped" in k and v}
        parts.append("skipped: " + (", ".join(f"{k} {v}" for k, v in skipped.items()) or "none"))
        parts.append(
            f"split: {c['train']} train ({c['labelled']} labelled, {c['labels_left_out_by_budget']} labels left out "
            f"by --labels), {c['val']} validation ({c['val_labelled']} labelled)"
        )
        return "data: " + "; ".join(parts)
