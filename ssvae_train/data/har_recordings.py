"""UCI-HAR windows back into continuous recordings: the demo streams' chaining, and the recordings converter.

UCI-HAR ships fixed 2.56 s windows (128 samples at 50 Hz, 50 % overlap), not recordings. Where window
i+1's first 64 samples equal window i's last 64 (all channels, compared after rounding to a few
significant digits), both come from one recording, and the chain is joined back into it. Joined
recordings read with window 128 and hop 64 give back exactly the data set's windows.

`write_har_recordings` writes a UCI-HAR data set in the `recordings` layout (`train/`, `test/`,
`dataset.json`), optionally blanking most training labels, so the generic recordings path can be checked
against the built-in loader on the same windows (README, "Your own data"). `tools/har_recordings.py`
runs it; `tools/har_streams.py` builds the edge demo streams from the same chains.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ssvae_train.data.dataset import UNLABELLED, DataSet

WINDOW, OVERLAP, RATE = 128, 64, 50


def round_sig(v: np.ndarray, digits: int) -> np.ndarray:
    """Round to `digits` significant digits, so copies of one sample written at different precisions
    (or re-parsed through float32) compare equal."""
    v = np.asarray(v, dtype=np.float64)
    mag = np.floor(np.log10(np.where(v == 0, 1.0, np.abs(v))))
    scale = 10.0 ** (digits - 1 - mag)
    return np.round(v * scale) / scale


def chained(x: np.ndarray, digits: int = 4) -> np.ndarray:
    """bool [N-1]: window i+1 continues window i (its first 64 samples are window i's last 64)."""
    a = round_sig(x[:-1, WINDOW - OVERLAP:], digits)
    b = round_sig(x[1:, :OVERLAP], digits)
    return (a == b).all(axis=(1, 2))


def find_runs(x: np.ndarray, digits: int = 4, y: np.ndarray | None = None) -> list[list[int]]:
    """Maximal chains of window indices [i, i+1, ...] that overlap by 64 samples; with `y`, a chain is
    also cut where the label changes, so every sample of a run has its window's label."""
    links = chained(x, digits)
    if y is not None:
        links &= y[:-1] == y[1:]
    runs, cur = [], [0]
    for i, linked in enumerate(links):
        if linked:
            cur.append(i + 1)
        else:
            runs.append(cur)
            cur = [i + 1]
    runs.append(cur)
    return runs


def run_samples(x: np.ndarray, y: np.ndarray, run: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The recording behind a run: the first window whole, then each next window's new 64 samples."""
    parts, labels = [x[run[0]]], [np.full(WINDOW, y[run[0]])]
    for i in run[1:]:
        parts.append(x[i, OVERLAP:])
        labels.append(np.full(WINDOW - OVERLAP, y[i]))
    return np.concatenate(parts), np.concatenate(labels)


def write_stream(path: Path, samples: np.ndarray, labels: np.ndarray, channels: list[str],
                 classes: list[str]) -> None:
    """CSV `time,<channels>,label`; values written as the shortest text that reads back to the same
    float32, so a reader gets the data set's numbers exactly; a label of -1 is an empty cell
    (unlabelled). Written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time", *channels, "label"])
        for i, (row, lab) in enumerate(zip(samples.astype(np.float32), labels, strict=True)):
            w.writerow([f"{i / RATE:.2f}", *map(str, row), classes[int(lab)] if lab >= 0 else ""])
    tmp.replace(path)


def read_stream(path: Path, n_channels: int) -> np.ndarray:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return np.array([[float(v) for v in r[1:1 + n_channels]] for r in rows], dtype=np.float32)


def keep_labels(y: np.ndarray, runs: list[list[int]], fraction: float, seed: int) -> np.ndarray:
    """bool [N]: the windows whose labels survive, a stratified `fraction` of each class (from `seed`).

    Windows overlap, so labels are kept on samples: a kept window's samples keep theirs. A window left
    unlabelled between two kept neighbours (i-1 and i+1 kept) would then be whole-labelled too, so such
    picks are passed over: exactly the chosen windows come back labelled from the recordings.
    """
    rng = np.random.default_rng(seed)
    where = np.empty((len(y), 2), np.int64)  # (run, position) of every window
    for r, run in enumerate(runs):
        where[run] = np.stack([np.full(len(run), r), np.arange(len(run))], 1)
    kept: set[tuple[int, int]] = set()
    keep = np.zeros(len(y), bool)
    for c in np.unique(y[y >= 0]):
        rows = np.flatnonzero(y == c)
        need = int(round(fraction * len(rows)))
        for i in rng.permutation(rows):
            if need == 0:
                break
            r, p = map(int, where[i])
            if ((r, p - 2) in kept and (r, p - 1) not in kept) or ((r, p + 2) in kept and (r, p + 1) not in kept):
                continue
            kept.add((r, p))
            keep[i] = True
            need -= 1
    return keep


def write_har_recordings(ds: DataSet, out: str | Path, keep_fraction: float = 1.0, seed: int = 0,
                         digits: int = 4) -> dict:
    """Write `ds` (UCI-HAR windows) as `recordings`: `train/rec_NNNN.csv`, `test/rec_NNNN.csv` and
    `dataset.json`; keep a stratified `keep_fraction` of the training windows' labels (test labels all
    stay). Returns the report also written to `out/conversion.json`."""
    out = Path(out)
    channels, classes = list(ds.channels or []), list(ds.classes)
    report: dict = {"source": ds.source, "keep_fraction": keep_fraction, "seed": seed, "window": WINDOW,
                    "hop": OVERLAP, "sample_rate_hz": RATE}
    for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        (out / split).mkdir(parents=True, exist_ok=True)
        runs = find_runs(x, digits, y)
        keep = keep_labels(y, runs, keep_fraction, seed) if split == "train" and keep_fraction < 1 else y >= 0
        for r, run in enumerate(runs):
            samples, _ = run_samples(x, y, run)
            # a sample keeps its label when a kept window holds it: blocks of 64, window j = blocks j, j+1
            block = np.zeros(len(run) + 1, bool)
            block[:-1] |= keep[run]
            block[1:] |= keep[run]
            lab = np.repeat(np.where(block, y[run[0]], UNLABELLED), OVERLAP)
            write_stream(out / split / f"rec_{r:04d}.csv", samples, lab, channels, classes)
        report[split] = {"windows": int(len(y)), "labelled_windows": int(keep.sum()), "recordings": len(runs),
                         "windows_per_recording_max": max(len(r) for r in runs)}
    meta = {"sample_rate_hz": RATE, "classes": classes, "units": ds.units}
    (out / "dataset.json").write_text(json.dumps(meta, indent=1) + "\n")
    (out / "conversion.json").write_text(json.dumps(report, indent=1) + "\n")
    return report
