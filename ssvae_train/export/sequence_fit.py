"""The sequence model a sensor bundle ships (manifest `sequence`, run by `ssvae_edge.sequence.ForwardFilter`):
which class can follow which, learnt from the training people's recordings, and how strictly the runtime holds
to it, chosen on the validation people's recordings (never test).

What is learnt is deliberately little: which moves occur, not how often (a protocol that always goes from
standing to sitting would otherwise teach that order). Where every recording follows one protocol, as in
HAPT, the moves that occur are still the protocol's, so the filter's gain there may overstate free living.
A move from class i to class j is *seen* when, in some training recording, a window of j is the next labelled
window after one of i (unlabelled time in between is skipped). Each class stays with probability 1 - 1/L (L:
its mean run of consecutive windows in training) and leaves to each seen class with an equal share of the
rest; a move never seen gets `unseen` (then the row is normalised). `unseen` is the one strictness knob: 1
would make every move as likely as a seen one, 1e-9 nearly forbids the unseen ones. The class prior is the
training windows' class frequencies.

Rule: the candidate (no filter, or `unseen` in UNSEEN; both after the class smoothing chosen first) with the
highest window accuracy on the validation windows lying wholly inside one class's segment; ties go to no
filter, then to the larger `unseen` (the milder rule). Data sets without continuous recordings get no entry.
"""

from __future__ import annotations

import numpy as np

from ssvae_edge.sequence import forward
from ssvae_edge.smoothing import smooth
from ssvae_train.data.prepared import Prepared
from ssvae_train.export.alert_point import training_recordings
from ssvae_train.export.validation_windows import ValidationProbs, window_accuracy, window_codes

UNSEEN = (1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 1e-9)


def sequence_counts(recs, classes: list[str], window: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(moves [K, K]: how often class j is the next labelled window after class i, i != j; run lengths [K]: the
    mean number of consecutive windows of each class; windows [K]: labelled windows per class)."""
    k = len(classes)
    moves = np.zeros((k, k), np.int64)
    run_sum, run_n, windows = np.zeros(k), np.zeros(k), np.zeros(k, np.int64)
    for rec in recs:
        codes = window_codes(rec, classes, window, np.arange(0, len(rec.x) - window + 1, hop))
        labelled = codes[codes >= 0]
        np.add.at(windows, labelled, 1)
        for a, b in zip(labelled[:-1], labelled[1:], strict=True):
            if a != b:
                moves[a, b] += 1
        # runs: consecutive windows of one class with no unlabelled window between
        run = 0
        for i, c in enumerate(codes):
            run = run + 1 if i and c >= 0 and c == codes[i - 1] else (1 if c >= 0 else 0)
            if c >= 0 and (i + 1 == len(codes) or codes[i + 1] != c):
                run_sum[c] += run
                run_n[c] += 1
    runs = np.where(run_n > 0, run_sum / np.maximum(run_n, 1), 1.0)
    return moves, runs, windows


def transition_matrix(moves: np.ndarray, runs: np.ndarray, unseen: float) -> np.ndarray:
    """The row-stochastic matrix of the module's rule."""
    k = len(runs)
    t = np.zeros((k, k))
    for i in range(k):
        stay = 1.0 - 1.0 / max(float(runs[i]), 1.0 + 1e-6)
        seen = [j for j in range(k) if j != i and moves[i, j] > 0]
        t[i, i] = stay
        for j in range(k):
            if j != i:
                t[i, j] = (1.0 - stay) / len(seen) if j in seen else unseen * (1.0 - stay) / max(len(seen), 1)
        t[i] /= t[i].sum()
    return t


def class_prior(windows: np.ndarray) -> np.ndarray:
    """Training class frequencies, each at least one window (a class with none would divide by zero)."""
    w = np.maximum(windows.astype(np.float64), 1.0)
    return w / w.sum()


def choose_sequence(val: ValidationProbs | None, prep: Prepared, smoothing_windows: int = 1) -> dict | None:
    """{"chosen": the manifest's `sequence` entry, or None when no filter beats the class smoothing already
    chosen; "validation_accuracy": every candidate's}; None without validation and training recordings."""
    train = training_recordings(prep)
    if val is None or not train:
        return None
    return choose_from(val, train, list(prep.ds.classes), int(prep.ds.window), smoothing_windows)


def choose_from(val: ValidationProbs, train: list, classes: list[str], window: int, smoothing_windows: int) -> dict:
    """`choose_sequence` on given training recordings (`SensorRecording`s: `x`, per-sample `labels`)."""
    moves, runs, windows = sequence_counts(train, classes, window, val.hop)
    prior = class_prior(windows)
    scores = {"off": window_accuracy(val, lambda p: smooth(p, smoothing_windows))}
    for u in UNSEEN:
        t = transition_matrix(moves, runs, u)
        scores[f"{u:g}"] = window_accuracy(val, lambda p, t=t: forward(smooth(p, smoothing_windows), t, prior))
    best = max(scores, key=lambda c: (scores[c], c == "off", float(c) if c != "off" else 0.0))
    accuracy = {c: round(a, 6) for c, a in scores.items()}
    if best == "off":
        return {"chosen": None, "validation_accuracy": accuracy}
    unseen = float(best)
    return {"chosen": {
        "transition": transition_matrix(moves, runs, unseen).tolist(), "class_prior": prior.tolist(),
        "unseen": unseen, "validation_accuracy": accuracy, "validation_windows": val.windows,
        "chosen_on": "the validation people's continuous recordings (" + ", ".join(val.names) + ")",
        "learnt_from": f"{len(train)} recordings of the training people: which class was seen to follow which, "
                       "each class's mean run of windows, the class frequencies",
        "rule": "highest window accuracy on validation windows wholly inside one class's segment, against no "
                "filter (the smoothing chosen alone); ties: no filter, then the larger 'unseen'",
        "hop": val.hop}, "validation_accuracy": accuracy}
