"""Turn UCI-HAR test windows back into sensor streams that `ssvae-edge stream` can read.

UCI-HAR ships fixed 2.56 s windows (128 samples at 50 Hz, 50% overlap), not recordings. Two kinds of
stream are rebuilt, both as CSV `time,<9 channels>,label` (time in seconds, label = true activity):

(a) continuous runs: where window i+1's first 64 samples equal window i's last 64 (all 9 channels,
    compared after rounding to a few significant digits), the windows come from one recording and are
    chained back into it: `runs/run_NNN.csv`, with every run's length in `runs.json`;
(b) a demo stream of a few minutes: test windows placed end to end, in contiguous segments of one
    activity at a time (consecutive test windows of that activity, so it reads like a recording) and
    covering all six activities. Read with hop 128, every streamed window is exactly one data-set window;
    `demo_windows.csv` lists which (its original test index and label).

The demo stream of exported/ and the tests is made here; `tools/har_streams.py` is its command line.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from ssvae_train.data.har_recordings import OVERLAP, RATE, WINDOW, find_runs, read_stream, run_samples, write_stream
from ssvae_train.data.segment_streams import segment_order

README = """# UCI-HAR streams

Rebuilt by `tools/har_streams.py` from the UCI-HAR test windows (the inertial signals, in their own
units: g for accelerations, rad/s for gyroscopes; 50 Hz).

- `demo_stream.csv`: {demo_windows} test windows end to end ({demo_seconds:.0f} s), in segments of one
  activity; read it with hop 128 (`ssvae-edge stream BUNDLE --input demo_stream.csv --hop 128`) and every
  window is exactly one data-set window. `demo_windows.csv` gives each window's original test index.
- `runs/run_NNN.csv`: continuous recordings rebuilt where consecutive test windows overlap by 64 samples
  (runs of at least {min_run} windows); `runs.json` lists all runs and their length statistics.

Columns: `time` (seconds), the nine channels, `label` (the true activity of the window a sample came from).
Source data: {source}.

## Attribution

Human Activity Recognition Using Smartphones data set, UCI Machine Learning Repository.
D. Anguita, A. Ghio, L. Oneto, X. Parra, J. L. Reyes-Ortiz, "A Public Domain Dataset for Human Activity
Recognition Using Smartphones", 21st European Symposium on Artificial Neural Networks, Computational
Intelligence and Machine Learning (ESANN 2013), Bruges, Belgium. Licence: CC BY 4.0
(https://creativecommons.org/licenses/by/4.0/). These files are derived from it (windows re-joined
into streams); the values are unchanged.
"""


def build_streams(x: np.ndarray, y: np.ndarray, classes: list[str], channels: list[str], out: Path,
                  demo_minutes: float = 5.0, seed: int = 0, min_run_windows: int = 3, digits: int = 4,
                  source: str = "") -> dict[str, Any]:
    """Write the demo stream, the rebuilt runs and the README into `out`; return runs.json's content."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs").mkdir(exist_ok=True)

    # (b) demo stream
    n_demo = max(len(classes), int(demo_minutes * 60 * RATE // WINDOW))
    idx = segment_order(y, len(classes), n_demo, seed)
    demo = x[idx].reshape(-1, x.shape[2])
    labels = np.repeat(y[idx], WINDOW)
    write_stream(out / "demo_stream.csv", demo, labels, channels, classes)
    back = read_stream(out / "demo_stream.csv", len(channels)).reshape(len(idx), WINDOW, -1)
    if not np.array_equal(back, x[idx]):
        raise RuntimeError("demo_stream.csv does not read back to the data-set windows exactly")
    tmp = out / "demo_windows.csv.tmp"
    with tmp.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["window", "start", "time", "test_index", "label"])
        for k, i in enumerate(idx):
            w.writerow([k, k * WINDOW, f"{k * WINDOW / RATE:.2f}", i, classes[int(y[i])]])
    tmp.replace(out / "demo_windows.csv")

    # (a) continuous runs
    runs = find_runs(x, digits)
    entries = []
    for r_i, run in enumerate(runs):
        samples, labs = run_samples(x, y, run)
        file = None
        if len(run) >= min_run_windows:
            file = f"runs/run_{r_i:03d}.csv"
            write_stream(out / file, samples, labs, channels, classes)
        entries.append({"run": r_i, "file": file, "test_indices": run, "windows": len(run),
                        "samples": len(samples), "seconds": len(samples) / RATE,
                        "labels": sorted({classes[int(v)] for v in y[run]})})
    lengths = np.array([len(r) for r in runs])
    seconds = np.array([e["seconds"] for e in entries])
    report = {
        "source": source,
        "test_windows": len(x),
        "chained_pairs": int((lengths - 1).sum()),
        "match": f"window i+1's first {OVERLAP} samples equal window i's last {OVERLAP} "
                 f"(all {len(channels)} channels, rounded to {digits} significant digits)",
        "stats": {
            "runs": len(runs),
            "runs_of_2_or_more": int((lengths >= 2).sum()),
            "windows_per_run": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                                "mean": round(float(lengths.mean()), 3), "max": int(lengths.max())},
            "seconds_per_run": {"min": float(seconds.min()), "median": float(np.median(seconds)),
                                "mean": round(float(seconds.mean()), 3), "max": float(seconds.max())},
            "histogram_windows": {str(k): int((lengths == k).sum()) for k in sorted(set(lengths.tolist()))},
            "files_written": sum(e["file"] is not None for e in entries),
            "min_run_windows_for_file": min_run_windows,
        },
        "demo": {"file": "demo_stream.csv", "windows_file": "demo_windows.csv", "windows": len(idx),
                 "samples": len(demo), "seconds": len(demo) / RATE, "hop_to_read": WINDOW, "seed": seed,
                 "class_counts": {classes[c]: int((y[idx] == c).sum()) for c in range(len(classes))}},
        "runs": entries,
    }
    tmp = out / "runs.json.tmp"
    tmp.write_text(json.dumps(report, indent=1) + "\n")
    tmp.replace(out / "runs.json")
    (out / "README.md").write_text(README.format(
        demo_windows=len(idx), demo_seconds=len(demo) / RATE, min_run=min_run_windows,
        source=source or "UCI-HAR test split"))
    return report
