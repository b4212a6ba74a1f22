"""The mounting estimate a phone bundle ships (manifest `mounting`, run by `ssvae_edge.mounting`): a logistic
regression (scikit-learn) of one window's features telling a phone worn as in training from one turned around
(180° about its long x axis: y and z of the accelerometer and gyroscope change sign), fitted on the training
people's windows, both ways; the evidence the runtime needs before it believes a phone is turned (`prior`) is
chosen on the validation people's recordings, streamed as worn and turned around.

Rule: of the PRIORS, the one with the highest window accuracy on the validation people turned around, among
those that cost the validation people as worn at most MAX_COST_WORN of accuracy against no estimate; ties go
to the larger prior. When none qualifies the bundle ships without one. Only bundles of the six phone channels
(`PHONE`) get one: the flip is theirs.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ssvae_edge.mounting import decisions, window_features
from ssvae_train.data.prepared import Prepared
from ssvae_train.export.alert_point import training_recordings
from ssvae_train.export.graphs import run_batched
from ssvae_train.export.validation_windows import ValidationProbs, chosen_decoding, recording_windows

PHONE = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
FLIP = (1.0, -1.0, -1.0, 1.0, -1.0, -1.0)  # 180 degrees about x
PRIORS = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0)
CLIP = 10.0  # one window's log-odds at most: no single window decides
MAX_COST_WORN = 0.005


def fit_model(recs, window: int, hop: int) -> tuple[StandardScaler, LogisticRegression]:
    """The scaler and logistic regression on the recordings' windows, as worn (0) and turned around (1)."""
    feats = []
    for rec in recs:
        w, _ = recording_windows(rec, window, hop)
        if len(w):
            feats.append((window_features(w), window_features(w * np.asarray(FLIP, np.float32))))
    x = np.concatenate([f for pair in feats for f in pair])
    y = np.concatenate([np.full(len(f), i) for pair in feats for i, f in enumerate(pair)])
    scaler = StandardScaler().fit(x)
    return scaler, LogisticRegression(max_iter=2000).fit(scaler.transform(x), y)


def turned_decisions(log_odds: np.ndarray, prior: float) -> np.ndarray:
    """The runtime's rule (`ssvae_edge.mounting.decisions`) over one whole stream's windows."""
    return decisions(log_odds, -prior, CLIP)[0]


def pick_prior(off: dict[str, float], table: dict[float, dict[str, float]]) -> float | None:
    """The module's rule: of the priors whose accuracy as worn is at most MAX_COST_WORN below no estimate's
    (`off`), the one with the highest accuracy turned around (ties: the larger prior); None when none is."""
    fine = [p for p, row in table.items() if row["worn"] >= off["worn"] - MAX_COST_WORN]
    return max(fine, key=lambda p: (table[p]["turned"], p)) if fine else None


def choose_mounting(session, prep: Prepared, val: ValidationProbs | None, smoothing_windows: int,
                    sequence: dict | None) -> dict | None:
    """{"chosen": the manifest's `mounting` entry or None when no prior qualifies, "validation": the figures};
    None when the bundle is not a phone bundle or has no training or validation recordings. `val`: the
    classifier's probabilities on the validation windows as worn (`validation_probs`, with the windows)."""
    ds = prep.ds
    if tuple(ds.channels or ()) != PHONE or session is None or val is None or not val.inputs:
        return None
    train = training_recordings(prep)
    if not train:
        return None
    scaler, lr = fit_model(train, int(ds.window), val.hop)
    flip = np.asarray(FLIP, np.float32)

    def log_odds(w: np.ndarray) -> np.ndarray:
        return lr.decision_function(scaler.transform(window_features(w)))

    decode = chosen_decoding(smoothing_windows, sequence)

    per = []  # per recording: probs as worn, probs turned, log-odds as worn, log-odds turned, codes
    for (p_worn, codes), w in zip(val.per_recording, val.inputs, strict=True):
        per.append((p_worn, run_batched(session, {"x": w * flip}), log_odds(w), log_odds(w * flip), codes))

    def accuracy(prior: float | None, turned_stream: bool) -> float:
        right = n = 0
        for p_worn, p_turned, lo_worn, lo_turned, codes in per:
            seen_worn = p_turned if turned_stream else p_worn  # what the graphs get without turning back
            seen_back = p_worn if turned_stream else p_turned  # ... and after turning back
            if prior is None:
                probs = seen_worn
            else:
                turned = turned_decisions(lo_turned if turned_stream else lo_worn, prior)
                probs = np.where(turned[:, None], seen_back, seen_worn)
            keep = codes >= 0
            right += int((decode(probs).argmax(1)[keep] == codes[keep]).sum())
            n += int(keep.sum())
        return right / max(n, 1)

    off = {"worn": accuracy(None, False), "turned": accuracy(None, True)}
    table = {p: {"worn": accuracy(p, False), "turned": accuracy(p, True)} for p in PRIORS}
    validation = {"off": {k: round(v, 6) for k, v in off.items()},
                  **{f"{p:g}": {k: round(v, 6) for k, v in row.items()} for p, row in table.items()}}
    prior = pick_prior(off, table)
    if prior is None:
        return {"chosen": None, "validation": validation}
    return {"chosen": {
        "flip": list(FLIP), "center": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(),
        "weights": lr.coef_[0].tolist(), "bias": float(lr.intercept_[0]), "clip": CLIP, "prior": prior,
        "turned": "the phone turned 180 degrees about its long (x) axis: y and z of acc and gyro change sign",
        "fitted_on": f"every window of {len(train)} training recordings, as worn and turned around",
        "validation": validation,
        "chosen_on": "the validation people's continuous recordings (" + ", ".join(val.names)
                     + "), as worn and turned around; window accuracy at each prior ('off': no estimate)",
        "rule": f"the prior with the highest accuracy turned around among those costing at most "
                f"{MAX_COST_WORN:.1%} as worn; ties: the larger"}, "validation": validation}
