#!/usr/bin/env python3
"""Would weight-only int8 make the int8 graphs agree across engines to 1e-4? (issue 13, item 3)

    python tools/int8_weight_only_check.py        # needs the engines extra; writes benchmarks/int8-weight-only.md

The shipped int8 graphs quantize activations too (static QDQ): on a rare sample an activation sits on a
rounding boundary, the engines' last float bit before its QuantizeLinear differs, and the output moves by a
quantization step (tests/test_engines.py). Weight-only int8 has no activation QuantizeLinear, so in
principle nothing can flip. This removes every activation QuantizeLinear/DequantizeLinear pair from each
committed bundle's int8 graph (the weights stay int8 behind their DequantizeLinear) and runs the result in
onnxruntime (with and without graph optimizations), OpenVINO and tract on the test's real samples.
The graphs are written to a temporary folder and never shipped.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import typer

from ssvae_edge.contract import Manifest
from ssvae_train.export.engines import real_feeds, rel_diff, run_onnxruntime, run_openvino, run_tract
from ssvae_train.export.graphs import session
from ssvae_train.export.quantize import batch_difference

EXPORTED = Path("exported")


def weight_only(src: Path, dst: Path) -> int:
    """Write `src` without its activation QDQ pairs (Q of a computed tensor feeding a DQ); returns how many."""
    model = onnx.load(str(src))
    g = model.graph
    constants = {t.name for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    rename: dict[str, str] = {}
    drop: set[int] = set()
    for n in g.node:
        q = producer.get(n.input[0]) if n.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear" and q.input[0] not in constants:
            rename[n.output[0]] = q.input[0]
            drop |= {id(n), id(q)}
    keep = [n for n in g.node if id(n) not in drop]
    for n in keep:
        n.input[:] = [rename.get(i, i) for i in n.input]
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in keep for i in n.input}
    for t in [t for t in g.initializer if t.name not in used]:
        g.initializer.remove(t)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return len(drop) // 2


def main(
    out: Path = typer.Option(Path("benchmarks/int8-weight-only.md"), help="The report to write."),
    mnist_dir: Path = typer.Option(Path("tests/data/mnist"), help="MNIST files whose test images are fed."),
) -> None:
    """Remove the activation QDQ pairs of every committed int8 graph and compare the engines on them."""
    rows = []
    stream = EXPORTED / "har-demo" / "demo_stream.csv"
    with tempfile.TemporaryDirectory() as tmp:
        for b in sorted(p.parent for p in EXPORTED.glob("*/manifest.json")):
            m = Manifest.load(b)
            for graph, entry in m.graphs_int8.items():
                dst = Path(tmp) / f"{b.name}-{graph}.onnx"
                pairs = weight_only(b / entry.file, dst)
                feeds = real_feeds(b, graph, stream, mnist_dir)
                ref = run_onnxruntime(dst, feeds)
                rows.append((b.name, graph, pairs, rel_diff(run_onnxruntime(dst, feeds, optimized=False), ref),
                             rel_diff(run_openvino(dst, feeds), ref), rel_diff(run_tract(dst, feeds), ref),
                             rel_diff(ref, run_onnxruntime(b / m.graphs[graph].file, feeds)),
                             batch_difference(session(dst), feeds)))
    header = ("| bundle | graph | activation pairs removed | onnxruntime unoptimized | OpenVINO | tract | vs fp32 "
              "| batch dependence |")
    lines = ["# Weight-only int8 across engines (issue 13, item 3)", "",
             "`tools/int8_weight_only_check.py`: each committed bundle's int8 graph with its activation "
             "QuantizeLinear/DequantizeLinear pairs removed (weights stay int8), on the real samples of "
             "`tests/test_engines.py`. Relative max difference to onnxruntime with its graph optimizations "
             "(max |a − b| / max |b|); `vs fp32`: that graph against the fp32 graph; batch dependence: max "
             "|output alone − output in a batch of 1, 7 or 64| in onnxruntime (`quantize.batch_difference`).", "",
             header, "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {b} | {g} | {n} | {u:.1e} | {o:.1e} | {t:.1e} | {f:.1e} | {d:.1e} |"
              for b, g, n, u, o, t, f, d in rows]
    worst = max(max(r[3:6]) for r in rows)
    ov = [r[4] for r in rows]
    lines += ["", f"Worst engine difference: {worst:.1e} (the target is 1e-4). OpenVINO is {min(ov):.0e} to "
              f"{max(ov):.0e} away from onnxruntime on the weight-only graphs (it treats int8 weights its own way), "
              f"onnxruntime with and without graph optimizations differs by up to {max(r[3] for r in rows):.1e}, "
              f"and outputs move with the batch by up to {max(r[7] for r in rows):.1e}. "
              "Weight-only is further from the target than the shipped static graphs (within 1e-4 "
              "on both engines but for one or two boundary samples of 32, tests/test_engines.py), so it is not "
              "shipped.", ""]
    out.write_text("\n".join(lines))
    print(out)


if __name__ == "__main__":
    typer.run(main)
