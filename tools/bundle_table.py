#!/usr/bin/env python3
"""Summarise the committed bundles from their manifests: accuracy (PyTorch, onnxruntime fp32, int8),
file sizes per precision, the largest onnxruntime-vs-PyTorch difference found at export, the threshold,
the generation agreement `tools/check_generation.py` measured (results/generation/<bundle>.json: samples
of decoder.onnx that the bundle's own classifier labels as the class asked); then int8 against fp32 (the
manifest's `quantization`, measured by the exporter on the test set).

    python tools/bundle_table.py            # prints markdown; --out FILE writes it too
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

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
    gen = ROOT / "results" / "generation" / f"{path.name}.json"
    gen = json.loads(gen.read_text()) if gen.exists() else None
    gen = "–" if gen is None else f"{gen['agreement']:.3f} (n={gen['n_per_class']}/class)"
    return (
        f"| `{path.name}` | {', '.join(m['graphs'])} | {100 * met.get('test_accuracy_pytorch', float('nan')):.2f} | "
        f"{100 * met.get('test_accuracy_onnxruntime', float('nan')):.2f} | "
        f"{100 * q.get('int8', {}).get('test_accuracy', float('nan')):.2f} | "
        f"{kib(q.get('fp32', {}).get('bytes', {'-': 0}))} | {kib(q.get('int8', {}).get('bytes', {'-': 0}))} | "
        f"{'–' if worst is None else f'{worst:.1e}'} | {thr} | {gen} |"
    )


def int8_row(path: Path) -> str:
    """fp32 vs int8 on the same test rows, as `quantize_bundle` measured them."""
    m = json.loads((path / "manifest.json").read_text())
    q = m.get("quantization", {})
    f32, i8, d = q.get("fp32", {}), q.get("int8", {}), q.get("deltas", {})
    pct = lambda v: "–" if v is None else f"{100 * v:.2f}"  # noqa: E731
    auc = lambda v: "–" if v is None else f"{v:.4f}"  # noqa: E731
    dauc = d.get("anomaly_roc_auc")
    thr = m.get("graphs_int8", {}).get("anomaly", {}).get("threshold")
    agree = i8.get("alert_agreement_with_fp32")
    return (
        f"| `{path.name}` | {pct(f32.get('test_accuracy'))} | {pct(i8.get('test_accuracy'))} | "
        f"{d.get('test_accuracy_points', float('nan')):+.2f} | {auc(f32.get('anomaly_roc_auc'))} | "
        f"{auc(i8.get('anomaly_roc_auc'))} | {'–' if dauc is None else f'{dauc:+.4f}'} | "
        f"{'–' if thr is None else f'{thr:.1f}'} | {'–' if agree is None else f'{100 * agree:.1f}'} | "
        f"{'yes' if q.get('batch_independent') else 'no'} |"
    )


def main(out: Path | None = typer.Option(None, help="Also write the tables here.")) -> None:
    """The tables of exported/README.md, from the committed bundles' manifests."""
    lines = [
        "| bundle | graphs | test acc. PyTorch % | onnxruntime fp32 % | onnxruntime int8 % | fp32 KiB | int8 KiB "
        "| worst ORT–PyTorch diff | threshold | generation agreement |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    bundles = [p for p in sorted((ROOT / "exported").iterdir()) if (p / "manifest.json").exists()]
    lines += [row(p) for p in bundles]
    lines += [
        "",
        "| bundle | fp32 acc. % | int8 acc. % | Δ points | fp32 ROC AUC | int8 ROC AUC | Δ AUC | int8 threshold "
        "| alerts as fp32 % | batch-independent |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [int8_row(p) for p in bundles]
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text)


if __name__ == "__main__":
    typer.run(main)
