"""int8 as a precision of the edge runtime, on the committed bundles: chosen with `precision="int8"` /
`--precision int8`, hash-checked like fp32, listed by `info`, batch-independent (static QDQ), streamed
with the same labels as the offline int8 classifier, and within the accuracy budget of fp32."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ssvae_edge import Bundle, BundleError, StreamScorer, cut_windows, read_recording
from ssvae_edge import cli as edge_cli
from ssvae_edge.contract import Manifest, file_sha256

ROOT = Path(__file__).resolve().parents[1]
EXPORTED = ROOT / "exported"
BUNDLES = sorted(p.parent.name for p in EXPORTED.glob("*/manifest.json"))
DEMO = EXPORTED / "har-demo" / "demo_stream.csv"
PHONE_DEMO = EXPORTED / "phone-demo" / "exp03_user02.csv"
runner = CliRunner()


@cache
def samples(name: str) -> np.ndarray:
    """Real test samples for a bundle: UCI-HAR windows of the demo stream, or MNIST test images."""
    m = Manifest.load(EXPORTED / name)
    if m.is_sensor:
        demo = PHONE_DEMO if m.channels[0] == "acc_x" else DEMO  # the shipped recording with its channels
        rec = read_recording(demo, m.channels, m.sample_rate_hz)
        return np.ascontiguousarray(cut_windows(rec.samples, m.window, m.window)[:70])
    from ssvae_train.data.mnist import load_mnist

    return load_mnist(ROOT / "tests" / "data" / "mnist").x_test[:70]


def test_int8_is_a_precision_of_every_bundle() -> None:
    for name in BUNDLES:
        fp32 = Bundle.load(EXPORTED / name, providers="cpu")
        b = Bundle.load(EXPORTED / name, providers="cpu", precision="int8")
        assert fp32.precision == "fp32" and set(fp32.precisions.values()) == {"fp32"}
        assert b.precisions == {g: "int8" for g in b.graphs} and b.precision == "int8"
        assert all(b.graph_file(g).endswith(".int8.onnx") for g in b.graphs)
        if b.has("anomaly"):  # the int8 anomaly graph's own threshold, not the fp32 one
            assert b.threshold == b.manifest.graphs_int8["anomaly"].threshold != fp32.threshold
        x = samples(name)[:8]
        assert np.abs(b.classify(x) - fp32.classify(x)).max() > 0  # really other graphs


@pytest.mark.parametrize("name", BUNDLES)
def test_int8_output_of_a_sample_does_not_depend_on_its_batch(name: str) -> None:
    b = Bundle.load(EXPORTED / name, providers="cpu", threads=1, precision="int8")
    x = samples(name)
    order = np.random.default_rng(0).permutation(len(x))
    for run in (b.classify, b.anomaly_score):
        alone = np.concatenate([run(x[i:i + 1]) for i in range(len(x))])
        for size in (2, 7, 32, len(x)):
            got = np.concatenate([run(x[order][i:i + size]) for i in range(0, len(x), size)])
            assert np.array_equal(got, alone[order]), (run.__name__, size)


# bundles whose int8 budget is held on the stream at their defaults (the posture model deciding SITTING and
# STANDING) rather than on the graph alone -> (the benchmark that streamed them, what the graph alone may lose).
# har-phone-any-angle was trained with every window turned about the phone's long axis: its graph alone loses 2.37
# points, 125 of 132 changed windows STANDING read as SITTING; har-phone-novelty's lost 0.54 when its recipe had
# the turns too, and gains 0.60 now (exported/README.md § int8)
DECIDED_IN_THE_STREAM = {"har-phone-any-angle": ("hapt-phone-any-angle", 0.025),
                         "har-phone-novelty": ("hapt-phone-novelty", 0.01)}


@pytest.mark.parametrize("name", BUNDLES)
def test_int8_accuracy_and_auroc_within_budget_of_fp32(name: str) -> None:
    q = Manifest.load(EXPORTED / name).quantization.to_json()
    assert q["method"] == "onnxruntime.quantization.quantize_static" and q["format"] == "QDQ"
    assert q["batch_independent"]
    # int8 may not cost more than half a point (har-phone: -0.38); it may gain more (an earlier har-phone +0.92):
    # borderline SITTING / STANDING windows of unseen people that the rounding moves, exported/README.md § int8
    if name in DECIDED_IN_THE_STREAM:
        # the graph alone may lose its own budget on STANDING / SITTING, two postures the posture model decides in
        # the stream: there (its benchmark, the test people streamed whole, of this very manifest) half a point
        benchmark, graph_budget = DECIDED_IN_THE_STREAM[name]
        assert q["int8"]["test_accuracy"] >= q["fp32"]["test_accuracy"] - graph_budget
        streamed = json.loads((ROOT / "benchmarks" / f"{benchmark}.json").read_text())
        assert streamed.get("manifest_sha256") == file_sha256(EXPORTED / name / "manifest.json"), (
            f"benchmarks/{benchmark}.json measured another export: run tools/eval_phone.py again")
        assert streamed["int8"]["accuracy"] >= streamed["fp32"]["accuracy"] - 0.005
    else:
        assert q["int8"]["test_accuracy"] >= q["fp32"]["test_accuracy"] - 0.005
    assert q["deltas"]["test_accuracy_points"] == pytest.approx(
        100 * (q["int8"]["test_accuracy"] - q["fp32"]["test_accuracy"]), abs=1e-3)
    if "anomaly_roc_auc" in q["fp32"]:
        assert abs(q["int8"]["anomaly_roc_auc"] - q["fp32"]["anomaly_roc_auc"]) <= 0.005


def test_stream_int8_labels_equal_the_offline_int8_classifier() -> None:
    b = Bundle.load(EXPORTED / "har-lstm", providers="cpu", precision="int8")
    rec = read_recording(DEMO, b.channels, b.sample_rate_hz)
    offline = [b.classes[i] for i in b.classify(cut_windows(rec.samples, b.window, 128)).argmax(1)]
    r = runner.invoke(edge_cli.app, ["stream", str(EXPORTED / "har-lstm"), "--input", str(DEMO), "--hop", "128",
                                     "--precision", "int8", "--batch", "5"])
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert events[-1]["summary"] and events[-1]["threshold"] == b.threshold
    assert [e["class"] for e in events[:-1]] == offline and len(offline) == 117
    for chunk, batch in ((1000, 32), (37, 3)):  # the API, other chunkings and batches: the same labels
        scorer = StreamScorer(b, hop=128, batch=batch)
        labels = [e["class"] for e in scorer.run(rec.chunks(chunk))]
        assert labels == offline and scorer.summary()["windows"] == len(offline)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_tampered_int8_graph_is_refused(tmp_path: Path, precision: str) -> None:
    bundle = shutil.copytree(EXPORTED / "mnist-dense", tmp_path / "b")
    f = bundle / "classifier.int8.onnx"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"classifier \(int8\): classifier.int8.onnx does not match its sha256"):
        Bundle.load(bundle, providers="cpu", precision=precision)
    r = runner.invoke(edge_cli.app, ["info", str(bundle), "--precision", precision])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ssvae-edge: error: classifier (int8): "), lines


def test_info_lists_the_int8_graphs() -> None:
    r = runner.invoke(edge_cli.app, ["info", str(EXPORTED / "har-lstm"), "--precision", "int8", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    files = {(f["graph"], f["precision"]): f for f in d["files"]}
    assert set(files) == {(g, p) for g in ("classifier", "anomaly", "decoder") for p in ("fp32", "int8")}
    assert all(f["verified"] for f in d["files"]) and files["anomaly", "int8"]["file"] == "anomaly.int8.onnx"
    assert d["graphs"]["classifier"]["precision"] == "int8" and d["threshold_int8"] is not None


def test_a_bundle_without_int8_graphs_refuses_int8(tmp_path: Path) -> None:
    bundle = shutil.copytree(EXPORTED / "mnist-dense", tmp_path / "b")
    m = json.loads((bundle / "manifest.json").read_text())
    del m["graphs_int8"]
    (bundle / "manifest.json").write_text(json.dumps(m))
    assert Bundle.load(bundle, providers="cpu").precision == "fp32"
    with pytest.raises(BundleError, match="no int8 graphs"):
        Bundle.load(bundle, providers="cpu", precision="int8")
    with pytest.raises(Exception, match="precision 'int4'"):
        Bundle.load(bundle, providers="cpu", precision="int4")
