#!/usr/bin/env python3
"""Streaming = offline: the windows a stream yields are the data set's, with the same labels.

    python tools/check_streams.py --bundle exported/har-lstm --streams exported/har-demo

Streams `demo_stream.csv` at hop 128 and every rebuilt run `runs/run_*.csv` at hop 64 through
`ssvae_edge.StreamScorer` (chunks of odd sizes), maps each scored window back to its UCI-HAR test
window (`demo_windows.csv`, `runs.json`), and checks that (1) the streamed samples equal the test
window's values and (2) the streamed class equals the offline classifier cut's class on that window.
Writes `results/stream_check.json`; exits 1 on any mismatch.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import typer

from ssvae_edge import Bundle, StreamScorer
from ssvae_edge.csvinput import SampleReader
from ssvae_train.data.uci_har import load_uci_har

ROOT = Path(__file__).resolve().parent.parent


def stream_file(bundle: Bundle, path: Path, hop: int) -> tuple[np.ndarray, list[dict]]:
    """All samples of a stream file and the events the runtime emits for it (odd chunk sizes)."""
    reader = SampleReader(path, bundle.channels, bundle.sample_rate_hz, chunk_rows=777)
    scorer = StreamScorer(bundle, hop=hop)
    samples, events = [], []
    for x, t in reader:
        samples.append(x)
        events += scorer.feed(x, t)
    scorer.flush()
    return np.concatenate(samples), events


def check(bundle: Bundle, x_test: np.ndarray, path: Path, hop: int, test_index_of_start: dict[int, int]) -> dict:
    samples, events = stream_file(bundle, path, hop)
    offline = bundle.classify(x_test[sorted(set(test_index_of_start.values()))])
    offline_class = dict(zip(sorted(set(test_index_of_start.values())), offline.argmax(1), strict=True))
    same_values = same_labels = mapped = 0
    for ev in events:
        idx = test_index_of_start.get(ev["start"])
        if idx is None:  # a hop-64 window that straddles two rebuilt windows: not a data-set window
            continue
        mapped += 1
        window = samples[ev["start"] : ev["start"] + bundle.window]
        same_values += bool(np.array_equal(window, x_test[idx]))
        same_labels += ev["class"] == bundle.classes[offline_class[idx]]
    return {
        "file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "hop": hop,
        "windows_scored": len(events),
        "dataset_windows": mapped,
        "identical_values": same_values,
        "identical_labels": same_labels,
    }


def main(
    bundle: Path = typer.Option(ROOT / "exported" / "har-lstm", help="The bundle that scores the streams."),
    streams: Path = typer.Option(ROOT / "exported" / "har-demo", help="The folder tools/har_streams.py wrote."),
    data_dir: Path = typer.Option(ROOT.parent / "shared" / "data" / "uci-har", help="UCI-HAR zip or folder."),
    out: Path = typer.Option(ROOT / "results" / "stream_check.json", help="The JSON to write."),
) -> None:
    """Stream every rebuilt recording and check each window equals the test window it was built from."""
    b = Bundle.load(bundle, providers="cpu")
    x_test = load_uci_har(data_dir).x_test
    with open(streams / "demo_windows.csv") as f:
        demo = {int(r["start"]): int(r["test_index"]) for r in csv.DictReader(f)}
    rows = [check(b, x_test, streams / "demo_stream.csv", 128, demo)]
    runs = json.loads((streams / "runs.json").read_text())["runs"]
    for run in runs:
        if run.get("file"):
            starts = {i * b.hop: idx for i, idx in enumerate(run["test_indices"])}
            rows.append(check(b, x_test, streams / run["file"], 64, starts))
    total = {
        k: sum(r[k] for r in rows)
        for k in ("windows_scored", "dataset_windows", "identical_values", "identical_labels")
    }
    ok = total["dataset_windows"] == total["identical_values"] == total["identical_labels"] > 0
    report = {"bundle": str(bundle), "streams": len(rows), "total": total, "all_equal": ok, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"total": total, "all_equal": ok}))
    if not ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
