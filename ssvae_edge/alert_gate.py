"""The alert gate (manifest `alert.wearer_baseline.gate`): only windows of some classes can raise an alert.

An anomaly of one kind is met in windows the classifier calls a few classes: a held-out way of walking is called
WALKING, not SITTING. An alert threshold fitted on every window is set by the highest normal scores whatever
their class (a person getting up, a turn), so it sits above most of the anomaly's windows. With a gate, a window
counts as above the threshold only when its event class is one of the gate's classes, and the threshold is fitted
on those windows alone. The candidates are the classes that received at least a set share of the held-out
activity's windows in the training people's recordings (never trained on), as the runtime classes them; of their
nested sets in order of share, the export keeps the one whose point catches the most on the validation people (a
class bringing a few held-out windows and many high-scoring normal ones costs more than it gives). Either way it
needs examples of the anomaly, as `ssvae-export --score auto` does.

The gate reads the same event class as the wearer baseline; it changes which windows can be above the threshold,
nothing else. numpy only, like the rest of the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssvae_edge.errors import InputError


def gated(scores: Sequence[float], classes: Sequence[str], gate: Sequence[str]) -> np.ndarray:
    """The scores, with -inf (never above any threshold) where the window's class is not in the gate."""
    inside = np.isin(np.asarray(classes, dtype=object), list(gate))
    return np.where(inside, np.asarray(scores, dtype=np.float64), -np.inf)


def check_gate(section, classes: Sequence[str]) -> None:
    """A manifest's `alert.wearer_baseline.gate`: classes of the bundle, a positive prior weight, a finite threshold."""
    unknown = [c for c in section.classes if c not in classes]
    if not section.classes or unknown:
        raise InputError("'alert.wearer_baseline.gate.classes' must name classes of the bundle"
                         + (f" ({', '.join(unknown)} is not one)" if unknown else " (it is empty)"))
    if isinstance(section.prior_windows, bool) or section.prior_windows < 1:
        raise InputError("'alert.wearer_baseline.gate.prior_windows' must be a positive integer")
    for key in ("threshold", "threshold_int8"):
        value = getattr(section, key)
        if (value is not None or key == "threshold") and not np.isfinite(value):
            raise InputError(f"'alert.wearer_baseline.gate.{key}' must be a finite number")
