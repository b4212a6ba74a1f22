"""The wearer's own score baseline for streaming alerts (manifest `alert.wearer_baseline`).

An anomaly score says how unlike the training people a window is, and an unseen wearer's normal activity can
score higher than any training person's (their gait, their phone): a fixed threshold then raises false alerts
all day for one wearer and misses the anomalies of another. With a wearer baseline the threshold is applied to
the score minus what this wearer's earlier windows of the same class scored:

    base_c   = (n0 * prior_c + sum of the scores of the earlier windows whose event class was c) / (n0 + n_c)
    adjusted = score - base_c        (c: this window's event class; then its score joins c's sum)

`score` is the event's (7 significant digits), so the recurrence can be run again from the events alone.

`prior_c` is the median score of the training people's windows of class c and `n0` (`prior_windows`) how many
windows the prior counts as, so the first windows of a class lean on the prior and later ones on the wearer.
Causal, from unlabelled samples only: the classes are the stream's own. numpy only, like the rest of the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ssvae_edge.errors import InputError


class WearerBaseline:
    """Running per-class score baselines of one stream (one wearer)."""

    def __init__(self, prior: Mapping[str, float], prior_windows: int):
        self.prior = {c: float(v) for c, v in prior.items()}
        self.n0 = int(prior_windows)
        self.sums = dict.fromkeys(self.prior, 0.0)
        self.counts = dict.fromkeys(self.prior, 0)

    def base(self, label: str) -> float:
        """The baseline the next window of class `label` is measured against."""
        return (self.n0 * self.prior[label] + self.sums[label]) / (self.n0 + self.counts[label])

    def adjust(self, score: float, label: str) -> float:
        """`score` minus its class's baseline so far; the score then joins the baseline."""
        out = float(score) - self.base(label)
        self.sums[label] += float(score)
        self.counts[label] += 1
        return out


def adjusted_scores(scores: Sequence[float], labels: Sequence[str], prior: Mapping[str, float],
                    prior_windows: int) -> np.ndarray:
    """The adjusted scores of one whole stream, window by window (what the runtime computes as it goes)."""
    wb = WearerBaseline(prior, prior_windows)
    return np.array([wb.adjust(s, c) for s, c in zip(scores, labels, strict=True)], dtype=np.float64)


def check_section(section, classes: Sequence[str]) -> None:
    """A manifest's `alert.wearer_baseline` must give a finite prior for every class and a positive count."""
    prior = section.prior
    missing = [c for c in classes if c not in prior]
    if missing:
        raise InputError(f"'alert.wearer_baseline.prior' has no value for {', '.join(missing)}")
    if not all(np.isfinite(float(v)) for v in prior.values()):
        raise InputError("'alert.wearer_baseline.prior' values must be finite numbers")
    if isinstance(section.prior_windows, bool) or section.prior_windows < 1:
        raise InputError("'alert.wearer_baseline.prior_windows' must be a positive integer")
    for key in ("threshold", "threshold_int8"):
        value = getattr(section, key)
        if (value is not None or key == "threshold") and not np.isfinite(value):
            raise InputError(f"'alert.wearer_baseline.{key}' must be a finite number")
