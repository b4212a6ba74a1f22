"""The class smoothing a sensor bundle ships (manifest `smoothing`, applied by `ssvae_edge.StreamScorer`):
how many consecutive windows' probabilities a stream event averages, chosen on the validation people's
continuous recordings (never test), streamed at the bundle's hop exactly as the runtime streams them.

Rule: the candidate with the highest window accuracy on the validation windows lying wholly inside one
class's segment; ties go to the fewer windows (less lag when the activity changes). Data sets without
continuous recordings (stitched windows) get no entry, and the runtime then smooths nothing.
"""

from __future__ import annotations

import numpy as np

from ssvae_edge.labelled import window_truth
from ssvae_edge.smoothing import smooth
from ssvae_train.data.prepared import Prepared
from ssvae_train.export.alert_point import validation_recordings
from ssvae_train.export.graphs import run_batched

CANDIDATES = (1, 2, 3, 4, 5, 6, 8)


def choose_smoothing(session, prep: Prepared) -> dict | None:
    """The manifest's `smoothing` entry, or None when the run has no validation recordings."""
    recs = validation_recordings(prep)
    if session is None or not recs:
        return None
    ds = prep.ds
    window, hop, classes = int(ds.window), int(ds.hop), list(ds.classes)
    per_rec = []
    for rec in recs:
        starts = np.arange(0, len(rec.x) - window + 1, hop)
        if not len(starts):
            continue
        probs = run_batched(session, {"x": np.stack([rec.x[s : s + window] for s in starts])})
        truth = window_truth(rec.labels, starts, window)
        keep = np.isin(truth, classes)
        per_rec.append((probs, np.array([classes.index(t) if t in classes else -1 for t in truth]), keep))
    accuracy = {}
    for k in CANDIDATES:
        right = sum(int((smooth(p, k).argmax(1)[keep] == y[keep]).sum()) for p, y, keep in per_rec)
        accuracy[k] = right / max(1, sum(int(keep.sum()) for _, _, keep in per_rec))
    best = max(CANDIDATES, key=lambda k: (accuracy[k], -k))
    return {"windows": best, "validation_accuracy": {str(k): round(a, 6) for k, a in accuracy.items()},
            "validation_windows": sum(int(keep.sum()) for _, _, keep in per_rec),
            "chosen_on": "the validation people's continuous recordings (" + ", ".join(r.name for r in recs) + ")",
            "rule": "highest window accuracy on validation windows wholly inside one class's segment; ties: fewer "
                    "windows", "hop": hop}
