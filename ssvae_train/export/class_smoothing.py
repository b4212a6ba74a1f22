"""The class smoothing a sensor bundle ships (manifest `smoothing`, applied by `ssvae_edge.StreamScorer`):
how many consecutive windows' probabilities a stream event averages, chosen on the validation people's
continuous recordings (never test), streamed at the bundle's hop exactly as the runtime streams them.

Rule: the candidate with the highest window accuracy on the validation windows lying wholly inside one
class's segment; ties go to the fewer windows (less lag when the activity changes). Data sets without
continuous recordings (stitched windows) get no entry, and the runtime then smooths nothing.
"""

from __future__ import annotations

from ssvae_edge.smoothing import smooth
from ssvae_train.export.validation_windows import ValidationProbs, window_accuracy

CANDIDATES = (1, 2, 3, 4, 5, 6, 8)


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
