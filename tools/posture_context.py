#!/usr/bin/env python3
"""Whether the posture model (`ssvae_edge.posture`) would tell sitting from standing better from the last few
windows than from one: a probe on HAPT's training people only, each left out in turn as `tools/posture_features.py`
does, for each of its feature sets.

    python tools/posture_context.py --data-dir "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"

For every window of a training recording (unlabelled and moving ones too, as a stream meets them) the features are
averaged over the last k windows of the same recording, causally; `still` restarts the average at every window in
motion (acceleration magnitude deviation above `MOVING_SD_G`). Three models, each a scaler and logistic
regression fitted on the other 20 people's labelled SITTING/STANDING windows: the window's own features and their
average side by side (`window + mean`), the average alone (`mean`), and the single-window model with its log-odds
averaged the same way (`log-odds`: no refit). Scored on the held-out person's labelled SITTING/STANDING windows.
The export weighs `window + mean` over every window (`ssvae-export --posture-context`, 8 by default;
`ssvae_train.export.posture_fit`). No validation or test figure is involved. Writes results/posture-context.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ssvae_edge.posture import FEATURE_SETS, LONG_AXIS, motion_sd, posture_features, with_context
from ssvae_train.data.hapt import load_hapt
from ssvae_train.export.posture_fit import POSTURES
from ssvae_train.training.augment import MOVING_SD_G

K = (1, 4, 8, 16, 32)


def running_mean(f: np.ndarray, rec: np.ndarray, k: int, restart: np.ndarray | None = None) -> np.ndarray:
    """Each row's mean over the last k rows of its recording (itself included), as the runtime computes it
    (`with_context`), restarting at every `restart` row (which then averages over itself alone)."""
    new_run = np.r_[True, rec[1:] != rec[:-1]] | (restart if restart is not None else False)
    out = np.empty_like(f)
    for run in np.split(np.arange(len(f)), np.flatnonzero(new_run)[1:]):
        out[run] = with_context(f[run], f[:0], k)[0][:, f.shape[1]:]
    return out


def leave_one_out(f: np.ndarray, y: np.ndarray, groups: np.ndarray, pair: tuple[int, int]) -> float:
    """Share (%) of every held-out person's SITTING/STANDING windows right, fitted on the other people."""
    a, b = pair
    keep = (y == a) | (y == b)
    right = 0
    for p in np.unique(groups[keep]):
        tr, te = keep & (groups != p), keep & (groups == p)
        s = StandardScaler().fit(f[tr])
        lr = LogisticRegression(max_iter=3000).fit(s.transform(f[tr]), y[tr] == b)
        right += int((lr.predict(s.transform(f[te])) == (y[te] == b)).sum())
    return 100 * right / keep.sum()


def averaged_log_odds(f: np.ndarray, y: np.ndarray, groups: np.ndarray, rec: np.ndarray, pair: tuple[int, int],
                      k: int, restart: np.ndarray | None) -> float:
    """As `leave_one_out` with the single-window model, its log-odds averaged over the last k windows."""
    a, b = pair
    keep = (y == a) | (y == b)
    right = 0
    for p in np.unique(groups[keep]):
        tr, mine = keep & (groups != p), groups == p
        s = StandardScaler().fit(f[tr])
        lr = LogisticRegression(max_iter=3000).fit(s.transform(f[tr]), y[tr] == b)
        z = running_mean(lr.decision_function(s.transform(f[mine]))[:, None], rec[mine], k,
                         None if restart is None else restart[mine])[:, 0]
        held = keep[mine]
        right += int(((z[held] > 0) == (y[mine][held] == b)).sum())
    return 100 * right / keep.sum()


def main(
    data_dir: Annotated[Path, typer.Option(help="The HAPT zip or its extracted folder.")] = Path(
        "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"),
    out: Annotated[Path, typer.Option(help="The Markdown table written.")] = Path("results/posture-context.md"),
) -> None:
    ds = load_hapt(data_dir)
    classes = list(ds.classes)
    pair = (classes.index(POSTURES[0]), classes.index(POSTURES[1]))
    rec, x, y, groups = ds.train_recording_index(), ds.x_train, ds.y_train, ds.groups_train
    moving = motion_sd(x, [0, 1, 2]) > MOVING_SD_G
    lines = ["# The posture model over the last k windows, leaving one HAPT training person out", "",
             "Made by `python tools/posture_context.py` (its docstring has the command and the three models). Share "
             "of the held-out person's labelled SITTING and STANDING windows right, over the 21 training people; "
             "k = 1 is the shipped single-window model. No validation or test figure is involved.", "",
             "| features | average over | k | window + mean | mean | log-odds |", "|---|---|---:|---:|---:|---:|"]
    for fs in (FEATURE_SETS[1], LONG_AXIS):
        f = posture_features(x, [0, 1, 2], fs, [3, 4, 5] if fs == LONG_AXIS else None)
        base = leave_one_out(f, y, groups, pair)
        lines.append(f"| `{fs}` | one window | 1 | {base:.2f} % | {base:.2f} % | {base:.2f} % |")
        typer.echo(lines[-1], err=True)
        for mode, restart in (("every window", None), ("the still run", moving)):
            for k in K[1:]:
                m = running_mean(f, rec, k, restart)
                lines.append(f"| `{fs}` | {mode} | {k} | {leave_one_out(np.hstack([f, m]), y, groups, pair):.2f} % | "
                             f"{leave_one_out(m, y, groups, pair):.2f} % | "
                             f"{averaged_log_odds(f, y, groups, rec, pair, k, restart):.2f} % |")
                typer.echo(lines[-1], err=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    typer.run(main)
