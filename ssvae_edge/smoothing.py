"""Class smoothing over consecutive windows: an activity lasts longer than one window.

A stream's event reports the class whose probability, averaged over the last `k` scored windows (this
one included; fewer at the stream's start), is highest. The average looks only backwards, so an event
still comes out as soon as its window is complete; it costs about (k - 1) hops of lag when the activity
changes. `k` is chosen at export on the validation people's continuous recordings (manifest `smoothing`)
and `k = 1` is no smoothing. `StreamScorer` and `smooth` apply the same rule: one per window, one over a
whole recording's probabilities.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ssvae_edge.errors import InputError


def check_windows(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"smoothing must be a positive number of windows, got {k!r}")
    return int(k)


class ProbabilityAverage:
    """The running mean of the last `k` probability rows fed."""

    def __init__(self, k: int = 1):
        self.k = check_windows(k)
        self.rows: deque[np.ndarray] = deque(maxlen=self.k)

    def update(self, probs: np.ndarray) -> np.ndarray:
        self.rows.append(np.asarray(probs, dtype=np.float64))
        return np.mean(np.stack(self.rows), axis=0) if self.k > 1 else self.rows[-1]


def smooth(probs: np.ndarray, k: int) -> np.ndarray:
    """[n, K] probabilities of one stream's consecutive windows -> their causal k-window means."""
    avg = ProbabilityAverage(k)
    return np.stack([avg.update(p) for p in probs]) if len(probs) else np.zeros_like(probs, np.float64)
