"""Every graph of every committed bundle runs on two other ONNX engines that devices use, OpenVINO and
tract, and gives what onnxruntime gives on real samples (the bundle contract says any device reads a
bundle without our code). Needs the `engines` extra (CI installs it); skipped without it.

Every graph: relative max difference <= 1e-4 (max |engine - onnxruntime| / max |onnxruntime|).
int8 graphs (QDQ) run two ways in onnxruntime itself: with its graph optimizations (the default; the
QDQ pairs are fused into integer kernels) and without (each DequantizeLinear/op/QuantizeLinear in turn,
the ONNX definition). The two differ by a few quantization steps (up to 35 % of the largest pixel of a
decoded MNIST image), so an int8 sample matches when it is within 1e-4 of either. int8 graphs are compared
sample by sample: at most one of the 32 samples may be further (held to int8's own difference from fp32).
That sample is one activation sitting on a rounding boundary: the engines' float arithmetic before a
QuantizeLinear differs in its last bit, the value rounds to the neighbouring int8 step, and the step moves
the output (har-lstm's int8 classifier: window 29 of the demo stream, 2e-2 in one probability, the same in
OpenVINO and tract; every other sample within 2e-7). No quantizer can rule that out between engines.
On top, the classes agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssvae_edge.contract import PRECISIONS, Manifest
from ssvae_train.export import engines as E
from ssvae_train.export.engines import rel_diff, run_onnxruntime, run_openvino, run_tract

ov = pytest.importorskip("openvino", reason="the engines extra is not installed: pip install -e '.[engines]'")
tract = pytest.importorskip("tract", reason="the engines extra is not installed: pip install -e '.[engines]'")

ROOT = Path(__file__).resolve().parents[1]
EXPORTED = ROOT / "exported"
BUNDLES = sorted(p.parent for p in EXPORTED.glob("*/manifest.json"))
REL = 1e-4
INT8_BOUNDARY_SAMPLES = 1  # int8: samples of N that may sit on a rounding boundary (see the test)
# Graphs tract 0.23 cannot load, by the sha256 of the fp32 graph (its int8 version is made from it), so a
# re-exported graph is tested for real: the UCI-HAR `lstm` decoder feeds its LSTM the code broadcast over
# time, and tract's declutter pass fails on it ("Trying to substitute a N,256,128 by N,256,1" at the LSTM's
# input projection). These are expected failures (xfail): the HAR bundles are to be re-exported with a
# decoder without that broadcast (`--arch convlstm`: transposed convolutions).
TRACT_CANNOT: dict[str, str] = {}  # sha256 of an fp32 graph tract cannot load -> what it is (none today)
# int8 graphs with more boundary samples than INT8_BOUNDARY_SAMPLES on one engine, by (engine, sha256 of the
# int8 graph): expected failures (xfail), so a re-exported graph is tested for real, and a graph that stops
# failing must leave the list. Each one is said in exported/README.md § Other engines.
INT8_MORE_BOUNDARIES: dict[tuple[str, str], str] = {
    ("openvino", "fc57a3734e25b8c769bf1ab43e6033a22627eae0a8c7da27b953db95d64d5bb7"):
        "mnist-dense int8 decoder: 2 of 32 codes on a rounding boundary in OpenVINO (1.4e-01 and 9.6e-04 of the "
        "largest pixel; int8 itself is 2.7e-01 from fp32 there)",
}


def demo_stream(bundle: Path) -> Path:
    """The shipped recording with the bundle's channels: the phone demo (raw acc/gyro) or the UCI-HAR demo."""
    phone = EXPORTED / "phone-demo" / "exp03_user02.csv"
    har = EXPORTED / "har-demo" / "demo_stream.csv"
    return phone if (Manifest.load(bundle).channels or [None])[0] == "acc_x" else har


def real_feeds(bundle: Path, graph: str) -> dict[str, np.ndarray]:
    """Real test samples: MNIST test images of the committed slice, windows of the shipped demo recordings."""
    return E.real_feeds(bundle, graph, demo_stream(bundle), ROOT / "tests" / "data" / "mnist")


CASES = [(b, prec, g) for b in BUNDLES for prec in PRECISIONS for g in Manifest.load(b).graph_set(prec)]


def test_every_committed_bundle_is_covered() -> None:
    assert {b.name for b in BUNDLES} >= {"har-lstm", "har-lstm-novelty", "mnist-conv", "mnist-dense"}
    assert all(Manifest.load(b).graphs_int8 for b in BUNDLES), "every committed bundle ships int8 graphs"


@pytest.mark.parametrize("engine", ["openvino", "tract"])
@pytest.mark.parametrize(("bundle", "precision", "graph"), CASES,
                         ids=[f"{b.name}-{p}-{g}" for b, p, g in CASES])
def test_engine_matches_onnxruntime(bundle: Path, precision: str, graph: str, engine: str) -> None:
    m = Manifest.load(bundle)
    entry, fp32 = m.graph_set(precision)[graph], m.graphs[graph]
    path = bundle / entry.file
    feeds = real_feeds(bundle, graph)
    if engine == "tract" and fp32.sha256 in TRACT_CANNOT:
        try:
            run_tract(path, feeds)
        except tract.TractError:
            pytest.xfail(f"tract cannot load {TRACT_CANNOT[fp32.sha256]} (LSTM fed a broadcast code)")
        pytest.fail(f"tract now loads {TRACT_CANNOT[fp32.sha256]}: remove it from TRACT_CANNOT")
    want = {"optimized": run_onnxruntime(path, feeds)}
    if precision == "int8":
        want["unoptimized (the QDQ definition)"] = run_onnxruntime(path, feeds, optimized=False)
    got = (run_openvino if engine == "openvino" else run_tract)(path, feeds)
    assert all(got.shape == w.shape for w in want.values())
    if precision == "int8":
        # Per sample: a sample is off when it is further than REL from both onnxruntime modes. At most
        # INT8_BOUNDARY_SAMPLES may be, each within int8's own difference from fp32 (one activation on a
        # rounding boundary, flipped by the last bit of the float arithmetic before its QuantizeLinear).
        scale = max(float(np.abs(want["optimized"]).max()), 1e-12)
        per = np.min([np.abs(got.astype(np.float64) - w).reshape(len(w), -1).max(1) / scale for w in want.values()], 0)
        own = rel_diff(want["optimized"], run_onnxruntime(bundle / fp32.file, feeds))
        off = np.flatnonzero(per > REL)
        ok = len(off) <= INT8_BOUNDARY_SAMPLES and bool((per[off] <= own).all())
        known = INT8_MORE_BOUNDARIES.get((engine, entry.sha256))
        if known is not None:
            if ok:
                pytest.fail(f"{engine} now matches onnxruntime on {known.split(':')[0]}: remove it from "
                            "INT8_MORE_BOUNDARIES")
            if (per[off] <= own).all():
                pytest.xfail(known)
        assert ok, (
            f"{engine} vs onnxruntime: {len(off)} of {len(per)} samples beyond {REL:g} (worst {per.max():.2g}; "
            f"int8 vs fp32 {own:.2g})")
    else:
        diffs = {mode: rel_diff(got, w) for mode, w in want.items()}
        assert min(diffs.values()) <= REL, f"{engine} vs onnxruntime: relative max diff {diffs} (tolerance {REL:g})"
    if graph == "classifier":
        assert any(np.array_equal(got.argmax(1), w.argmax(1)) for w in want.values())
