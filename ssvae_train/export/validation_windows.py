"""The validation people's continuous recordings cut into windows as the runtime cuts them, each window's class
and the classifier's probabilities: what the stream decoding choices (`class_smoothing`, `sequence_fit`,
`mounting_fit`) are judged on, computed once per export (`validation_probs`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssvae_edge.labelled import window_truth
from ssvae_edge.sequence import forward
from ssvae_edge.smoothing import smooth
from ssvae_train.data.prepared import Prepared
from ssvae_train.export.alert_point import validation_recordings
from ssvae_train.export.graphs import run_batched


def recording_windows(rec, window: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """A recording's windows [n, window, C] at `hop`, as the runtime cuts them, and their starts."""
    starts = np.arange(0, len(rec.x) - window + 1, hop)
    if not len(starts):
        return np.zeros((0, window, rec.x.shape[1]), np.float32), starts
    return np.stack([rec.x[s : s + window] for s in starts]), starts


def window_codes(rec, classes: list[str], window: int, starts: np.ndarray) -> np.ndarray:
    """Each window's class index (-1: unlabelled, mixed, or not one of `classes`)."""
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index.get(t, -1) for t in window_truth(rec.labels, starts, window)], dtype=np.int64)


@dataclass
class ValidationProbs:
    """The classifier's probabilities over the validation people's recordings, streamed at the bundle's hop:
    per recording, (probs [n, K], each window's class index or -1 where it lies in no one class's segment),
    and (when kept) the windows themselves."""

    per_recording: list[tuple[np.ndarray, np.ndarray]]
    names: list[str]
    hop: int
    inputs: list[np.ndarray] = field(default_factory=list)

    @property
    def windows(self) -> int:
        return sum(int((codes >= 0).sum()) for _, codes in self.per_recording)


def validation_probs(session, prep: Prepared) -> ValidationProbs | None:
    """The run's validation recordings scored by `session` (the classifier graph), or None without them."""
    recs = validation_recordings(prep)
    if session is None or not recs:
        return None
    ds = prep.ds
    window, hop, classes = int(ds.window), int(ds.hop), list(ds.classes)
    per_rec, names, inputs = [], [], []
    for rec in recs:
        w, starts = recording_windows(rec, window, hop)
        if not len(w):
            continue
        per_rec.append((run_batched(session, {"x": w}), window_codes(rec, classes, window, starts)))
        names.append(rec.name)
        inputs.append(w)
    return ValidationProbs(per_rec, names, hop, inputs) if per_rec else None


def window_accuracy(val: ValidationProbs, decode) -> float:
    """Accuracy of `decode(probs) -> [n, K]` on the validation windows lying wholly inside one class's segment."""
    right = sum(int((decode(p).argmax(1)[codes >= 0] == codes[codes >= 0]).sum()) for p, codes in val.per_recording)
    return right / max(1, val.windows)


def chosen_decoding(smoothing_windows: int, sequence: dict | None):
    """probs [n, K] -> what the runtime decodes from them with the choices already made: the class smoothing, then
    the sequence filter when there is one (what the later choices, mounting and posture, are judged with)."""
    def decode(p: np.ndarray) -> np.ndarray:
        q = smooth(p, smoothing_windows)
        return forward(q, np.array(sequence["transition"]), np.array(sequence["class_prior"])) if sequence else q
    return decode
