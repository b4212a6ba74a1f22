"""The wearer's own score baseline for streaming alerts (manifest `alert.wearer_baseline`).

An anomaly score says how unlike the training people a window is, and an unseen wearer's normal activity can
score higher than any training person's (their gait, their phone): a fixed threshold then raises false alerts
all day for one wearer and misses the anomalies of another. With a wearer baseline the threshold is applied to
the score minus what this wearer's earlier windows of the same class scored:

    base_c   = (n0 * prior_c + sum of the scores of the earlier windows whose event class was c) / (n0 + n_c)
    adjusted = score - base_c        (c: this window's event class; then its score joins c's sum)

`score` is the event's (7 significant digits), so the recurrence can be run again from the events alone. With a
memory of M windows (`memory_windows`), once a class has M windows its sum forgets as it learns,
S_c = S_c * (M - 1) / M + score with n_c kept at M: an exponential average, so a device left on for days follows
its wearer as they are now, not as they were on the first day.

`prior_c` is the median score of the training people's windows of class c and `n0` (`prior_windows`) how many
windows the prior counts as, so the first windows of a class lean on the prior and later ones on the wearer.
Causal, from unlabelled samples only: the classes are the stream's own. numpy only, like the rest of the runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ssvae_edge.alert_gate import check_gate
from ssvae_edge.errors import InputError


class WearerBaseline:
    """Running per-class score baselines of one stream (one wearer)."""

    def __init__(self, prior: Mapping[str, float], prior_windows: int, memory_windows: int | None = None):
        self.prior = {c: float(v) for c, v in prior.items()}
        self.n0 = int(prior_windows)
        self.memory = None if memory_windows is None else int(memory_windows)
        self.sums = dict.fromkeys(self.prior, 0.0)
        self.counts = dict.fromkeys(self.prior, 0)

    def base(self, label: str) -> float:
        """The baseline the next window of class `label` is measured against."""
        return (self.n0 * self.prior[label] + self.sums[label]) / (self.n0 + self.counts[label])

    def adjust(self, score: float, label: str) -> float:
        """`score` minus its class's baseline so far; the score then joins the baseline."""
        out = float(score) - self.base(label)
        if self.memory is not None and self.counts[label] >= self.memory:
            self.sums[label] = self.sums[label] * (self.memory - 1) / self.memory + float(score)
        else:
            self.sums[label] += float(score)
            self.counts[label] += 1
        return out


def adjusted_scores(scores: Sequence[float], labels: Sequence[str], prior: Mapping[str, float],
                    prior_windows: int, memory_windows: int | None = None) -> np.ndarray:
    """The adjusted scores of one whole stream, window by window (what the runtime computes as it goes)."""
    wb = WearerBaseline(prior, prior_windows, memory_windows)
    return np.array([wb.adjust(s, c) for s, c in zip(scores, labels, strict=True)], dtype=np.float64)


def check_section(section, classes: Sequence[str]) -> None:
    """A manifest's `alert.wearer_baseline` must give a finite prior for every class and a positive count."""
    prior = section.prior
    missing = [c for c in classes if c not in prior]
    if missing:
        raise InputError(f"'alert.wearer_baseline.prior' has no value for {', '.join(missing)}")
    if not all(np.isfinite(float(v)) for v in prior.values()):
        raise InputError("'alert.wearer_baseline.prior' values must be finite numbers")
    for key in ("prior_windows", "memory_windows"):
        value = getattr(section, key)
        if value is not None and (isinstance(value, bool) or value < 1):
            raise InputError(f"'alert.wearer_baseline.{key}' must be a positive integer")
    for key in ("threshold", "threshold_int8"):
        value = getattr(section, key)
        if (value is not None or key == "threshold") and not np.isfinite(value):
            raise InputError(f"'alert.wearer_baseline.{key}' must be a finite number")
    if section.gate is not None:
        check_gate(section.gate, classes)
