"""Labelled recordings scored as the device scores them: what a window's true class is, and how a stream's
events compare with the labels (window accuracy, confusion, alerts against a held-out activity, at the
bundle's operating point or replayed at another).

A labelled recording is a CSV that `ssvae-edge stream` reads (`time`, the channels) with a `label` column
the runtime ignores: a class name per sample, empty where nobody labelled. A window's truth is its
samples' label when they all carry the same one, else none: so accuracy is counted on windows lying wholly
inside one activity segment, and alerts on all of the time (unlabelled time apart, `alert_metrics`).
numpy only: a device can measure itself against labelled data.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssvae_edge import alert_metrics as am
from ssvae_edge.bundle import Bundle
from ssvae_edge.csvinput import LABEL, SampleReader
from ssvae_edge.errors import InputError
from ssvae_edge.stream import StreamScorer

UNLABELLED = ""  # the label of samples nobody labelled


def read_labels(path: str | Path) -> np.ndarray:
    """The `label` column of a CSV recording, one str per sample row ("" where blank)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        if LABEL not in header:
            raise InputError(f"{path}: no {LABEL!r} column: a labelled recording names each sample's class")
        col = header.index(LABEL)
        return np.array([row[col].strip() if len(row) > col else UNLABELLED
                         for row in reader if row and any(v.strip() for v in row)], dtype=object)


def window_truth(labels: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """Each window's label when all its samples carry the same one (else UNLABELLED)."""
    out = np.full(len(starts), UNLABELLED, dtype=object)
    for i, s in enumerate(starts):
        seg = labels[s : s + window]
        if len(seg) == window and seg[0] != UNLABELLED and (seg == seg[0]).all():
            out[i] = seg[0]
    return out


@dataclass
class ScoredStream:
    """One labelled recording as the runtime streamed it: its labels (one per sample read), the events
    `ssvae-edge stream` prints and its summary, and the scorer's window, hop and debounce."""

    path: Path
    labels: np.ndarray
    events: list[dict]
    summary: dict
    window: int
    hop: int
    debounce: tuple[int, int, int]  # k, m, clear_k

    @property
    def starts(self) -> np.ndarray:
        return np.array([e["start"] for e in self.events], dtype=np.int64)

    @property
    def scores(self) -> np.ndarray:
        """The scores the alerts compared with the threshold: the wearer-adjusted ones when the stream ran with a
        wearer baseline (`wearer_score`), else the plain ones."""
        key = "wearer_score" if self.events and "wearer_score" in self.events[0] else "score"
        return np.array([e[key] for e in self.events], dtype=np.float64)

    @property
    def alerts(self) -> list[bool]:
        return [bool(e["alert"]) for e in self.events]

    @property
    def classes(self) -> list[str]:
        return [e["class"] for e in self.events]

    def held_out_fraction(self, held_out: str) -> np.ndarray:
        """Per window, the fraction of its samples labelled `held_out` (1: wholly held out, 0: wholly not)."""
        return am.window_fraction_held_out(self.starts, self.window, self.labels == held_out)


def score_stream(bundle: Bundle, path: str | Path, max_samples: int | None = None,
                 **scorer_options: Any) -> ScoredStream:
    """Stream a labelled recording through `bundle` as `ssvae-edge stream BUNDLE --input PATH` does (same
    reader, same scorer, its defaults unless `scorer_options` say otherwise); `max_samples`: its first
    samples only."""
    scorer = StreamScorer(bundle, **scorer_options)
    reader = SampleReader(path, scorer.channels, bundle.sample_rate_hz)
    events, n = [], 0
    for samples, times in reader:
        if max_samples is not None:
            samples = samples[: max_samples - n]
            times = None if times is None else times[: len(samples)]
        events += scorer.feed(samples, times)
        n += len(samples)
        if max_samples is not None and n >= max_samples:
            break
    summary = scorer.flush(reader.stats.as_dict())
    a = scorer.alerts
    return ScoredStream(Path(path), read_labels(path)[:n], events, summary, scorer.window, scorer.hop,
                        (a.k, a.m, a.clear_k))


def stream_events(bundle: Bundle, path: str | Path, **scorer_options: Any) -> tuple[list[dict], dict]:
    """The events and summary `ssvae-edge stream BUNDLE --input PATH` prints (same reader, same scorer)."""
    s = score_stream(bundle, path, **scorer_options)
    return s.events, s.summary


def alerts_at(streams: Sequence[ScoredStream], held_out: str, rate_hz: float, threshold: float | None = None,
              debounce: tuple[int, int, int] | None = None) -> dict:
    """The streams' alerts matched against the held-out activity's segments and combined (`alert_metrics`):
    as the runtime raised them, or (`threshold` and `debounce` given) replayed at another operating point
    with the runtime's own debouncing."""
    per = []
    for s in streams:
        raised = s.alerts if threshold is None else am.debounce(s.scores > threshold, *debounce)
        per.append(am.match_alerts(am.segments(list(s.labels)), s.starts, raised, s.window, held_out, rate_hz,
                                   UNLABELLED))
    return am.combine(per, rate_hz)


def operating_point(streams: Sequence[ScoredStream], held_out: str, rate_hz: float, threshold: float,
                    debounce: tuple[int, int, int], replay: bool = True) -> dict:
    """One operating point on the streams: the fraction of wholly held-out and of wholly normal windows
    above `threshold` (window TPR, FPR) and the alerts matched (`alerts_at`): replayed at `threshold` and
    `debounce`, or (`replay` False) as the runtime raised them at those settings."""
    scores = np.concatenate([s.scores for s in streams])
    frac = np.concatenate([s.held_out_fraction(held_out) for s in streams])
    pos, neg = scores[frac == 1.0], scores[frac == 0.0]
    matched = alerts_at(streams, held_out, rate_hz, *((threshold, debounce) if replay else ()))
    k, m, clear_k = debounce
    return {"threshold": threshold, "k": k, "m": m, "clear_k": clear_k,
            "window_tpr": float(np.mean(pos > threshold)) if len(pos) else None,
            "window_fpr": float(np.mean(neg > threshold)) if len(neg) else None,
            **{key: v for key, v in matched.items() if key != "per_segment"}, "per_segment": matched["per_segment"]}


def replay_matches_runtime(streams: Sequence[ScoredStream], threshold: float) -> bool:
    """Whether debouncing the scores at `threshold` with each stream's debounce gives the runtime's alerts."""
    return all(am.debounce(s.scores > threshold, *s.debounce) == s.alerts for s in streams)


def classification(events: Sequence[dict], labels: np.ndarray, window: int,
                   classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(truth, the event's class) of the windows lying wholly inside one segment of a bundle class: what
    window accuracy, macro F1 and the confusion matrix are computed on."""
    starts = np.array([e["start"] for e in events], dtype=np.int64)
    truth = window_truth(labels, starts, window)
    known = set(classes)
    keep = [i for i, t in enumerate(truth) if t in known]
    return truth[keep].astype(str), np.array([events[i]["class"] for i in keep], dtype=str)


def alerts(events: Sequence[dict], labels: np.ndarray, window: int, held_out: str, rate_hz: float) -> dict:
    """The stream's alerts matched against the held-out activity's segments (`alert_metrics`); time nobody
    labelled is neither normal nor held out, and raises wholly inside it are counted apart."""
    starts = [e["start"] for e in events]
    return am.match_alerts(am.segments(list(labels)), starts, [e["alert"] for e in events], window, held_out,
                           rate_hz, UNLABELLED)


@dataclass
class Scored:
    """Labelled recordings streamed by one bundle: the windows accuracy is counted on (truth, the stream's
    class), the alerts matched per recording and combined, and each recording's labels and events."""

    truth: np.ndarray
    predicted: np.ndarray
    per_recording: list[dict] = field(default_factory=list)
    alerts: dict | None = None
    streams: dict[str, tuple[np.ndarray, list[dict]]] = field(default_factory=dict)


def score_recordings(bundle: Bundle, files: Sequence[str | Path], counted: Sequence[str] | None = None,
                     **scorer_options: Any) -> Scored:
    """Stream every labelled recording whole through `bundle` (as `ssvae-edge stream` does, at the bundle's
    defaults unless `scorer_options` say otherwise) and compare with its labels. `counted`: the classes whose
    windows accuracy is counted on (default: all the bundle's; a window of another class may still be read as
    one of them, and one of them as another). A bundle trained with a class held out (manifest
    `producer.excluded_class_name`) has its alerts matched against that class's segments."""
    held = bundle.manifest.excluded_class_name
    truth, pred, matched, rows, streams = [], [], [], [], {}
    for f in map(Path, files):
        labels = read_labels(f)
        events, summary = stream_events(bundle, f, **scorer_options)
        t, p = classification(events, labels, bundle.window, bundle.classes if counted is None else counted)
        truth.append(t)
        pred.append(p)
        row = {"recording": f.stem, "windows_scored": summary["windows"], "windows_in_one_segment": len(t),
               "accuracy": float(np.mean(t == p)) if len(t) else None}
        if held:
            r = alerts(events, labels, bundle.window, held, bundle.sample_rate_hz)
            matched.append(r)
            row.update({k: r[k] for k in ("held_out_segments", "detected", "false_alerts", "unlabelled_raises")})
        rows.append(row)
        streams[f.stem] = (labels, events)
    combined = None
    if held:
        r = am.combine(matched, bundle.sample_rate_hz)
        combined = {"held_out": held, **{k: r[k] for k in (
            "held_out_segments", "detected", "recall", "delay_seconds_median", "false_alerts", "normal_hours",
            "false_alerts_per_hour", "unlabelled_raises", "unlabelled_hours", "alerts_raised")}}
    return Scored(np.concatenate(truth), np.concatenate(pred), rows, combined, streams)
