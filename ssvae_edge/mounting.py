"""Which way round the phone is clipped on: a causal estimate from the stream's own samples (manifest
`mounting`), so a bundle trained on phones worn one way still reads a phone clipped on the other way round.

A phone on a belt can face out or in: turned 180° about its long (x) axis, its y and z axes change sign, and a
classifier that learnt the tilt of one mounting reads the other as nonsense. The manifest's `mounting` holds a
linear model of one window's features (`window_features`: each channel's mean, standard deviation and
skewness, and the correlation of every channel pair) whose output is the log-odds that the window comes from
a phone turned around, fitted at export on the training people's windows as worn and turned
(`ssvae_train.export.mounting_fit`). The runtime adds each window's log-odds (clipped to ±`clip`) to a running
sum that starts at -`prior` (the evidence needed before believing the phone is turned), and a window whose sum
is above 0 is turned back (multiplied by `flip`, per channel) before any graph sees it. Walking gives strong
evidence, standing still weak: the estimate settles within a few steps. It looks only backwards and only at
unlabelled samples, and a window's result does not depend on how the stream was cut into chunks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssvae_edge.errors import InputError

MODES = ("auto", "worn", "turned")  # estimate | never turn back | always turn back (the user said so)


def channel_pairs(c: int) -> list[tuple[int, int]]:
    """The channel pairs whose correlation is a feature, in order."""
    return [(i, j) for i in range(c) for j in range(i + 1, c)]


def window_features(windows: np.ndarray) -> np.ndarray:
    """[n, T, C] windows -> [n, 3C + C(C-1)/2] features: means, standard deviations, skewness (each per
    channel), then the correlation of each channel pair (`channel_pairs`). float64; a flat channel's
    deviation is taken as 1e-6 so nothing divides by zero."""
    w = np.asarray(windows, dtype=np.float64)
    mean = w.mean(axis=1)
    centred = w - mean[:, None, :]
    sd = np.sqrt((centred**2).mean(axis=1)) + 1e-6
    z = centred / sd[:, None, :]
    skew = (z * z * z).mean(axis=1)  # not z ** 3: numpy's float power is ten times slower
    i, j = np.triu_indices(w.shape[2], k=1)  # the order of channel_pairs
    cov = np.matmul(centred.transpose(0, 2, 1), centred) / w.shape[1]
    corr = cov[:, i, j] / (sd[:, i] * sd[:, j])
    return np.concatenate([mean, sd, skew, corr], axis=1)


def decisions(log_odds: np.ndarray, evidence: float, clip: float) -> tuple[np.ndarray, float]:
    """The rule over consecutive windows' log-odds: (turned back or not, per window; the evidence after them).
    `evidence` is the running sum before them (-prior at a stream's start)."""
    sums = evidence + np.cumsum(np.clip(log_odds, -clip, clip))
    return sums > 0, float(sums[-1]) if len(sums) else evidence


class MountingEstimate:
    """The running estimate over one stream: `turn_back(windows)` returns the windows as the graphs should see
    them and which of them were turned back."""

    def __init__(self, section, mode: str = "auto"):
        if mode not in MODES:
            raise InputError(f"mounting must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.flip = np.asarray(section.flip, dtype=np.float32)
        self.center = np.asarray(section.center, dtype=np.float64)
        self.scale = np.asarray(section.scale, dtype=np.float64)
        self.weights = np.asarray(section.weights, dtype=np.float64)
        self.bias, self.clip = float(section.bias), float(section.clip)
        self.evidence = -float(section.prior)  # the running sum; > 0: the phone is turned around
        self.turned_windows = 0

    def log_odds(self, windows: np.ndarray) -> np.ndarray:
        """Each window's log-odds of coming from a phone turned around."""
        return ((window_features(windows) - self.center) / self.scale) @ self.weights + self.bias

    def turn_back(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(windows)
        if self.mode != "auto":
            turned = np.full(n, self.mode == "turned")
        else:
            turned, self.evidence = decisions(self.log_odds(windows) if n else np.zeros(0), self.evidence, self.clip)
        self.turned_windows += int(turned.sum())
        out = np.where(turned[:, None, None], windows * self.flip, windows).astype(windows.dtype, copy=False)
        return out, turned


def check_section(section, channels: Sequence[str]) -> None:
    """InputError with one line when the manifest's `mounting` does not fit its channels."""
    c = len(channels)
    n_features = 3 * c + len(channel_pairs(c))
    for key, size in (("flip", c), ("center", n_features), ("scale", n_features), ("weights", n_features)):
        if len(getattr(section, key)) != size:
            raise InputError(f"mounting: '{key}' must have {size} numbers for {c} channels, "
                             f"got {len(getattr(section, key))}")
    if any(v <= 0 for v in section.scale) or section.clip <= 0:
        raise InputError("mounting: 'scale' and 'clip' must be positive")
