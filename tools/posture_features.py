#!/usr/bin/env python3
"""Which features the posture model uses (`ssvae_train.export.posture_fit.FEATURES`): each feature set of
`ssvae_edge.posture.FEATURE_SETS` that reads one window (the "+context" ones: `tools/posture_context.py`), fitted
as the export fits it (scaler + logistic regression) on HAPT's training people but one and scored on that one's
labelled SITTING/STANDING windows, every person in turn.

    python tools/posture_features.py --data-dir "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"

Only the training people's labels are read (never a test person's). Writes results/posture-features.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge.posture import FEATURE_SETS, LONG_AXIS, per_window, posture_features
from ssvae_train.data.hapt import load_hapt
from ssvae_train.export.posture_fit import POSTURES, fit_model, gyroscope_channels


def leave_one_person_out(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classes: list[str],
                         features: str, gyro: list[int] | None = None) -> dict[str, float]:
    """Each person's share of their own SITTING/STANDING windows the model fitted on everyone else gets right
    (`gyro`: the gyroscope's channel indices, for the long-axis set)."""
    a, b = (classes.index(c) for c in POSTURES)
    gyro = gyro if features == LONG_AXIS else None
    out = {}
    for person in np.unique(groups):
        held = (groups == person) & ((y == a) | (y == b))
        if not held.any():
            continue
        scaler, lr, _ = fit_model(x[groups != person], y[groups != person], classes, [0, 1, 2], features, gyro)
        f = scaler.transform(posture_features(x[held], [0, 1, 2], features, gyro))
        out[str(person)] = (float(np.mean(lr.predict(f) == (y[held] == b))), int(held.sum()))
    return out


def main(
    data_dir: Annotated[Path, typer.Option(help="The HAPT zip or its extracted folder.")] = Path(
        "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"),
    out: Annotated[Path, typer.Option(help="The Markdown table written.")] = Path("results/posture-features.md"),
) -> None:
    ds = load_hapt(data_dir)
    names = ds.group_names
    lines = ["# The posture model's features, leaving one HAPT training person out", "",
             "Made by `python tools/posture_features.py` (its docstring has the command): for each of the "
             f"{len(names)} training people, a scaler and logistic regression fitted as the export fits them on "
             "the other people's labelled SITTING and STANDING windows, scored on that person's. No validation "
             "or test figure is involved.", "",
             "| features | windows right | people mean | worst person | people under 80 % |",
             "|---|---:|---:|---:|---:|"]
    channels = list(ds.channels)
    gyro_names = gyroscope_channels(channels)
    gyro = None if gyro_names is None else [channels.index(c) for c in gyro_names]
    for features in (f for f in FEATURE_SETS if per_window(f) == f and (f != LONG_AXIS or gyro is not None)):
        r = leave_one_person_out(ds.x_train, ds.y_train, ds.groups_train, list(ds.classes), features, gyro)
        acc = np.array([v[0] for v in r.values()])
        n = np.array([v[1] for v in r.values()])
        worst = min(r, key=lambda k: r[k][0])
        lines.append(f"| `{features}` | {100 * (acc * n).sum() / n.sum():.2f} % | {100 * acc.mean():.2f} % | "
                     f"{names[int(worst)]} {100 * r[worst][0]:.1f} % | {int((acc < 0.8).sum())} |")
        typer.echo(lines[-1], err=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    typer.run(main)
