"""What a false-alert rate counted over a few hours can show: the exact Poisson bounds (scipy), for the export's
alert point, its warnings and RESULTS.md. Only scipy, so the report can use it without torch or onnxruntime.

A bound is for a threshold fixed in advance. The alert point's threshold is the lowest that meets its target on
the very hours it is counted on, so its true rate is, if anything, higher than the bound says.
"""

from __future__ import annotations

from scipy.stats import chi2

CONFIDENCE = 0.95


def upper_bound(false_alerts: int, hours: float) -> float | None:
    """The one-sided `CONFIDENCE` upper bound (per hour) of a rate seen as `false_alerts` in `hours`:
    chi2(2n + 2) / 2 / hours. With no false alert in 0.43 h a rate of 7 per hour is not ruled out."""
    if not hours:
        return None
    return float(chi2.ppf(CONFIDENCE, 2 * false_alerts + 2) / 2 / hours)


def hours_to_show(target: float) -> float:
    """The hours of normal time, without a single false alert, that put the upper bound at `target` per hour
    (infinite for a target of 0: no finite time shows a zero rate)."""
    return float(chi2.ppf(CONFIDENCE, 2) / 2 / target) if target > 0 else float("inf")
