"""What the runtime checks of the samples it is given: numbers at all (`numbers`, for `Bundle` and
`StreamScorer`), and while a reader reads, the faults it counted (`InputStats`, merged into the stream
summary) and the time column's sampling rate against the bundle's (`RateCheck`). Shared by the runtime's
CSV/.npy reader (`csvinput.py`) and the training side's recordings loader."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssvae_edge.errors import InputError

RATE_TOLERANCE = 0.05


def numbers(x: Any, what: str) -> np.ndarray:
    """`x` as a float32 array, or InputError naming `what` when it is not an array of numbers."""
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as e:
        raise InputError(f"{what} is not an array of numbers ({e})") from None
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{what} must hold numbers, got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)

_FIRST_CHECK, _EVERY = 16, 256
_SHOWN_BAD_LINES = 5


@dataclass
class InputStats:
    """What the reader saw: rows, faulty rows by reason (with their first line numbers), measured rate."""

    source: str
    kind: str
    rows: int = 0
    bad: Counter[str] = field(default_factory=Counter)
    bad_lines: list[int] = field(default_factory=list)
    has_time: bool = False
    measured_rate_hz: float | None = None
    ignored_columns: list[str] = field(default_factory=list)  # CSV columns that are not the bundle's channels

    def note(self) -> str | None:
        """The one line a person should read before the events, or None."""
        if not self.ignored_columns:
            return None
        return (f"note: {self.source}: ignoring column(s) {', '.join(repr(c) for c in self.ignored_columns)} "
                "(not channels of this bundle)")

    def add_bad(self, reason: str, line: int) -> None:
        self.bad[reason] += 1
        if len(self.bad_lines) < _SHOWN_BAD_LINES:
            self.bad_lines.append(line)

    def as_dict(self) -> dict[str, Any]:
        """Keys merged into the stream summary."""
        return {
            "input": self.source,
            "rows": self.rows,
            "bad_rows": sum(self.bad.values()),
            "bad_row_reasons": {r: self.bad[r] for r in ("non_numeric", "short", "long")},
            "first_bad_lines": list(self.bad_lines),
            "measured_rate_hz": self.measured_rate_hz,
            "ignored_columns": list(self.ignored_columns),
        }


class RateCheck:
    """Compares the time column's sampling rate with the bundle's: a model trained at 50 Hz that is fed
    100 Hz data sees every motion at half speed and gives confident, wrong labels."""

    def __init__(self, expected_hz: float | None, tolerance: float = RATE_TOLERANCE):
        self.expected = expected_hz
        self.tolerance = tolerance
        self.last: float | None = None
        self.steps: list[float] = []
        self.checked = False
        self.measured: float | None = None

    def add(self, times: np.ndarray) -> None:
        t = times[np.isfinite(times)]
        if not len(t):
            return
        if self.last is not None:
            t = np.concatenate([[self.last], t])
        self.steps.extend(np.diff(t).tolist())
        self.last = float(t[-1])
        if len(self.steps) >= (_EVERY if self.checked else _FIRST_CHECK):
            self._check()

    def finish(self) -> None:
        if not self.checked and len(self.steps) >= 2:
            self._check()

    def _check(self) -> None:
        steps = np.asarray(self.steps)
        self.steps.clear()
        self.checked = True
        median = float(np.median(steps))
        if median <= 0:
            raise InputError(f"the time column does not increase (median step {median:g} s)")
        # The mean of the typical steps: the median alone is quantised by the timestamps' resolution
        # (ms clocks), the plain mean is thrown by gaps; dropping steps far from the median avoids both.
        step = float(steps[(steps > 0.5 * median) & (steps < 1.5 * median)].mean())
        self.measured = round(1.0 / step, 3)
        if self.expected is not None and abs(self.measured - self.expected) > self.tolerance * self.expected:
            raise InputError(f"the time column gives {self.measured:.3g} Hz but the bundle expects "
                             f"{self.expected:g} Hz (more than {self.tolerance:.0%} off): resample the input "
                             f"to {self.expected:g} Hz first")
