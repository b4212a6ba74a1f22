"""Labelled recordings scored as the device scores them: what a window's true class is, and how a stream's
events compare with the labels (window accuracy, confusion, alerts against a held-out activity).

A labelled recording is a CSV that `ssvae-edge stream` reads (`time`, the channels) with a `label` column
the runtime ignores: a class name per sample, empty where nobody labelled. A window's truth is its
samples' label when they all carry the same one, else none: so accuracy is counted on windows lying wholly
inside one activity segment, and alerts on all of the time (unlabelled time apart, `alert_metrics`).
numpy only: a device can measure itself against labelled data.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
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


def stream_events(bundle: Bundle, path: str | Path, **scorer_options: Any) -> tuple[list[dict], dict]:
    """The events and summary `ssvae-edge stream BUNDLE --input PATH` prints (same reader, same scorer)."""
    scorer = StreamScorer(bundle, **scorer_options)
    reader = SampleReader(path, scorer.channels, bundle.sample_rate_hz)
    events = [e for samples, times in reader for e in scorer.feed(samples, times)]
    return events, scorer.flush(reader.stats.as_dict())


def classification(events: Sequence[dict], labels: np.ndarray, window: int,
                   classes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(truth, the event's class) of the windows lying wholly inside one segment of a bundle class: what
    window accuracy, macro F1 and the confusion matrix are computed on."""
    starts = np.array([e["start"] for e in events], dtype=np.int64)
    truth = window_truth(labels, starts, window)
    keep = [i for i, t in enumerate(truth) if t in set(classes)]
    return truth[keep].astype(str), np.array([events[i]["class"] for i in keep], dtype=str)


def alerts(events: Sequence[dict], labels: np.ndarray, window: int, held_out: str, rate_hz: float) -> dict:
    """The stream's alerts matched against the held-out activity's segments (`alert_metrics`); time nobody
    labelled is neither normal nor held out, and raises wholly inside it are counted apart."""
    starts = [e["start"] for e in events]
    return am.match_alerts(am.segments(list(labels)), starts, [e["alert"] for e in events], window, held_out,
                           rate_hz, UNLABELLED)
