"""The class smoothing a sensor bundle ships (manifest `smoothing`, applied by `ssvae_edge.StreamScorer`):
how many consecutive windows' probabilities a stream event averages, chosen on the validation people's
continuous recordings (never test), streamed at the bundle's hop exactly as the runtime streams them.

Rule: the candidate with the highest window accuracy on the validation windows lying wholly inside one
class's segment; ties go to the fewer windows (less lag when the activity changes). Data sets without
continuous recordings (stitched windows) get no entry, and the runtime then smooths nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssvae_edge.labelled import window_truth
from ssvae_edge.smoothing import smooth
from ssvae_train.data.prepared import Prepared
from ssvae_train.export.alert_point import validation_recordings
from ssvae_train.export.graphs import run_batched

CANDIDATES = (1, 2, 3, 4, 5, 6, 8)


@dataclass
class ValidationProbs:
    """The classifier's probabilities over the validation people's recordings, streamed at the bundle's hop:
    per recording, (probs [n, K], each window's class index or -1 where it lies in no one class's segment)."""

    per_recording: list[tuple[np.ndarray, np.ndarray]]
    names: list[str]
    hop: int

    @property
    def windows(self) -> int:
        return sum(int((codes >= 0).sum()) for _, codes in self.per_recording)


def validation_probs(session, prep: Prepared) -> ValidationProbs | None:
    """The run's validation recordings scored by `session` (the classifier graph), or None without them."""
    recs = validation_recordings(prep)
    if session is None or not recs:
        return None
    ds = prep.ds
    window, hop, classes = int(ds.window), int(ds.hop), list(ds.classes)
    index = {c: i for i, c in enumerate(classes)}
    per_rec, names = [], []
    for rec in recs:
        starts = np.arange(0, len(rec.x) - window + 1, hop)
        if not len(starts):
            continue
        probs = run_batched(session, {"x": np.stack([rec.x[s : s + window] for s in starts])})
        codes = np.array([index.get(t, -1) for t in window_truth(rec.labels, starts, window)], dtype=np.int64)
        per_rec.append((probs, codes))
        names.append(rec.name)
    return ValidationProbs(per_rec, names, hop) if per_rec else None


def window_accuracy(val: ValidationProbs, decode) -> float:
    """Accuracy of `decode(probs) -> [n, K]` on the validation windows lying wholly inside one class's segment."""
    right = sum(int((decode(p).argmax(1)[codes >= 0] == codes[codes >= 0]).sum()) for p, codes in val.per_recording)
    return right / max(1, val.windows)


def choose_smoothing(val: ValidationProbs | None) -> dict | None:
    """The manifest's `smoothing` entry, or None when the run has no validation recordings."""
    if val is None:
        return None
    accuracy = {k: window_accuracy(val, lambda p, k=k: smooth(p, k)) for k in CANDIDATES}
    best = max(CANDIDATES, key=lambda k: (accuracy[k], -k))
    return {"windows": best, "validation_accuracy": {str(k): round(a, 6) for k, a in accuracy.items()},
            "validation_windows": val.windows,
            "chosen_on": "the validation people's continuous recordings (" + ", ".join(val.names) + ")",
            "rule": "highest window accuracy on validation windows wholly inside one class's segment; ties: fewer "
                    "windows", "hop": val.hop}
