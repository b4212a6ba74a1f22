#!/usr/bin/env python3
"""Where a bundle graph spends its time: onnxruntime's own per-operator profile at batch 1.

    python tools/profile_graph.py exported/har-lstm --runs 300 --out benchmarks/ops.md

For each graph of the bundle (x input only: classifier and anomaly), one CPU session with onnxruntime's
profiler on, `--runs` calls on one window of standard-normal data, and the kernel time summed per
operator type. It explains the latency table of `bench_edge.py`: which operator a faster graph would
have to beat. Numbers only; nothing is asserted.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort
import typer

from ssvae_edge.contract import Manifest

ROOT = Path(__file__).resolve().parent.parent


def profile(path: Path, shape: tuple[int, ...], runs: int, threads: int) -> tuple[Counter, Counter]:
    """Kernel microseconds per call and node count, by operator type."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
        for _ in range(runs):
            sess.run(None, {"x": x})
        events = json.loads(Path(sess.end_profiling()).read_text())
    micros, nodes = Counter(), Counter()
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e["args"]["op_name"]
            micros[op] += e["dur"] / runs
            nodes[op] += 1
    return micros, Counter({k: v // runs for k, v in nodes.items()})


def main(
    bundle: Path = typer.Argument(..., help="The bundle whose graphs are profiled."),
    runs: int = typer.Option(300, help="Profiled runs per graph."),
    threads: int = typer.Option(1, help="onnxruntime intra-op threads."),
    out: Path = typer.Option(ROOT / "benchmarks" / "ops.md", help="The report to write."),
) -> None:
    """Mean onnxruntime kernel time per operator of each graph, at batch 1."""
    manifest = Manifest.load(bundle)
    lines = [
        f"# Per-operator time of `{bundle.name}` at batch 1",
        "",
        f"`python tools/profile_graph.py {bundle} --runs {runs} --threads {threads}`: onnxruntime "
        f"{ort.__version__} profiler, CPUExecutionProvider, {threads} intra-op thread(s), mean kernel time per "
        "call over the runs (the profiler adds its own overhead: compare shares, not absolute times with "
        "`benchmarks/edge.md`).",
        "",
    ]
    for graph in ("classifier", "anomaly"):
        entry = manifest.graphs.get(graph)
        if entry is None:
            continue
        micros, nodes = profile(bundle / entry.file, tuple(manifest.sample_shape), runs, threads)
        total = sum(micros.values())
        lines += [f"## {graph}", "", "| operator | nodes | µs per call | share |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {op} | {nodes[op]} | {us:.1f} | {100 * us / total:.1f} % |" for op, us in micros.most_common()]
        lines += [f"| **all** | {sum(nodes.values())} | {total:.1f} | 100 % |", ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
