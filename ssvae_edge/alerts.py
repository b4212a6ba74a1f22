"""k-of-m alert debouncing with hysteresis.

A single window above the anomaly threshold is expected now and then (the threshold is a high quantile
of normal scores, so about 1% of normal windows cross it). An alert therefore needs persistence:

* raise when at least `k` of the last `m` scored windows are above the threshold;
* clear when fewer than `clear_k` of the last `m` are above.

With `clear_k < k` the two conditions leave a band where the state holds, so an alert does not flap on
and off while scores hover around the threshold. Defaults: k=3, m=5, clear_k=1, i.e. raise on 3 of the
last 5, clear once all of the last 5 are back below.
"""

from __future__ import annotations

from collections import deque

from ssvae_edge.errors import InputError

DEFAULT_K, DEFAULT_M, DEFAULT_CLEAR_K = 3, 5, 1


class AlertDebouncer:
    """Feed one above/below flag per scored window; `active` is the alert state after it."""

    def __init__(self, k: int = DEFAULT_K, m: int = DEFAULT_M, clear_k: int | None = DEFAULT_CLEAR_K):
        clear_k = DEFAULT_CLEAR_K if clear_k is None else clear_k
        for name, v in (("alert_k", k), ("alert_m", m), ("clear_k", clear_k)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if k > m:
            raise InputError(f"alert_k ({k}) cannot exceed alert_m ({m})")
        if clear_k > k:
            raise InputError(f"clear_k ({clear_k}) cannot exceed alert_k ({k}): the alert would clear "
                             "while it should still be raised")
        self.k, self.m, self.clear_k = k, m, clear_k
        self.history: deque[bool] = deque(maxlen=m)
        self.active = False
        self.raised = 0  # how many times the alert went from clear to raised

    @property
    def above(self) -> int:
        """How many of the last `m` windows were above the threshold."""
        return sum(self.history)

    def update(self, above: bool) -> bool:
        """Record one window and return the alert state after it."""
        self.history.append(bool(above))
        n = self.above
        if not self.active and n >= self.k:
            self.active = True
            self.raised += 1
        elif self.active and n < self.clear_k:
            self.active = False
        return self.active
