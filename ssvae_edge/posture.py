"""Sitting or standing: a second opinion on the two still upright postures (manifest `posture`), because the classifier
graph learns how its few training people sit and stand and carries that to new people worse than a linear model of
where gravity points does.

The manifest's `posture` names the two classes and holds a logistic regression of one window's features (or, with
a "+context" set below, of those and their running mean)
(`posture_features`: the mounting estimate's `window_features`, then the unit vector of the accelerometer's mean,
i.e. where gravity points in the phone, and with `features` "window+gravity+log_sd" the log of each channel's
deviation, i.e. how much the body sways: standing sways more than sitting) whose output is the log-odds of the
second class against the first. It is fitted at export on the training people's windows of the two classes and kept
only where it raises the validation people's window accuracy (`ssvae_train.export.posture_fit`). For each window the
runtime gives the larger of the two classes' probabilities to the class the regression picks and the smaller to the
other: every other class keeps its probability, so the posture model decides between sitting and standing and never
whether the wearer is still. With `max_motion_sd` the section also says when the wearer cannot be still: a window
whose acceleration magnitude varies (standard deviation over the window, in g) by more than that gives the
`still_classes`' probability to the other classes in proportion. It runs after the mounting estimate (on the windows
the graphs see) and before the class smoothing. With `min_sd` (one deviation per channel) a window where some channel
varies less than that is left to the classifier: a flat channel (a phone without a gyroscope, a column of zeros) says
nothing of how the body sways. With `features` "long-axis+sway" the model reads only what a turn of the phone
about its long axis (the accelerometer's first, e.g. a phone clipped further round the waist) leaves alone:
`long_axis_features`, from the accelerometer and the `gyroscope` the section names. A set ending in "+context"
(`CONTEXT`) reads that set's features followed by their mean over the last `context_windows` windows of the stream
(this one included): standing sways more than sitting over ten seconds, not only within one window. Without it
the model is stateless: a window's result depends on that window only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssvae_edge.errors import InputError
from ssvae_edge.mounting import channel_pairs, window_features

CONTEXT = "+context"  # a set's name + this: its features and their running mean over `context_windows` windows
FEATURE_SETS = ("window+gravity", "window+gravity+log_sd", "long-axis+sway",  # `posture.features`; absent: the first
                "window+gravity+log_sd" + CONTEXT, "long-axis+sway" + CONTEXT)
LONG_AXIS = FEATURE_SETS[2]  # needs the section's `gyroscope` (and so does its "+context" set)
N_LONG_AXIS = 10
MAX_CONTEXT = 256  # `context_windows` at most: each window sums that many rows, in every runtime


def per_window(features: str | None) -> str | None:
    """The single-window set a feature set reads (the set itself, or the set a "+context" one averages)."""
    return features[: -len(CONTEXT)] if features is not None and features.endswith(CONTEXT) else features


def with_context(f: np.ndarray, recent: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows' features f [n, F] in stream order -> ([n, 2F]: each row followed by the mean of it and the up to k-1
    rows before it, `recent` [<= k-1, F] (the stream's last rows, oldest first) coming before f), and the new
    `recent`. Each mean is summed in float64 oldest row first, then divided: what every runtime computes."""
    rows = np.concatenate([np.asarray(recent, dtype=np.float64).reshape(-1, f.shape[1]), f])
    before = len(rows) - len(f)
    mean = np.empty((len(f), f.shape[1]))
    for j in range(len(f)):
        lo, hi = max(before + j + 1 - k, 0), before + j + 1
        total = rows[lo].copy()
        for row in rows[lo + 1 : hi]:
            total += row
        mean[j] = total / (hi - lo)
    return np.concatenate([f, mean], axis=1), rows[max(len(rows) - (k - 1), 0):] if k > 1 else rows[:0]


def long_axis_features(windows: np.ndarray, accelerometer: Sequence[int], gyroscope: Sequence[int]) -> np.ndarray:
    """[n, T, C] windows -> [n, 10] features that a turn about the accelerometer's first axis leaves unchanged:
    gravity's share along that axis (the mean's first component over its norm, at least 1e-6), the size of the
    mean's other two components, the mean's first component (g), the log deviation along the axis, the log sway
    across it (sqrt of the other two variances), the log deviation of the acceleration magnitude; then the
    gyroscope's mean along the axis, the size of its mean across it, its log deviation along and its log sway
    across. Population variances over the window in float64; every log of a deviation + 1e-6."""
    w = np.asarray(windows, dtype=np.float64)
    a, g = w[:, :, list(accelerometer)], w[:, :, list(gyroscope)]
    ma, va, mg, vg = a.mean(axis=1), a.var(axis=1), g.mean(axis=1), g.var(axis=1)
    norm = np.maximum(np.linalg.norm(ma, axis=1), 1e-6)
    magnitude = np.linalg.norm(a, axis=2).std(axis=1)
    return np.stack([ma[:, 0] / norm, np.hypot(ma[:, 1], ma[:, 2]), ma[:, 0], np.log(np.sqrt(va[:, 0]) + 1e-6),
                     np.log(np.sqrt(va[:, 1] + va[:, 2]) + 1e-6), np.log(magnitude + 1e-6),
                     mg[:, 0], np.hypot(mg[:, 1], mg[:, 2]), np.log(np.sqrt(vg[:, 0]) + 1e-6),
                     np.log(np.sqrt(vg[:, 1] + vg[:, 2]) + 1e-6)], axis=1)


def posture_features(windows: np.ndarray, accelerometer: Sequence[int], features: str | None = None,
                     gyroscope: Sequence[int] | None = None) -> np.ndarray:
    """[n, T, C] windows -> the features of `features` (one of `FEATURE_SETS`; None = "window+gravity"):
    `window_features` [3C + C(C-1)/2], then the unit mean of the three accelerometer channels (indices
    `accelerometer`) [3], then with "+log_sd" the natural log of each channel's deviation as `window_features`
    gives it (1e-6 added) [C]: how much a still body sways, which tells standing from sitting. "long-axis+sway"
    is `long_axis_features` alone (it needs the gyroscope's indices)."""
    features = per_window(features)
    if features == LONG_AXIS:
        if gyroscope is None:
            raise ValueError(f"posture features {LONG_AXIS!r} need the gyroscope's three channels")
        return long_axis_features(windows, accelerometer, gyroscope)
    wf = window_features(windows)
    g = np.asarray(windows, dtype=np.float64)[:, :, list(accelerometer)].mean(axis=1)
    g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-6)
    parts = [wf, g]
    if features == "window+gravity+log_sd":
        c = np.shape(windows)[2]
        parts.append(np.log(wf[:, c : 2 * c]))
    return np.concatenate(parts, axis=1)


def n_features(channels: int, features: str | None = None) -> int:
    """How many numbers the model of `features` reads for `channels` channels (a "+context" set: twice its
    single-window set's)."""
    if per_window(features) != features:
        return 2 * n_features(channels, per_window(features))
    if features == LONG_AXIS:
        return N_LONG_AXIS
    n = 3 * channels + len(channel_pairs(channels)) + 3
    return n + channels if features == "window+gravity+log_sd" else n


class PostureOpinion:
    """The second opinion of one bundle for one stream: `apply(probs, windows)` returns the probabilities with the
    two postures' values given as the regression says, and counts the windows where that changed the class. With a
    "+context" set it keeps the stream's last windows' features: give it the windows in stream order."""

    def __init__(self, section, classes: Sequence[str], channels: Sequence[str]):
        self.a, self.b = (list(classes).index(c) for c in section.classes)
        self.accelerometer = [list(channels).index(c) for c in section.accelerometer]
        self.gyroscope = None if section.gyroscope is None else [list(channels).index(c) for c in section.gyroscope]
        self.center = np.asarray(section.center, dtype=np.float64)
        self.scale = np.asarray(section.scale, dtype=np.float64)
        self.weights = np.asarray(section.weights, dtype=np.float64)
        self.bias = float(section.bias)
        self.features = section.features
        self.min_sd = None if section.min_sd is None else np.asarray(section.min_sd, dtype=np.float64)
        self.max_motion_sd = section.max_motion_sd
        self.still = [list(classes).index(c) for c in section.still_classes or ()]
        self.context = section.context_windows or 1  # check_section: given with a "+context" set, and only then
        self.recent = np.zeros((0, n_features(len(channels), per_window(self.features))))
        self.changed_windows = 0

    def _not_still_when_moving(self, probs: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """Windows in motion: the still classes' probability to the others, in proportion (kept as it is when
        the others have none)."""
        moving = motion_sd(windows, self.accelerometer) > self.max_motion_sd
        rest = probs.astype(np.float64)  # float64 sums in class order: what the browser runtime computes
        rest[:, self.still] = 0
        total = rest.sum(axis=1, keepdims=True)
        take = moving & (total[:, 0] > 0)
        return np.where(take[:, None], rest / np.where(total > 0, total, 1), probs).astype(probs.dtype)

    def _features(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(single-window features, judged) of each window, from one pass over them."""
        f = posture_features(windows, self.accelerometer, self.features, self.gyroscope)
        judged = np.ones(len(f), dtype=bool)
        if self.min_sd is not None:
            c = np.shape(windows)[2]  # window_features' deviations are its second block: f[:, c:2c] when f opens
            opens = per_window(self.features) != LONG_AXIS  # with it
            sd = f[:, c : 2 * c] if opens else window_features(windows)[:, c : 2 * c]
            judged = (sd >= self.min_sd).all(axis=1)
        return f, judged

    def _decide(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds, judged) of the stream's next windows: with a "+context" set every window, judged or not,
        joins the running mean."""
        f, judged = self._features(windows)
        if self.context > 1:
            f, self.recent = with_context(f, self.recent, self.context)
        return ((f - self.center) / self.scale) @ self.weights + self.bias, judged

    def judged(self, windows: np.ndarray) -> np.ndarray:
        """Windows the model may decide: with `min_sd`, those whose every channel varies at least that much (a
        flat channel, e.g. a phone without a gyroscope, says nothing of how the body sways); else all. Leaves
        the stream's running mean alone."""
        return self._features(windows)[1]

    def log_odds(self, windows: np.ndarray) -> np.ndarray:
        """Each window's log-odds of the second posture (`classes[1]`) against the first (the stream's next
        windows, as in `apply`)."""
        return self._decide(windows)[0]

    def apply(self, probs: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """probs [n, K] of `windows` [n, T, C] -> the same with columns a and b given by the regression (and, with
        a motion gate, the still classes emptied for windows in motion)."""
        if not len(probs):
            return probs
        z, judged = self._decide(windows)
        second = z > 0
        pa, pb = probs[:, self.a], probs[:, self.b]
        hi, lo = np.maximum(pa, pb), np.minimum(pa, pb)
        out = probs.copy()
        out[:, self.a] = np.where(judged, np.where(second, lo, hi), pa)
        out[:, self.b] = np.where(judged, np.where(second, hi, lo), pb)
        if self.max_motion_sd is not None:
            out = self._not_still_when_moving(out, windows)
        self.changed_windows += int((out.argmax(axis=1) != probs.argmax(axis=1)).sum())
        return out


def motion_sd(windows: np.ndarray, accelerometer: Sequence[int]) -> np.ndarray:
    """Each window's standard deviation over time of the acceleration magnitude (population, float64)."""
    return np.linalg.norm(np.asarray(windows, dtype=np.float64)[:, :, list(accelerometer)], axis=2).std(axis=1)


def check_section(section, channels: Sequence[str], classes: Sequence[str]) -> None:
    """InputError with one line when the manifest's `posture` does not fit the bundle's classes or channels."""
    if len(section.classes) != 2 or section.classes[0] == section.classes[1]:
        raise InputError(f"posture: 'classes' must name two different classes, got {list(section.classes)}")
    missing = [c for c in section.classes if c not in classes]
    if missing:
        raise InputError(f"posture: {missing[0]!r} is not one of the bundle's classes")
    if len(section.accelerometer) != 3 or any(c not in channels for c in section.accelerometer):
        raise InputError(f"posture: 'accelerometer' must name three of the bundle's channels, got "
                         f"{list(section.accelerometer)}")
    if section.min_sd is not None and (len(section.min_sd) != len(channels) or not all(v > 0 for v in section.min_sd)):
        raise InputError(f"posture: 'min_sd' must hold one positive number per channel ({len(channels)})")
    if section.features is not None and section.features not in FEATURE_SETS:
        raise InputError(f"posture: 'features' must be one of {', '.join(FEATURE_SETS)}, got {section.features!r}")
    context = section.context_windows
    if (per_window(section.features) != section.features) != (context is not None):
        raise InputError("posture: 'context_windows' comes with a features set ending in '+context', and only then")
    if context is not None and (not isinstance(context, int) or isinstance(context, bool)
                                or not 2 <= context <= MAX_CONTEXT):
        raise InputError(f"posture: 'context_windows' must be an integer from 2 to {MAX_CONTEXT}, got {context!r}")
    gyro = section.gyroscope
    if (per_window(section.features) == LONG_AXIS or gyro is not None) and (
            gyro is None or len(gyro) != 3 or any(c not in channels for c in gyro)):
        raise InputError(f"posture: features {LONG_AXIS!r} need 'gyroscope', three of the bundle's channels (and "
                         f"a 'gyroscope' given must be that), got {None if gyro is None else list(gyro)}")
    c = len(channels)
    n = n_features(c, section.features)
    for key in ("center", "scale", "weights"):
        if len(getattr(section, key)) != n:
            raise InputError(f"posture: '{key}' must have {n} numbers for {c} channels and features "
                             f"{section.features or FEATURE_SETS[0]!r}, got {len(getattr(section, key))}")
    if any(v <= 0 for v in section.scale):
        raise InputError("posture: 'scale' must be positive")
    if (section.max_motion_sd is None) != (section.still_classes is None):
        raise InputError("posture: 'max_motion_sd' and 'still_classes' come together")
    if section.max_motion_sd is not None:
        if not section.max_motion_sd > 0:
            raise InputError(f"posture: 'max_motion_sd' must be positive, got {section.max_motion_sd}")
        unknown = [c for c in section.still_classes if c not in classes]
        if unknown:
            raise InputError(f"posture: still class {unknown[0]!r} is not one of the bundle's classes")
