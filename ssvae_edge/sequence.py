"""Sequence decoding: a causal forward filter over the classifier's window probabilities (manifest `sequence`).

One window cannot see what came before it, but activities follow each other by rules a body obeys: a person
who sat down (a stand-to-sit movement) stays seated until a sit-to-stand movement. A bundle whose classes
include such movements can carry those rules as a transition matrix learnt from its training recordings
(`ssvae_train.export.sequence_fit`); the runtime then keeps a belief over the classes and, for each window:

    predicted = belief @ transition            (the class prior at the stream's start)
    belief    = predicted * probs / class_prior, normalised to sum 1

`probs / class_prior` is the window's likelihood up to a constant (the classifier's posterior without the
training class frequencies). The event's class is the belief's argmax and its prob the belief's value there.
The filter looks only backwards: an event still comes out as soon as its window is complete. The same
recurrence runs in the browser (webapp/scorer.js).
"""

from __future__ import annotations

from collections.abc import Sequence as Seq

import numpy as np

from ssvae_edge.errors import InputError


def check_model(transition: object, class_prior: object, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The manifest's matrix and prior as float64 arrays; InputError with one line when they are not a
    row-stochastic [K, K] matrix and a positive K-vector summing to 1."""
    try:
        t = np.asarray(transition, dtype=np.float64)
        p = np.asarray(class_prior, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"sequence: transition and class_prior must be numbers ({e})") from None
    if t.shape != (n_classes, n_classes) or p.shape != (n_classes,):
        raise InputError(f"sequence: transition must be [{n_classes}, {n_classes}] and class_prior [{n_classes}], "
                         f"got {list(t.shape)} and {list(p.shape)}")
    if not (np.isfinite(t).all() and (t >= 0).all() and np.allclose(t.sum(1), 1.0, atol=1e-6)):
        raise InputError("sequence: every transition row must be non-negative and sum to 1")
    if not (np.isfinite(p).all() and (p > 0).all() and abs(p.sum() - 1.0) < 1e-6):
        raise InputError("sequence: class_prior must be positive and sum to 1")
    return t, p


class ForwardFilter:
    """The belief over the classes after each window fed (`update`)."""

    def __init__(self, transition: Seq[Seq[float]] | np.ndarray, class_prior: Seq[float] | np.ndarray):
        n = len(class_prior)
        self.transition, self.class_prior = check_model(transition, class_prior, n)
        self.belief: np.ndarray | None = None

    def update(self, probs: np.ndarray) -> np.ndarray:
        like = np.asarray(probs, dtype=np.float64) / self.class_prior
        predicted = self.class_prior if self.belief is None else self.belief @ self.transition
        b = predicted * like
        total = b.sum()
        # A window no class can explain from where the belief stands (all mass on moves of probability 0):
        # start again from this window's own evidence rather than divide by zero.
        self.belief = b / total if total > 0 and np.isfinite(total) else like / like.sum()
        return self.belief


def forward(probs: np.ndarray, transition: np.ndarray, class_prior: np.ndarray) -> np.ndarray:
    """[n, K] probabilities of one stream's consecutive windows -> the filter's beliefs, window by window."""
    f = ForwardFilter(transition, class_prior)
    return np.stack([f.update(p) for p in probs]) if len(probs) else np.zeros_like(probs, np.float64)
