#!/usr/bin/env python3
"""What an ensemble bundle costs on the device: each bundle's graphs timed by `ssvae_edge.bench.bench` (what
`ssvae-edge bench` prints), fp32 and int8, one onnxruntime thread, bundles taking turns per precision.

    python tools/bench_ensemble.py --bundle exported/har-phone-novelty --bundle runs/hapt-bundles/ag-split0 \\
        --name ensemble-cost

Writes benchmarks/<name>.json (every number, the machine, the load averages) and .md (median ms per call at
batch 1 and 32, and each bundle's graph files' size). A benchmark measures; nothing is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import Bundle
from ssvae_edge.bench import bench, loadavg

OUT = Path(__file__).resolve().parent.parent / "benchmarks"


def main(
    bundle: Annotated[list[Path], typer.Option(help="A bundle to time; repeat (the first is the reference).")],
    name: Annotated[str, typer.Option(help="Output: benchmarks/<name>.json and .md.")] = "ensemble-cost",
    runs: Annotated[int, typer.Option(help="Timed calls per graph and batch size.")] = 50,
) -> None:
    report = {"load_before": loadavg(), "bundles": {}}
    for precision in ("fp32", "int8"):
        for path in bundle:
            b = Bundle.load(path, providers="cpu", threads=1, precision=precision)
            entry = report["bundles"].setdefault(str(path), {"members": _members(b), "bytes": {}, "results": {}})
            entry["bytes"][precision] = sum((path / g.file).stat().st_size
                                            for g in b.manifest.graph_set(precision).values())
            entry["results"][precision] = bench(b, batch_sizes=(1, 32), runs=runs)["results"]
    report["load_after"] = loadavg()
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (OUT / f"{name}.md").write_text(_table(report, name))
    typer.echo(str(OUT / f"{name}.md"))


def _members(b: Bundle) -> int:
    return len(b.manifest.ensemble.members) if b.manifest.ensemble is not None else 1


def _table(report: dict, name: str) -> str:
    lines = [f"# {name}: what an ensemble costs per window", "",
             "Made by `python tools/bench_ensemble.py` (docstring). Median ms per call of each graph "
             "(onnxruntime, CPU, one thread), at batch 1 and 32; the graphs' bytes. Load averages (1, 5, 15 min) "
             f"before {report['load_before']}, after {report['load_after']}.", "",
             "| bundle | models | precision | bytes | classifier @1 | anomaly @1 | classifier @32 | anomaly @32 |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for path, entry in report["bundles"].items():
        for precision, results in entry["results"].items():
            ms = {(r["graph"], r["batch"]): r["median_ms"] for r in results}
            cells = [f"{ms.get((g, n), float('nan')):.3f}" for n in (1, 32) for g in ("classifier", "anomaly")]
            lines.append(f"| `{path}` | {entry['members']} | {precision} | {entry['bytes'][precision]:,} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    typer.run(main)
