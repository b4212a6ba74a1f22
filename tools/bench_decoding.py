#!/usr/bin/env python3
"""What a phone bundle's stream decoding costs on the CPU: milliseconds per window of `StreamScorer` over a
whole labelled recording at the bundle's defaults (mounting estimate on, and the posture model when the manifest
has one) against the same stream with the estimate off (`mounting="worn"`) or the posture model off, and of
their own work (window features and log-odds, `ssvae_edge.mounting`, `ssvae_edge.posture`) beside the
classifier graph alone. One onnxruntime thread; the variants take
turns, `--repeats` times, and the median is kept.

    python tools/bench_decoding.py --bundle exported/har-phone --recording exported/phone-demo/exp03_user02.csv

Writes benchmarks/decoding.json and .md. A benchmark measures; nothing here is asserted.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge.csvinput import read_recording
from ssvae_edge.mounting import MountingEstimate
from ssvae_edge.posture import PostureOpinion
from ssvae_edge.stream import StreamScorer


def main(
    bundle: Annotated[Path, typer.Option(help="A sensor bundle with a manifest 'mounting'.")],
    recording: Annotated[Path, typer.Option(help="A CSV recording with the bundle's channels.")],
    repeats: Annotated[int, typer.Option(min=1, help="Turns of each variant.")] = 5,
) -> None:
    b = Bundle.load(bundle, providers="cpu", threads=1)
    if b.manifest.mounting is None:
        raise typer.BadParameter("this bundle's manifest has no 'mounting'", param_hint="--bundle")
    x = read_recording(recording, b.channels, b.sample_rate_hz).samples.astype(np.float32)
    starts = np.arange(0, len(x) - b.window + 1, b.hop)
    windows = np.stack([x[s : s + b.window] for s in starts])
    n = len(windows)

    def stream(mounting: str, posture: bool | None = None) -> float:
        scorer = StreamScorer(b, mounting=mounting, posture=posture)
        t0 = time.perf_counter()
        scorer.feed(x)
        return (time.perf_counter() - t0) * 1000 / n

    def features() -> float:
        est = MountingEstimate(b.manifest.mounting)
        t0 = time.perf_counter()
        est.turn_back(windows)
        return (time.perf_counter() - t0) * 1000 / n

    def posture() -> float:
        opinion = PostureOpinion(b.manifest.posture, b.classes, b.channels)
        probs = np.full((n, len(b.classes)), 1.0 / len(b.classes), np.float32)
        t0 = time.perf_counter()
        opinion.apply(probs, windows)
        return (time.perf_counter() - t0) * 1000 / n

    def classifier() -> float:
        t0 = time.perf_counter()
        for i in range(0, n, 32):
            b.classify(windows[i : i + 32])
        return (time.perf_counter() - t0) * 1000 / n

    variants = {"stream, mounting estimate on": lambda: stream("auto"),
                "stream, mounting estimate off": lambda: stream("worn"),
                "mounting estimate alone (features, log-odds)": features,
                "classifier graph alone (batches of 32)": classifier}
    if b.manifest.posture is not None:
        variants |= {"stream, posture model off": lambda: stream("auto", False),
                     "posture model alone (features, log-odds, motion)": posture}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            times[name].append(run())
    result = {"bundle": str(bundle), "recording": str(recording), "windows": n, "repeats": repeats,
              "machine": platform.processor() or platform.machine(), "threads": 1,
              "ms_per_window_median": {k: statistics.median(v) for k, v in times.items()}, "runs": times}
    Path("benchmarks").mkdir(exist_ok=True)
    Path("benchmarks/decoding.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Stream decoding cost on the CPU", "",
             f"Made by `python tools/bench_decoding.py --bundle {bundle} --recording {recording}`: {n} windows, "
             f"one onnxruntime thread, median of {repeats} turns ({result['machine']}).", "",
             "| what | ms per window |", "|---|---:|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in result["ms_per_window_median"].items()]
    Path("benchmarks/decoding.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
