#!/usr/bin/env python3
"""Summarise the committed bundles from their manifests: accuracy (PyTorch, onnxruntime fp32, int8),
file sizes per precision, the largest onnxruntime-vs-PyTorch difference found at export, the threshold.

    python tools/bundle_table.py            # prints markdown; --out FILE writes it too
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def row(path: Path) -> str:
    m = json.loads((path / "manifest.json").read_text())
    met = m["producer"].get("metrics", {})
    q = m.get("quantization", {})
    kib = lambda b: f"{sum(b.values()) / 1024:.0f}"  # noqa: E731
    graphs = m.get("validation", {}).get("graphs", {}).values()
    diffs = [v for g in graphs for k, v in g.items() if k.startswith("onnxruntime_vs_pytorch")]
    worst = max(diffs, default=None)
    thr = f"{m['threshold']:.1f}" if m.get("threshold") else "–"
    return (
        f"| `{path.name}` | {', '.join(m['graphs'])} | {100 * met.get('test_accuracy_pytorch', float('nan')):.2f} | "
        f"{100 * met.get('test_accuracy_onnxruntime', float('nan')):.2f} | "
        f"{100 * q.get('int8', {}).get('test_accuracy', float('nan')):.2f} | "
        f"{kib(q.get('fp32', {}).get('bytes', {'-': 0}))} | {kib(q.get('int8', {}).get('bytes', {'-': 0}))} | "
        f"{'–' if worst is None else f'{worst:.1e}'} | {thr} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    lines = [
        "| bundle | graphs | test acc. PyTorch % | onnxruntime fp32 % | onnxruntime int8 % | fp32 KiB | int8 KiB "
        "| worst ORT–PyTorch diff | threshold |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [row(p) for p in sorted((ROOT / "exported").iterdir()) if (p / "manifest.json").exists()]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
