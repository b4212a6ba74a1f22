"""The posture second opinion a phone bundle ships (manifest `posture`, run by `ssvae_edge.posture`): a logistic
regression (scikit-learn) of one window's features (with a "+context" set, those and their mean over the stream's
last windows) telling SITTING from STANDING, fitted on the run's labelled
training windows of the two (the labels it kept, never validation people's), kept only where it raises the
validation people's window accuracy.

Its features are `FEATURES` (`ssvae_edge.posture.FEATURE_SETS`): where gravity points, plus the log of each
channel's deviation, chosen by leaving each of HAPT's 21 training people out in turn and fitting on the other 20
(their labelled SITTING/STANDING windows only; no validation or test figure involved): 88.9 % of the held-out
person's windows right with the gravity set, 93.1 % with the log deviations added (`tools/posture_features.py`,
`results/posture-features.md`).

Where the bundle has a gyroscope, the export also fits `LONG_AXIS` (`ssvae_edge.posture.long_axis_features`:
only what a turn of the phone about its long axis leaves alone, 91.2 % leaving one person out) and keeps the
set whose posture model reads the validation people better: on HAPT a phone clipped further round the waist
turns the tilt the first set reads (`results/hapt-bundles.md`, twenty-third round).

Where the rows are windows of known recordings, each set's "+context" version (`ssvae_edge.posture.CONTEXT`: the
set's features and their mean over the stream's last `--posture-context` windows, 8 by default) is weighed too:
leaving each of HAPT's 21 training people out (those include every run's validation people, so the later check on
them is not independent of this probe) it put 94.50 % (sway set) and 94.08 % (long-axis set) of the held-out
person's windows right, against 93.09 % and 91.20 % from one window (`tools/posture_context.py`,
`results/posture-context.md`). 8 windows (about 10 s at HAPT's hop) is the long-axis set's best of 4, 8, 16 and 32,
within 0.22 point of the sway set's best (32), at a quarter of that one's lag.

Why: on HAPT the classifier graph reads whole sitting segments of new people as standing (and back). A linear
model of where gravity points told the two apart better on the validation people of three runs (a probe,
`results/hapt-bundles.md`, eleventh round). Rule: streamed over the validation people's recordings as the runtime
does (the chosen mounting estimate, then this, then the chosen class smoothing and sequence filter), the
posture model ships if the window accuracy with it is higher than without it; then its motion gate (windows
whose acceleration magnitude varies by more than `MOVING_SD_G` are not in a still posture) joins it if the
accuracy is higher again with the gate.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ssvae_edge.mounting import MountingEstimate, window_features
from ssvae_edge.posture import (
    CONTEXT,
    FEATURE_SETS,
    LONG_AXIS,
    PostureOpinion,
    per_window,
    posture_features,
    with_context,
)
from ssvae_train.data.prepared import Prepared
from ssvae_train.data.triples import accelerometer, xyz_triples
from ssvae_train.errors import UserError
from ssvae_train.export.graphs import run_batched
from ssvae_train.export.validation_windows import ValidationProbs, chosen_decoding
from ssvae_train.training.augment import MOVING_SD_G

POSTURES = ("SITTING", "STANDING")  # the regression's output is the log-odds of the second
STILL = ("SITTING", "STANDING", "LAYING")  # the motion gate's still classes (those the bundle has)
FEATURES = FEATURE_SETS[1]  # "window+gravity+log_sd": chosen leaving one training person out (module docstring)


def accelerometer_channels(channels: list[str]) -> list[str] | None:
    """The three channels `posture_features` reads gravity from, or None when the bundle has no accelerometer."""
    try:
        return [channels[i] for i in accelerometer(channels, xyz_triples(channels))]
    except UserError:
        return None


def gyroscope_channels(channels: list[str]) -> list[str] | None:
    """The first x/y/z triple whose names hold "gyro" (axes in the accelerometer's order), or None."""
    for t in xyz_triples(channels):
        if "gyro" in channels[t[0]].lower():
            return [channels[i] for i in t]
    return None


def fit_model(x: np.ndarray, y: np.ndarray, classes: list[str], accel: list[int], features: str = FEATURES,
              gyro: list[int] | None = None, feats: np.ndarray | None = None):
    """The scaler and logistic regression on the windows `x` [n, T, C] whose label `y` is one of the two postures
    (the run's labelled training windows: a run that kept few labels fits on those only), on the feature set
    `features` (`gyro`: the gyroscope's indices, for `LONG_AXIS`), or on `feats` [n, F], the windows' features
    computed beforehand (a "+context" set's need each window's stream: `stream_features`); None without both
    postures."""
    a, b = (classes.index(c) for c in POSTURES)
    keep = (y == a) | (y == b)
    if len(np.unique(y[keep])) < 2:
        return None
    if feats is None and per_window(features) != features:
        raise ValueError(f"posture features {features!r} need each window's stream: give feats (stream_features)")
    feats = posture_features(x[keep], accel, features, gyro) if feats is None else feats[keep]
    target = (y[keep] == b).astype(int)
    scaler = StandardScaler().fit(feats)
    return scaler, LogisticRegression(max_iter=2000).fit(scaler.transform(feats), target), int(keep.sum())


def stream_features(ds, accel: list[int], features: str, gyro: list[int] | None, k: int) -> np.ndarray | None:
    """Every training row's features for the "+context" set `features`, as a stream of its recording gives them
    (`with_context` over k windows, from each recording's start), or None when the rows' recordings are unknown."""
    rec = ds.train_recording_index()
    if rec is None:
        return None
    f = posture_features(ds.x_train, accel, features, gyro)
    out = np.empty((len(f), 2 * f.shape[1]))
    for r in np.unique(rec):
        rows = np.flatnonzero(rec == r)
        out[rows] = with_context(f[rows], f[:0], k)[0]
    return out


def min_sd(x: np.ndarray, y: np.ndarray, classes: list[str]) -> list[float]:
    """Per channel, half the smallest deviation (as `window_features` gives it) among the fitted windows: below
    it a channel is flatter than any window the model learnt from (`PostureOpinion.judged`)."""
    a, b = (classes.index(c) for c in POSTURES)
    keep = (y == a) | (y == b)
    c = x.shape[2]
    return (0.5 * window_features(x[keep])[:, c : 2 * c].min(axis=0)).tolist()


def choose_posture(session, prep: Prepared, val: ValidationProbs | None, smoothing_windows: int,
                   sequence: dict | None, mounting: dict | None, features: str = "auto", context: int = 0
                   ) -> dict | None:
    """{"chosen": the manifest's `posture` entry or None when it did not win, "validation": the figures}; None
    where it does not apply (no SITTING and STANDING, no accelerometer, no validation recordings, or no labelled
    training window of one of the two). `features`: "auto" weighs `FEATURES` and, with a gyroscope, `LONG_AXIS`;
    a set's name offers that set (`--posture-features`). `context` >= 2 (`--posture-context`): each set's
    "+context" version over that many windows is weighed beside it, where the rows' recordings are known."""
    ds = prep.ds
    classes, channels = list(ds.classes), list(ds.channels or ())
    accel_names = accelerometer_channels(channels) if channels else None
    if (session is None or val is None or not val.inputs or accel_names is None
            or not all(c in classes for c in POSTURES)):
        return None
    labelled = prep.split.labelled  # training rows whose label the run kept (never validation)
    x, y = ds.x_train[labelled], ds.y_train[labelled]
    accel = [channels.index(c) for c in accel_names]
    gyro_names = gyroscope_channels(channels)
    if features == LONG_AXIS and not gyro_names:
        raise UserError(f"--posture-features {LONG_AXIS}: the data has no gyroscope triple (gyro_x, gyro_y, gyro_z)")
    candidates = ([FEATURES] + ([LONG_AXIS] if gyro_names else [])) if features == "auto" else [features]
    if context >= 2 and ds.train_recording_index() is not None:
        candidates += [fs + CONTEXT for fs in candidates]
    sections, n, floor = {}, 0, min_sd(x, y, classes)
    for fs in candidates:
        gyro = [channels.index(c) for c in gyro_names] if per_window(fs) == LONG_AXIS else None
        feats = (stream_features(ds, accel, fs, gyro, context)[labelled] if per_window(fs) != fs else None)
        fitted = fit_model(x, y, classes, accel, fs, gyro, feats)
        if fitted is None:
            return None
        scaler, lr, n = fitted
        sections[fs] = {"classes": list(POSTURES), "accelerometer": accel_names, "features": fs,
                        **({"gyroscope": gyro_names} if gyro else {}),
                        **({"context_windows": context} if per_window(fs) != fs else {}),
                        "min_sd": floor, "center": scaler.mean_.tolist(),
                        "scale": scaler.scale_.tolist(), "weights": lr.coef_[0].tolist(),
                        "bias": float(lr.intercept_[0])}

    decode = chosen_decoding(smoothing_windows, sequence)

    gate = {"still_classes": [c for c in STILL if c in classes], "max_motion_sd": MOVING_SD_G}
    variants = {("off", None): None}
    for fs, sec in sections.items():
        variants[("on", fs)] = sec
        variants[("on_with_motion_gate", fs)] = {**sec, **gate}
    right = dict.fromkeys(variants, 0)
    n_val = 0
    for (probs, codes), w in zip(val.per_recording, val.inputs, strict=True):
        if mounting is not None:  # the windows the graphs see after the runtime's mounting estimate
            w, turned = MountingEstimate(SimpleNamespace(**mounting)).turn_back(w)
            if turned.any():
                probs = run_batched(session, {"x": w})
        keep = codes >= 0
        for key, sec in variants.items():
            p = probs if sec is None else PostureOpinion(_record(sec), classes, channels).apply(probs, w)
            right[key] += int((decode(p).argmax(1)[keep] == codes[keep]).sum())
        n_val += int(keep.sum())
    acc = {k: round(v / max(n_val, 1), 6) for k, v in right.items()}
    chosen = pick_feature_set(right, list(sections))
    validation = {"off": acc["off", None], "on": acc["on", chosen],
                  "on_with_motion_gate": acc["on_with_motion_gate", chosen]}
    if len(sections) > 1:
        validation["features"] = {f: {"on": acc["on", f], "on_with_motion_gate": acc["on_with_motion_gate", f]}
                                  for f in sections}
    if right["on", chosen] <= right["off", None]:
        return {"chosen": None, "validation": validation}
    gated = right["on_with_motion_gate", chosen] > right["on", chosen]
    return {"chosen": {
        **sections[chosen],
        "fitted_on": f"the run's {n} labelled training windows of {POSTURES[0]} and {POSTURES[1]}",
        "validation": validation,
        "chosen_on": "the validation people's continuous recordings (" + ", ".join(val.names) + "), streamed as "
                     "the runtime does; window accuracy without ('off') and with ('on') the posture model, and "
                     "with its motion gate too ('on_with_motion_gate')"
                     + ("; 'features': the same two figures for each feature set weighed" if len(sections) > 1
                        else ""),
        "rule": ("of the feature sets (and their '+context' versions, where weighed) whose model alone is higher "
                 "than without it, the one whose model, with or without its motion gate, gives the higher "
                 f"validation window accuracy (ties: {FEATURES!r})"
                 if features == "auto" else
                 f"the feature set asked for (--posture-features {features}) and its '+context' version: of those "
                 "whose model alone is higher than without it, the one whose model, with or without its motion "
                 "gate, gives the higher validation window accuracy (ties: the set asked for)"
                 if len(sections) > 1 else f"the feature set asked for (--posture-features {features}), shipped "
                 "where its model alone is higher than without it") + "; the motion gate (still_classes, "
                 "max_motion_sd) when it is higher again with it",
        **(gate if gated else {})}, "validation": validation}


def pick_feature_set(right: dict[tuple[str, str | None], int], sets: list[str]) -> str:
    """Of the feature sets whose model alone beats no posture model (`right[("on", set)] > right[("off", None)]`:
    the condition for shipping one), the one whose model with or without its motion gate (the better of the two)
    puts the most validation windows right; ties: `FEATURES`. When none beats it: the first set (shipped off)."""
    wins = [f for f in sets if right["on", f] > right["off", None]]
    return max(wins, key=lambda f: (max(right["on", f], right["on_with_motion_gate", f]), f == FEATURES)) \
        if wins else sets[0]


def _record(section: dict) -> SimpleNamespace:
    """A section dict as the runtime reads it (the optional motion gate absent when not given)."""
    return SimpleNamespace(**{"still_classes": None, "max_motion_sd": None, "gyroscope": None, "context_windows": None,
                              **section})
