"""The alert operating point of a sensor bundle: the threshold and the k-of-m debounce that keep false
alerts under a target rate per hour, fitted on the training split only, never test.

When the data set carries its continuous recordings and groups (HAPT, people), the calibration streams are
the validation people's recordings as they are: all of their time, pauses, transitions and unlabelled
stretches included, the held-out class's segments as the anomalies. False alerts count against labelled
normal time; raises wholly inside unlabelled time are reported apart (`alert_metrics.DEFINITIONS`).
Otherwise calibration streams are built like the test streams (`data/segment_streams.py`): windows end to end in
segments of one class at a time, from the run's validation windows (normal; never trained on) and, when a
class was held out, that class's training windows (never trained on either) as the anomaly segments;
`N_STREAMS` streams of `STREAM_MINUTES`, read at the manifest's hop and scored by the exported anomaly
graph in onnxruntime, so every window the runtime would see at that hop is scored.

For each debounce in `DEBOUNCES` (raise on k of the last m windows above the threshold, clear when none of
the last m is): the lowest threshold at which the streams' false alerts per hour of normal activity stay
at or below the target, there and at every higher candidate. Of those, the debounce that detects the most
held-out segments wins (ties: the shorter median delay, then the larger k). With a delay asked
(`ssvae-export --alert-max-delay`), the points catching `RECALL_FLOOR` of the segments within that median delay
rank ahead of the others first, and a point used that misses the delay is warned about. Without a held-out class
there is nothing to detect, and the runtime's default debounce is kept. Alerts are counted with the
definitions of `ssvae_edge.alert_metrics`, the ones `tools/eval_alerts.py` measures test streams with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ssvae_edge import alert_metrics as am
from ssvae_edge.alerts import DEFAULT_CLEAR_K, DEFAULT_K, DEFAULT_M
from ssvae_train.data.prepared import Prepared
from ssvae_train.data.segment_streams import segment_order
from ssvae_train.export.graphs import run_batched
from ssvae_train.export.rate_bound import hours_to_show, upper_bound

DEBOUNCES = ((1, 1), (2, 2), (2, 3), (3, 4), (3, 5))  # (k, m); clear_k = 1
N_STREAMS = 40
STREAM_MINUTES = 10.0
HELD_OUT = "__held_out__"  # the anomaly segments' label in calibration streams
UNLABELLED_TIME = ""  # the label of samples nobody labelled, in recordings
RECALL_FLOOR = 0.9  # below this share of validation held-out segments caught, the export warns


@dataclass
class Streams:
    """Calibration streams: samples [T, C] and one label per sample, and how they are read."""

    x: list[np.ndarray]
    labels: list[np.ndarray]
    window: int
    hop: int
    rate_hz: float
    sources: dict
    unlabelled: str | None = None  # recordings: the label of unlabelled time (neither normal nor held out)
    groups: tuple[str, ...] | None = None  # recordings: each stream's person (the cross-check splits by person)

    def subset(self, idx) -> Streams:
        """The streams `idx` only (same reading)."""
        return replace(self, x=[self.x[i] for i in idx], labels=[self.labels[i] for i in idx],
                       groups=None if self.groups is None else tuple(self.groups[i] for i in idx))

    @property
    def has_held_out(self) -> bool:
        return any((lab == HELD_OUT).any() for lab in self.labels)

    def normal_mask(self, labels: np.ndarray) -> np.ndarray:
        """Samples of labelled normal time: what false alerts per hour are counted against."""
        return (labels != HELD_OUT) & (labels != self.unlabelled if self.unlabelled is not None else True)


def _recordings_of(prep: Prepared, rows: np.ndarray) -> list:
    """The continuous recordings of the groups (people) the training rows `rows` belong to, or []."""
    ds = prep.ds
    if not ds.recordings or ds.group_names is None or ds.groups_train is None:
        return []
    names = {ds.group_names[int(g)] for g in np.unique(ds.groups_train[rows])}
    return [r for r in ds.recordings if not r.test and r.group in names]


def validation_recordings(prep: Prepared) -> list:
    """The continuous recordings of the groups (people) the run's validation split holds, or []."""
    return _recordings_of(prep, prep.split.val)


def training_recordings(prep: Prepared) -> list:
    """The continuous recordings of the groups (people) the run trained on, or []."""
    return _recordings_of(prep, prep.split.train)


def recording_streams(prep: Prepared, hop: int, recs: list) -> Streams:
    """The recordings `recs` (the validation people's) as they are; the held-out class's segments labelled
    `HELD_OUT`."""
    ds = prep.ds
    held = ds.extra.get("excluded_name")
    labels = [np.where(r.labels == held, HELD_OUT, r.labels) if held else r.labels.copy() for r in recs]
    sources = {"recordings": [r.name for r in recs], "people": sorted({r.group for r in recs}),
               "held_out": held, "builder": "the validation people's continuous recordings, whole"}
    return Streams([r.x for r in recs], labels, int(ds.window), hop, float(ds.sample_rate_hz), sources,
                   unlabelled=UNLABELLED_TIME, groups=tuple(str(r.group) for r in recs))


def calibration_streams(prep: Prepared, hop: int, n: int = N_STREAMS, minutes: float = STREAM_MINUTES) -> Streams:
    """The validation people's recordings when the data set has them (`recording_streams`); else streams of the
    run's validation windows and (if any) its held-out class's training windows."""
    recs = validation_recordings(prep)
    if recs:
        return recording_streams(prep, hop, recs)
    ds = prep.ds
    x_val, y_val = ds.x_train[prep.split.val], ds.y_train[prep.split.val]
    keep = y_val >= 0  # unlabelled validation windows have no class to make segments of
    xs, ys = [x_val[keep]], [y_val[keep]]
    names = list(ds.classes)
    if prep.excluded_rows is not None and len(prep.excluded_rows):
        xs.append(prep.excluded_rows)
        ys.append(np.full(len(prep.excluded_rows), len(names)))
        names.append(HELD_OUT)
    x, y = np.concatenate(xs), np.concatenate(ys)
    present = np.unique(y)
    remap = {int(c): i for i, c in enumerate(present)}  # classes without windows make no segments
    y_seq = np.array([remap[int(c)] for c in y])
    window = x.shape[1]
    per_stream = max(len(present), int(minutes * 60 * ds.sample_rate_hz // window))
    out_x, out_labels = [], []
    for seed in range(n):
        idx = segment_order(y_seq, len(present), per_stream, seed)
        out_x.append(x[idx].reshape(-1, x.shape[2]))
        out_labels.append(np.repeat(np.array(names, dtype=object)[y[idx]], window))
    sources = {
        "normal": f"{int(keep.sum())} validation windows of the run's training split",
        "held_out": f"{0 if prep.excluded_rows is None else len(prep.excluded_rows)} training-split windows of "
                    f"the held-out class {ds.extra.get('excluded_name')!r}" if prep.excluded_rows is not None else None,
        "streams": n, "minutes_each": minutes, "builder": "ssvae_train/data/segment_streams.py (as the test streams)",
    }
    return Streams(out_x, out_labels, window, hop, float(ds.sample_rate_hz), sources)


def window_scores(session, streams: Streams) -> list[tuple[np.ndarray, np.ndarray]]:
    """(window starts, scores) per stream: every window the runtime would score at the streams' hop."""
    out = []
    for x in streams.x:
        starts = np.arange(0, len(x) - streams.window + 1, streams.hop)
        windows = np.stack([x[s : s + streams.window] for s in starts]).astype(np.float32)
        out.append((starts, run_batched(session, {"x": windows}).astype(np.float64)))
    return out


def _false_per_hour(scored, streams: Streams, thresholds: np.ndarray, k: int, m: int) -> np.ndarray:
    """False alerts per hour of normal activity, summed over the streams, for each threshold."""
    false = np.zeros(len(thresholds), np.int64)
    normal = 0
    for (starts, s), labels in zip(scored, streams.labels, strict=True):
        held = labels == HELD_OUT
        touches = am.window_fraction_held_out(starts, streams.window, held) > 0
        if streams.unlabelled is not None:  # raises wholly in unlabelled time are neither false nor true
            touches |= am.window_fraction_held_out(starts, streams.window, labels == streams.unlabelled) == 1
        raises = am.raised(am.debounce_many(s[:, None] > thresholds[None, :], k, m, DEFAULT_CLEAR_K))
        false += (raises & ~touches[:, None]).sum(0)
        normal += int(streams.normal_mask(labels).sum())
    return false / (normal / streams.rate_hz / 3600)


def _measure(scored, streams: Streams, threshold: float, k: int, m: int) -> dict:
    """The exact runtime debouncer and matching at one operating point (what the manifest reports)."""
    results, inside, above = [], [], []
    for (starts, s), labels in zip(scored, streams.labels, strict=True):
        alerts = am.debounce(s > threshold, k, m, DEFAULT_CLEAR_K)
        results.append(am.match_alerts(am.segments(list(labels)), starts, alerts, streams.window, HELD_OUT,
                                       streams.rate_hz, streams.unlabelled))
        frac = am.window_fraction_held_out(starts, streams.window, labels == HELD_OUT)
        inside.append(s[frac == 1.0])
        above.append(s[am.window_fraction_held_out(starts, streams.window, streams.normal_mask(labels)) == 1.0]
                     > threshold)
    r = am.combine(results, streams.rate_hz)
    held_scores = np.concatenate(inside)
    extra = {k: r[k] for k in ("unlabelled_raises", "unlabelled_hours") if k in r}
    return {**extra,
        "k": k, "m": m, "clear_k": DEFAULT_CLEAR_K, "threshold": float(threshold),
        "false_alerts": r["false_alerts"], "normal_hours": r["normal_hours"],
        "false_alerts_per_hour": r["false_alerts_per_hour"],
        "false_alerts_per_hour_upper95": upper_bound(r["false_alerts"], r["normal_hours"]),
        "held_out_segments": r["held_out_segments"], "detected": r["detected"], "segment_recall": r["recall"],
        "median_delay_s": r["delay_seconds_median"],
        "window_detection_rate": float(np.mean(held_scores > threshold)) if len(held_scores) else None,
        "window_false_alarm_rate": float(np.mean(np.concatenate(above))),
    }


def operating_point(session, streams: Streams, target: float,
                    debounces: tuple[tuple[int, int], ...] | None = None, max_delay: float | None = None) -> dict:
    """The chosen operating point, and every debounce's own (in `candidates`), on the streams."""
    return point_of_scores(window_scores(session, streams), streams, target, debounces, max_delay)


def point_of_scores(scored: list[tuple[np.ndarray, np.ndarray]], streams: Streams, target: float,
                    debounces: tuple[tuple[int, int], ...] | None = None, max_delay: float | None = None) -> dict:
    """`operating_point` on window scores already computed: (window starts, scores) per stream. `max_delay`: the
    median delay (s) asked of the alerts, or None; each point carries it (`target_median_delay_s`) for `rank`."""
    normal = np.concatenate([s[am.window_fraction_held_out(st, streams.window, lab == HELD_OUT) == 0]
                             for (st, s), lab in zip(scored, streams.labels, strict=True)])
    grid = am.threshold_grid(normal)
    if debounces is None:
        debounces = DEBOUNCES if streams.has_held_out else ((DEFAULT_K, DEFAULT_M),)
    if not streams.has_held_out:
        max_delay = None  # nothing to be detected, so no delay to meet: none is recorded
    candidates = []
    for k, m in debounces:
        lowest = am.lowest_meeting(grid, _false_per_hour(scored, streams, grid, k, m), target)
        candidates.append({**_measure(scored, streams, float(grid[lowest]), k, m),
                           "target_median_delay_s": max_delay})

    best = min(candidates, key=rank)
    return {**best, "target_false_alerts_per_hour": target, "streams": streams.sources,
            "warnings": warnings(best, target, streams.has_held_out),
            "hop": streams.hop, "candidates": candidates, "rule": RULE + (DELAY_RULE if max_delay is not None else "")}


RULE = ("per debounce, the lowest threshold whose false alerts per hour on the calibration streams stay <= the target "
        "there and above; then the debounce detecting the most held-out segments (ties: shorter median delay, "
        "larger k)")
DELAY_RULE = (f"; points catching at least {RECALL_FLOOR:.0%} of them within the target median delay "
              "(target_median_delay_s) rank ahead of the others")


def rank(point: dict) -> tuple:
    """Lower is better: more held-out segments detected, then the shorter median delay, then the larger k. With a
    delay asked (`target_median_delay_s`), the points catching `RECALL_FLOOR` of the segments within it come first."""
    delay = point["median_delay_s"] if point["median_delay_s"] is not None else np.inf
    return (not meets_delay(point), -(point["detected"] or 0), delay, -point["k"])


def meets_delay(point: dict) -> bool:
    """Whether the point catches `RECALL_FLOOR` of the held-out segments within its target median delay (True when
    no delay is asked of it)."""
    asked = point.get("target_median_delay_s")
    if asked is None:
        return True
    segments, delay = point.get("held_out_segments") or 0, point.get("median_delay_s")
    caught = bool(segments) and (point["detected"] or 0) / segments >= RECALL_FLOOR
    return caught and delay is not None and delay <= asked


def standing(point: dict) -> tuple[bool, int]:
    """Higher is better, between the points of two fits (gated or not, wearer or plain): the delay asked met
    (`meets_delay`), then validation segments caught."""
    return meets_delay(point), point.get("detected") or 0


def warnings(point: dict, target: float, has_held_out: bool) -> list[str]:
    """What a person must know before shipping this operating point: it catches few of the validation
    people's held-out segments, misses its false-alert target there, is slower than the median delay asked of
    it, or was fitted on too little normal time to show the target even with no false alert at all
    (`rate_bound.hours_to_show`)."""
    out = []
    if has_held_out and (point["segment_recall"] or 0.0) < RECALL_FLOOR:
        out.append(f"the alert operating point catches {point['detected']}/{point['held_out_segments']} held-out "
                   f"segments on the calibration streams (below {RECALL_FLOOR:.0%})")
    asked, delay = point.get("target_median_delay_s"), point.get("median_delay_s")
    if has_held_out and asked is not None and delay is not None and delay > asked:
        out.append(f"the alert operating point's median delay on the calibration streams is {delay:.2f} s, above the "
                   f"{asked:g} s asked (--alert-max-delay): no point this fit weighed caught {RECALL_FLOOR:.0%} of "
                   "the held-out segments within it")
    fph = point["false_alerts_per_hour"]
    if fph is not None and fph > target:
        out.append(f"the alert operating point gives {fph:.2f} false alerts/h on the calibration streams, above "
                   f"its target {target:g}")
    hours, need = point.get("normal_hours"), hours_to_show(target)
    if hours and need < float("inf") and hours < need:
        out.append(f"the calibration streams hold {hours:.2f} h of normal time: too short to show {target:g} false "
                   f"alerts/h even with none seen (that takes {need:.1f} h); {point['false_alerts']} in "
                   f"{hours:.2f} h cannot rule out {point['false_alerts_per_hour_upper95']:.2f}/h (95 % bound for "
                   "a threshold fixed in advance; this one was fitted on the same hours)")
    return out
