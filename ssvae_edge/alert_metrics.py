"""How streaming alerts are scored against labelled streams: held-out segments caught, delay, false
alerts per hour. One definition, used where the operating point is calibrated (`ssvae-export`, on streams
of training-split windows) and where it is measured (`tools/eval_alerts.py`, on test streams).

numpy only, like the rest of the runtime: a device can measure its own alerts against labelled data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssvae_edge.alerts import AlertDebouncer

N_CANDIDATES = 400  # thresholds an operating point is searched over: quantiles of the normal windows' scores

DEFINITIONS = {
    "segment": "a maximal run of samples with the same label, [a, b); a held-out segment counts when at least "
               "one scored window overlaps it",
    "alert_raise": "a scored window at which the alert state goes from clear to raised",
    "detection": "a held-out segment [a, b) is detected when an alert is raised at a window [s, s+W) that "
                 "overlaps it (s < b and s+W > a); an alert already active when the segment began does not count",
    "delay": "(s + W) - a for the first raise that detects the segment, in samples (seconds = samples / rate): "
             "samples after the segment's start that must arrive before the alert is known",
    "false_alert": "a raise at a window that overlaps no held-out segment (all its samples are normal activity)",
    "false_alerts_per_hour": "false alerts / (normal samples / sample_rate_hz / 3600), normal samples = samples "
                             "whose label is not the held-out activity (nor unlabelled, on continuous recordings)",
    "unlabelled_raise": "continuous recordings: a raise at a window lying wholly in unlabelled time (set-up, "
                        "pauses, walking between stations), which no label can call true or false; reported "
                        "apart, neither a false alert nor a detection",
    "window_roc_auc": "sklearn roc_auc_score of the anomaly score, windows entirely inside held-out segments "
                      "(positive) vs entirely inside normal segments (negative); straddling windows left out",
    "window_tpr_fpr": "fraction of those positive / negative windows whose score is above the threshold",
}


@dataclass(frozen=True)
class Segment:
    start: int  # first sample
    end: int  # one past the last sample
    label: str


def segments(labels: Sequence[str]) -> list[Segment]:
    """Maximal runs of equal labels."""
    out: list[Segment] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            out.append(Segment(start, i, labels[start]))
            start = i
    return out


def raise_indices(alerts: Sequence[bool]) -> list[int]:
    """Indices of the windows at which the alert state goes from clear to raised (it starts clear)."""
    out, prev = [], False
    for i, a in enumerate(alerts):
        if a and not prev:
            out.append(i)
        prev = bool(a)
    return out


def match_alerts(segs: Sequence[Segment], starts: Sequence[int], alerts: Sequence[bool], window: int,
                 held_out: str, rate_hz: float, unlabelled: str | None = None) -> dict[str, Any]:
    """Recall of the held-out segments, delay to the first alert, false alerts per hour (see DEFINITIONS).

    `starts[i]` / `alerts[i]`: the first sample and the alert state after scored window i, in stream order.
    `unlabelled`: the label of time nobody labelled (continuous recordings): it is not normal time, and raises
    wholly inside it are counted apart (`unlabelled_raises`).
    """
    if len(starts) != len(alerts):
        raise ValueError("starts and alerts must have one entry per scored window")
    starts_arr = np.asarray(starts, dtype=np.int64)
    held = [s for s in segs if s.label == held_out]
    if len(starts_arr):  # segments no scored window reaches are not counted
        held = [s for s in held if bool(np.any((starts_arr < s.end) & (starts_arr + window > s.start)))]
    else:
        held = []
    raises = [int(starts_arr[i]) for i in raise_indices(alerts)]
    per_segment = []
    for s in held:
        first = next((r for r in raises if r < s.end and r + window > s.start), None)
        per_segment.append({"start": s.start, "end": s.end, "detected": first is not None,
                            "delay_samples": None if first is None else first + window - s.start})
    false = [r for r in raises if not any(r < s.end and r + window > s.start for s in segs if s.label == held_out)]
    in_unlabelled = [r for r in false if unlabelled is not None
                     and any(s.start <= r and r + window <= s.end for s in segs if s.label == unlabelled)]
    normal = sum(s.end - s.start for s in segs if s.label not in (held_out, unlabelled))
    out = summarise(per_segment, len(raises), len(false) - len(in_unlabelled), normal, rate_hz)
    if unlabelled is not None:
        out["unlabelled_raises"] = len(in_unlabelled)
        out["unlabelled_hours"] = sum(s.end - s.start for s in segs if s.label == unlabelled) / rate_hz / 3600
    return out


def summarise(per_segment: list[dict[str, Any]], raised: int, false: int, normal_samples: int,
              rate_hz: float) -> dict[str, Any]:
    detected = [p for p in per_segment if p["detected"]]
    delays = [p["delay_samples"] for p in detected]
    hours = normal_samples / rate_hz / 3600
    return {
        "held_out_segments": len(per_segment),
        "detected": len(detected),
        "recall": len(detected) / len(per_segment) if per_segment else None,
        "delay_samples": delays,
        "delay_samples_median": float(np.median(delays)) if delays else None,
        "delay_samples_mean": float(np.mean(delays)) if delays else None,
        "delay_samples_max": int(max(delays)) if delays else None,
        "delay_seconds_median": float(np.median(delays)) / rate_hz if delays else None,
        "alerts_raised": raised,
        "true_alerts": raised - false,
        "false_alerts": false,
        "normal_samples": normal_samples,
        "normal_hours": hours,
        "false_alerts_per_hour": false / hours if hours > 0 else None,
        "per_segment": per_segment,
    }


def combine(results: Sequence[dict[str, Any]], rate_hz: float) -> dict[str, Any]:
    """Add up the matching of several streams (segments, raises, normal time)."""
    per_segment = [dict(p, stream=i) for i, r in enumerate(results) for p in r["per_segment"]]
    out = summarise(per_segment, sum(r["alerts_raised"] for r in results),
                    sum(r["false_alerts"] for r in results), sum(r["normal_samples"] for r in results), rate_hz)
    if any("unlabelled_raises" in r for r in results):
        out["unlabelled_raises"] = sum(r.get("unlabelled_raises", 0) for r in results)
        out["unlabelled_hours"] = sum(r.get("unlabelled_hours", 0.0) for r in results)
    return out


def debounce(above: Sequence[bool], k: int, m: int, clear_k: int) -> list[bool]:
    """The runtime's AlertDebouncer replayed over above/below flags: the alert state after each window."""
    d = AlertDebouncer(k, m, clear_k)
    return [d.update(bool(a)) for a in above]


def window_fraction_held_out(starts: np.ndarray, window: int, is_held: np.ndarray) -> np.ndarray:
    """Fraction of each window's samples that belong to the held-out activity (or any per-sample flag)."""
    csum = np.concatenate([[0], np.cumsum(is_held, dtype=np.int64)])
    return (csum[starts + window] - csum[starts]) / window


def debounce_many(above: np.ndarray, k: int, m: int, clear_k: int) -> np.ndarray:
    """`AlertDebouncer` over above [T, P] for P thresholds at once: the alert state after each window."""
    csum = np.concatenate([np.zeros((1, above.shape[1]), np.int64), np.cumsum(above, axis=0)])
    t = np.arange(len(above))
    count = csum[t + 1] - csum[np.maximum(t + 1 - m, 0)]
    state = np.zeros(above.shape[1], bool)
    out = np.empty_like(above)
    for i in range(len(above)):
        state = np.where(state, count[i] >= clear_k, count[i] >= k)
        out[i] = state
    return out


def raised(active: np.ndarray) -> np.ndarray:
    """Where the state goes from clear to raised (it starts clear), for `debounce_many`'s [T, P]."""
    return active & ~np.vstack([np.zeros((1, active.shape[1]), bool), active[:-1]])


def tally_many(active: np.ndarray, starts: np.ndarray, labels: np.ndarray, window: int, held_out: str,
               unlabelled: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`match_alerts`' counts for P candidates at once, from the alert state after each window [T, P] of one
    stream: held-out segments caught [P] and false alerts [P] (raises wholly inside unlabelled time are neither)."""
    raised_ = raised(active)
    touches = window_fraction_held_out(starts, window, labels == held_out) > 0
    if unlabelled is not None:
        touches |= window_fraction_held_out(starts, window, labels == unlabelled) == 1
    false = (raised_ & ~touches[:, None]).sum(0)
    caught = np.zeros(active.shape[1], np.int64)
    for seg in segments(list(labels)):
        if seg.label == held_out:
            over = (starts < seg.end) & (starts + window > seg.start)
            if over.any():
                caught += raised_[over].any(0)
    return caught, false


def threshold_grid(normal_scores: np.ndarray) -> np.ndarray:
    """The thresholds an operating point is searched over, ascending: quantiles 0.5..1 of the normal windows'
    scores, and one just above them all (no false alert). Scores of -inf (windows a gate keeps from ever being
    above, `alert_gate`) are left out."""
    normal_scores = normal_scores[np.isfinite(normal_scores)]
    grid = np.unique(np.quantile(normal_scores, np.linspace(0.5, 1.0, N_CANDIDATES)))
    return np.append(grid, np.nextafter(normal_scores.max(), np.inf))


def lowest_meeting(grid: np.ndarray, rate: np.ndarray, target: float) -> int:
    """Index of the lowest threshold in the ascending `grid` whose `rate` (false alerts per hour) meets the
    target there and at every higher threshold; the last index when only it does."""
    ok = rate <= target
    if ok.all():
        return 0
    return min(len(grid) - int(np.argmin(ok[::-1])), len(grid) - 1)
