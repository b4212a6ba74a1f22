"""Fit a sensor bundle's alert operating point on the wearer-adjusted score (`ssvae_edge.wearer_baseline`), and
keep it only where it beats the plain score's point on validation people.

Inputs are recordings, never test: the training people's (each class's prior = the median score of their
windows of that class, as the runtime classes them) and the validation people's, labelled, with the held-out
activity's segments (the calibration streams of `alert_point`). For each prior weight in `PRIOR_WINDOWS` the
alert point is fitted on the adjusted scores by the exporter's own rule (`alert_point.point_of_scores`: per
debounce the lowest threshold meeting the false-alert target, then the debounce detecting most held-out
segments); the best of them (`alert_point.rank`) is kept when it detects more held-out segments than the plain
score's point fitted the same way on the same streams. The scores and classes are the runtime's: every
recording is streamed whole by `StreamScorer` at the operating point's hop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ssvae_edge.bundle import Bundle
from ssvae_edge.recalibrate import write_copy
from ssvae_edge.sections import WearerBaselineSection
from ssvae_edge.stream import StreamScorer
from ssvae_edge.wearer_baseline import adjusted_scores
from ssvae_train.export.alert_point import Streams, point_of_scores, rank

PRIOR_WINDOWS = (5, 20)  # how many windows a class's prior counts as: the wearer takes over within a minute or so
RULE = ("per prior weight, the exporter's alert rule on the adjusted scores of the validation people's recordings; "
        "the best (most held-out segments, then shorter delay, then larger k) is kept only when it detects more "
        "held-out segments than the plain score's point fitted the same way on the same recordings")


def stream_whole(bundle: Bundle, x: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(window starts, scores, event classes) of one recording streamed whole by the runtime (no baseline)."""
    scorer = StreamScorer(bundle, hop=hop, wearer_baseline=False)
    events = scorer.feed(x)
    return (np.array([e["start"] for e in events], np.int64), np.array([e["score"] for e in events], np.float64),
            [e["class"] for e in events])


def class_priors(bundle: Bundle, recordings: Sequence[np.ndarray], hop: int) -> dict[str, float]:
    """Each class's median score over the training people's windows the runtime gives that class (a class no
    window got: the median of all windows)."""
    streamed = [stream_whole(bundle, x, hop) for x in recordings]
    scores = np.concatenate([s for _, s, _ in streamed])
    labels = np.concatenate([np.asarray(c, dtype=object) for _, _, c in streamed])
    return {c: float(np.median(scores[labels == c])) if (labels == c).any() else float(np.median(scores))
            for c in bundle.classes}


def fit(bundle_dir: str | Path, training: Sequence[np.ndarray], validation: Streams, target: float,
        prior_windows: Sequence[int] = PRIOR_WINDOWS) -> tuple[WearerBaselineSection, bool]:
    """The best wearer-baseline point on the validation streams, and whether it beats the plain score's there."""
    b = Bundle.load(bundle_dir, providers="cpu", threads=1)
    if not (b.has("classifier") and b.has("anomaly")):
        raise ValueError(f"{bundle_dir}: a wearer baseline needs the classifier and the anomaly graph")
    hop = validation.hop
    prior = class_priors(b, training, hop)
    streamed = [stream_whole(b, x, hop) for x in validation.x]
    plain = point_of_scores([(st, s) for st, s, _ in streamed], validation, target)
    candidates = []
    for n0 in prior_windows:
        scored = [(st, adjusted_scores(s, c, prior, n0)) for st, s, c in streamed]
        candidates.append({**point_of_scores(scored, validation, target), "prior_windows": int(n0)})
    best = min(candidates, key=rank)
    threshold_int8 = None
    if "anomaly" in b.manifest.graph_set("int8"):
        b8 = Bundle.load(bundle_dir, providers="cpu", threads=1, precision="int8")
        scored8 = [(st, adjusted_scores(s, c, prior, best["prior_windows"]))
                   for st, s, c in (stream_whole(b8, x, hop) for x in validation.x)]
        threshold_int8 = point_of_scores(scored8, validation, target, ((best["k"], best["m"]),))["threshold"]
    keys = ("k", "m", "threshold", "false_alerts_per_hour", "detected", "held_out_segments", "median_delay_s")
    section = WearerBaselineSection(
        prior=prior, prior_windows=best["prior_windows"], k=best["k"], m=best["m"], clear_k=best["clear_k"],
        threshold=best["threshold"], threshold_int8=threshold_int8, target_false_alerts_per_hour=target,
        false_alerts_per_hour=best["false_alerts_per_hour"], detected=best["detected"],
        held_out_segments=best["held_out_segments"], median_delay_s=best["median_delay_s"],
        unlabelled_raises=best.get("unlabelled_raises"),
        plain_score={key: plain[key] for key in keys},
        candidates=tuple({"prior_windows": c["prior_windows"], **{key: c[key] for key in keys}} for c in candidates),
        fitted_on={"validation": validation.sources, "training_recordings": len(training), "hop": hop},
        rule=RULE)
    return section, (best["detected"] or 0) > (plain["detected"] or 0)


def write_with_baseline(bundle_dir: str | Path, out: str | Path, section: WearerBaselineSection) -> None:
    """A copy of the bundle whose manifest's `alert` holds `section` (graphs unchanged)."""
    m = Bundle.load(bundle_dir, providers="cpu", threads=1).manifest
    if m.alert is None:
        raise ValueError(f"{bundle_dir}: no alert operating point to add a wearer baseline to")
    write_copy(Path(bundle_dir), Path(out), replace(m, alert=replace(m.alert, wearer_baseline=section)).checked())
