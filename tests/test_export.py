"""ssvae-export: the bundle format of docs/bundle-format.md, checked on tiny models trained on real (small) data.

Models are trained once per session (one epoch, narrow layers) on the embedded digits and the committed
UCI-HAR slice; each bundle is exported once per module and the tests read it back with onnxruntime.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from reference_scores import score_rows
from typer.testing import CliRunner

from ssvae_train.config import FitConfig
from ssvae_train.export import ExportError, export_run
from ssvae_train.export import graphs as G
from ssvae_train.export.cli import app
from ssvae_train.export.config import ExportConfig
from ssvae_train.scoring.latent_prior import fit_on_run
from ssvae_train.scoring.scores import anomaly_score, default_score
from ssvae_train.training.checkpoint import load_checkpoint
from ssvae_train.training.evaluate import load_run
from ssvae_train.training.trainer import fit

HAR_SLICE = Path(__file__).parent / "data" / "uci-har"
CONTRACT_KEYS = set(
    "format graphs classes sample_shape dtype units channels sample_rate_hz window hop latent_dim threshold "
    "threshold_calibration opset producer score_method".split()
)
PRODUCER_KEYS = set(
    "ssvae torch onnx onnxruntime exporter dataset labels n_labelled seed arch model objective epochs "
    "excluded_class metrics".split()
)
RUNS = {
    "dense": dict(dataset="digits", labels="100", exclude_class=3),
    "conv": dict(dataset="digits", arch="conv", labels="100"),
    "supervised": dict(dataset="digits", model="supervised", labels="100"),
    "vae": dict(dataset="digits", model="vae", exclude_class=3),
    "lstm": dict(dataset="uci-har", data_dir=str(HAR_SLICE), arch="lstm"),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The suite shares two cores: one torch thread is much faster for these tiny batches."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, kw in RUNS.items():
            fit(FitConfig(epochs=1, hidden=32, latent_dim=8, **kw), root / name, progress=False)
    finally:
        torch.set_num_threads(before)
    return {name: root / name for name in RUNS}


@pytest.fixture(scope="module")
def bundles(runs, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    root = tmp_path_factory.mktemp("bundles")
    out = {}
    for name in RUNS:
        quantize = "int8" if name in ("dense", "conv", "lstm") else None
        out[name] = (root / name, export_run(runs[name], root / name, ExportConfig(quantize=quantize)))
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _dims(value: onnx.ValueInfoProto) -> list:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


# ---- the graphs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(RUNS))
def test_graphs_pass_checker_with_contract_io(bundles, name):
    path, m = bundles[name]
    shape, k = m["sample_shape"], len(m["classes"])
    x_dims = ["N", "T", *shape[1:]] if name == "lstm" else ["N", *shape]
    f32, i64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    want = {
        "classifier": ({"x": (f32, x_dims)}, {"probs": (f32, ["N", k])}),
        "anomaly": ({"x": (f32, x_dims)}, {"score": (f32, ["N"])}),
        "decoder": ({"z": (f32, ["N", m["latent_dim"]]), "y": (i64, ["N"])}, {"x_hat": (f32, ["N", *shape])}),
    }
    for graph, entry in m["graphs"].items():
        file = path / entry["file"]
        onnx.checker.check_model(str(file), full_check=True)
        model = onnx.load(str(file))
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == m["opset"] >= 17
        ins, outs = want[graph]
        assert [v.name for v in model.graph.input] == list(ins)
        assert [v.name for v in model.graph.output] == list(outs)
        for v in [*model.graph.input, *model.graph.output]:
            elem, dims = {**ins, **outs}[v.name]
            assert v.type.tensor_type.elem_type == elem and _dims(v) == dims, (graph, v.name)


def test_onnxruntime_matches_pytorch_on_other_rows_and_batch_sizes(runs, bundles):
    path, m = bundles["dense"]
    _, model, _, prep = load_run(runs["dense"])
    x = prep.ds.x_test[-37:]  # not the rows, nor the batch size, the export validated with
    with torch.no_grad():
        probs = model(torch.from_numpy(x)).numpy()
        z = np.random.default_rng(0).standard_normal((37, m["latent_dim"])).astype(np.float32)
        y = np.arange(37) % len(m["classes"])
        prior = fit_on_run(model, prep)  # decoder.onnx draws each class where it lies (latent_prior.py)
        x_hat = model.generate(prior.to_codes(torch.from_numpy(z), torch.from_numpy(y)), torch.from_numpy(y)).numpy()
    assert m["latent_prior"]["kind"] == "class-gaussian" and sum(m["latent_prior"]["counts"]) == len(prep.split.train)
    got = _session(path / "classifier.onnx").run(None, {"x": x})[0]
    np.testing.assert_allclose(got, probs, atol=1e-4)
    np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    score = score_rows(model, prep, x, m["score_method"])  # with the constants fitted on the run
    got = _session(path / "anomaly.onnx").run(None, {"x": x})[0]
    assert np.abs(got - score).max() <= 1e-4 * np.abs(score).max()
    got = _session(path / "decoder.onnx").run(None, {"z": z, "y": y})[0]
    assert got.shape == (37, *m["sample_shape"])
    assert np.abs(got - x_hat).max() <= 1e-4 * np.abs(x_hat).max()
    one = _session(path / "anomaly.onnx").run(None, {"x": x[:1]})[0]  # a batch of one works too
    assert one.shape == (1,)
    assert m["score_method"] == default_score(prep.ds.kind)  # chosen without the test set (scores.py)


def test_lstm_graphs_hold_an_lstm_node_and_take_other_window_lengths(runs, bundles):
    path, m = bundles["lstm"]
    for graph in ("classifier", "anomaly", "decoder"):
        ops = [n.op_type for n in onnx.load(str(path / f"{graph}.onnx")).graph.node]
        assert "LSTM" in ops and "Loop" not in ops and "Scan" not in ops, graph
    assert m["producer"]["exporter"] == "torchscript" and m["time_axis_dynamic"] is True
    _, model, _, prep = load_run(runs["lstm"])
    x_full = prep.ds.x_test[:20]
    assert x_full.shape[1] == m["window"] == 128
    for t in (128, 96, 40):
        x = np.ascontiguousarray(x_full[:, :t])
        with torch.no_grad():
            probs = model(torch.from_numpy(x)).numpy()
        score = score_rows(model, prep, x, m["score_method"])
        got = _session(path / "classifier.onnx").run(None, {"x": x})[0]
        np.testing.assert_allclose(got, probs, atol=1e-4)
        got = _session(path / "anomaly.onnx").run(None, {"x": x})[0]
        assert got.shape == (20,) and np.abs(got - score).max() <= 1e-4 * np.abs(score).max(), t


def test_score_min_is_selectable_and_recorded(runs, tmp_path):
    m = export_run(runs["dense"], tmp_path / "min", ExportConfig(score="min"))
    assert m["score_method"] == "min"
    _, model, _, prep = load_run(runs["dense"])
    x = prep.ds.x_test[:50]
    with torch.no_grad():
        want = anomaly_score(model, torch.from_numpy(x), "min").numpy()
        other = anomaly_score(model, torch.from_numpy(x), "pi").numpy()
    got = _session(tmp_path / "min" / "anomaly.onnx").run(None, {"x": x})[0]
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    assert not np.allclose(got, other)  # it really is the other score


def test_saturated_bernoulli_logits_give_finite_scores(runs, tmp_path):
    """A confident decoder (|logit| > 17, as on MNIST backgrounds) must not turn the score into NaN/inf."""
    ckpt = load_checkpoint(runs["dense"])
    bias = ckpt["state_dict"]["decoder.net.4.bias"]
    ckpt["state_dict"]["decoder.net.4.bias"] = torch.where(torch.arange(bias.numel()) % 2 == 0, 60.0, -60.0)
    (tmp_path / "run").mkdir()
    torch.save(ckpt, tmp_path / "run" / "checkpoint.pt")
    m = export_run(tmp_path / "run", tmp_path / "b")
    _, model, _, prep = load_run(tmp_path / "run")
    x = prep.ds.x_test[:30]
    want = score_rows(model, prep, x, m["score_method"])
    got = _session(tmp_path / "b" / "anomaly.onnx").run(None, {"x": x})[0]
    assert np.isfinite(want).all() and np.isfinite(got).all()
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


# ---- model kinds ------------------------------------------------------------------------------------------
def test_supervised_and_vae_export_their_subsets(runs, bundles, tmp_path):
    path, m = bundles["supervised"]
    assert set(m["graphs"]) == {"classifier"}
    assert sorted(p.name for p in path.iterdir()) == ["classifier.onnx", "manifest.json"]
    assert m["threshold"] is None and m["latent_dim"] is None
    path, m = bundles["vae"]
    assert set(m["graphs"]) == {"anomaly", "decoder"} and m["score_method"] == "vae"
    assert "anomaly_roc_auc_onnxruntime" in m["producer"]["metrics"]
    dec = _session(path / "decoder.onnx")
    assert [i.name for i in dec.get_inputs()] == ["z", "y"]  # y kept for the contract, ignored
    z = np.zeros((2, m["latent_dim"]), np.float32)
    a = dec.run(None, {"z": z, "y": np.array([0, 1])})[0]
    b = dec.run(None, {"z": z, "y": np.array([5, 7])})[0]
    np.testing.assert_array_equal(a, b)
    result = CliRunner().invoke(app, [str(runs["supervised"]), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "classifier.onnx only" in result.output


# ---- the manifest -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dense", "lstm"])
def test_manifest_keys_hashes_and_metrics(bundles, name):
    path, m = bundles[name]
    on_disk = json.loads((path / "manifest.json").read_text())
    assert on_disk == m
    assert CONTRACT_KEYS <= set(m)
    assert m["format"] == 1 and m["dtype"] == "float32" and m["opset"] == 18
    for graph, entry in m["graphs"].items():
        assert entry["file"] == f"{graph}.onnx" and entry["sha256"] == _sha256(path / entry["file"])
    p = m["producer"]
    assert PRODUCER_KEYS <= set(p)
    metrics = p["metrics"]
    assert metrics["test_accuracy_onnxruntime"] == pytest.approx(metrics["test_accuracy_pytorch"], abs=0.01)
    if name == "lstm":
        assert m["channels"] and len(m["channels"]) == 9 and m["sample_shape"] == [128, 9]
        assert m["window"] == 128 and m["hop"] == 64 and m["sample_rate_hz"] == 50
    else:
        assert p["excluded_class"] == 3 and metrics["anomaly_class"] == "3"
        auc = metrics["anomaly_roc_auc_onnxruntime"]
        assert 0.0 < auc < 1.0  # (a 1-epoch model: the number's meaning is tested in test_training)
        assert auc == pytest.approx(metrics["anomaly_roc_auc_pytorch"], abs=1e-3)


def test_edge_runtime_reads_the_manifest(bundles):
    from ssvae_edge.contract import Manifest

    for path, m in bundles.values():
        man = Manifest.load(path)
        assert set(man.graphs) == set(m["graphs"]) and man.threshold == m["threshold"]


def test_threshold_is_the_validation_quantile(runs, bundles):
    path, m = bundles["dense"]
    cal = m["threshold_calibration"]
    _, _, _, prep = load_run(runs["dense"])
    x_val = prep.ds.x_train[prep.split.val]
    s = _session(path / "anomaly.onnx").run(None, {"x": x_val})[0]
    assert cal["quantile"] == 0.99 and cal["n_val"] == len(x_val) and cal["source"] == "validation split"
    assert m["threshold"] == pytest.approx(float(np.quantile(s.astype(np.float64), 0.99)), rel=1e-6)
    assert cal["false_alarm_rate"] == pytest.approx(float(np.mean(s > m["threshold"])))
    assert cal["false_alarm_rate"] <= 0.01 + 1 / len(x_val)


# ---- int8 -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dense", "conv", "lstm"])
def test_int8_graphs_are_written_listed_and_measured(bundles, name):
    path, m = bundles[name]
    q = m["quantization"]
    assert set(m["graphs_int8"]) | set(q["skipped"]) == set(m["graphs"])
    assert "classifier" in m["graphs_int8"]
    for graph, entry in m["graphs_int8"].items():
        file = path / entry["file"]
        assert entry["file"] == f"{graph}.int8.onnx" and entry["sha256"] == _sha256(file)
        if name != "lstm":  # an LSTM stays float32 (QDQ has no LSTM form): little is saved there
            assert file.stat().st_size < (path / f"{graph}.onnx").stat().st_size
        assert q["int8"]["bytes"][graph] == file.stat().st_size
        ops = {n.op_type for n in onnx.load(str(file)).graph.node}
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # static QDQ, no dynamic quantization
        assert not ops & {"DynamicQuantizeLinear", "DynamicQuantizeLSTM", "MatMulInteger"}
    assert q["method"] == "onnxruntime.quantization.quantize_static" and q["format"] == "QDQ"
    assert q["batch_independent"] and set(q["batch_max_abs_diff"]) == set(m["graphs_int8"])
    # int8 is a faithful copy: within 3 points of fp32's accuracy, the same class on nearly every test row
    assert abs(q["int8"]["test_accuracy"] - q["fp32"]["test_accuracy"]) <= 0.03, q
    assert q["int8"]["prediction_agreement_with_fp32"] >= 0.95, q
    assert q["deltas"]["test_accuracy_points"] == round(100 * (q["int8"]["test_accuracy"]
                                                             - q["fp32"]["test_accuracy"]), 4)
    if "anomaly" in m["graphs_int8"]:
        calibration = m["graphs_int8"]["anomaly"]["threshold_calibration"]
        assert calibration["n_val"] == m["threshold_calibration"]["n_val"]


# ---- failures leave nothing behind ------------------------------------------------------------------------
def _one_error_line(result, notes_before: bool = False) -> str:
    """Exit code 2 and one `ssvae-export: error: ...` line, no traceback (progress notes may come first)."""
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ssvae-export: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in result.output, lines
    assert notes_before or len(lines) == 1, lines
    return errors[0]


def test_corrupt_or_foreign_checkpoint_fails_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x02 not a checkpoint")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    for ckpt in (bad, foreign, tmp_path / "missing"):
        out = tmp_path / "new" / "bundle"
        line = _one_error_line(CliRunner().invoke(app, [str(ckpt), "--out", str(out)]))
        assert str(ckpt) in line
        assert not (tmp_path / "new").exists()


def test_existing_destination_needs_force(runs, tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = _one_error_line(CliRunner().invoke(app, [str(runs["supervised"]), "--out", str(out)]))
    assert "--force" in line and (out / "keep.txt").read_text() == "mine"
    # --force replaces an earlier bundle only, never an unrelated folder
    _one_error_line(CliRunner().invoke(app, [str(runs["supervised"]), "--out", str(out), "--force"]))
    assert (out / "keep.txt").exists()
    (out / "keep.txt").unlink()
    for _ in range(2):
        result = CliRunner().invoke(app, [str(runs["supervised"]), "--out", str(out), "--force", "--quiet"])
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no staging folders left


def test_failed_validation_leaves_no_partial_bundle(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(G.TOLERANCE, "score", ("rel", -1.0))  # nothing can pass
    out = tmp_path / "deep" / "b"
    with pytest.raises(ExportError, match="anomaly.onnx: onnxruntime vs PyTorch"):
        export_run(runs["dense"], out)
    assert list(tmp_path.iterdir()) == []
    result = CliRunner().invoke(app, [str(runs["dense"]), "--out", str(out)])
    assert "anomaly.onnx" in _one_error_line(result, notes_before=True)
    assert list(tmp_path.iterdir()) == []


def test_bad_options_are_refused_before_anything_is_written(runs, tmp_path):
    for args in (["--score", "best"], ["--alert-quantile", "1.5"], ["--quantize", "int4"]):
        _one_error_line(CliRunner().invoke(app, [str(runs["dense"]), "--out", str(tmp_path / "b"), *args]))
    assert list(tmp_path.iterdir()) == []


def test_best_weights_are_exported_when_asked(runs, tmp_path):
    """`--weights best` ships the early-stopping pick, and the manifest says which weights were used."""
    path = runs["dense"] / "checkpoint.pt"
    ckpt = torch.load(path, weights_only=True)
    other = fit(FitConfig(epochs=1, hidden=32, latent_dim=8, seed=7, **RUNS["dense"]), tmp_path / "other",
                progress=False)
    ckpt["best"] = {"epoch": 1, "state_dict": torch.load(other, weights_only=True)["state_dict"]}
    torch.save(ckpt, tmp_path / "crafted.pt")
    m = export_run(tmp_path / "crafted.pt", tmp_path / "bundle", ExportConfig(weights="best"))
    assert m["producer"]["weights"] == "best" and m["producer"]["weights_epoch"] == 1
    x = load_run(runs["dense"])[3].ds.x_test[:40]
    got = _session(tmp_path / "bundle" / "classifier.onnx").run(None, {"x": x})[0]
    with torch.no_grad():
        best = load_run(tmp_path / "crafted.pt", weights="best")[1](torch.from_numpy(x)).numpy()
        last = load_run(tmp_path / "crafted.pt")[1](torch.from_numpy(x)).numpy()
    assert np.abs(got - best).max() < 1e-4 and np.abs(got - last).max() > 1e-3



def test_an_export_of_the_last_weights_says_when_an_earlier_epoch_validated_better(runs, tmp_path):
    """The note comes first, before anything is built (the `say` below stops the export there)."""
    ckpt = torch.load(runs["dense"] / "checkpoint.pt", weights_only=True)
    row = ckpt["history"][0]
    ckpt["history"] = [{**row, "epoch": 1, "val_accuracy": 0.9}, {**row, "epoch": 2, "val_accuracy": 0.5}]
    ckpt["epoch"], ckpt["best"] = 2, {"epoch": 1, "state_dict": ckpt["state_dict"]}
    torch.save(ckpt, tmp_path / "peaked.pt")

    class Noted(Exception):
        pass

    def say(line: str) -> None:
        if line.startswith("note: epoch"):
            raise Noted(line)

    with pytest.raises(Noted, match=r"epoch 1 read 90.0%.*\(2\) 50.0%.*--weights best"):
        export_run(tmp_path / "peaked.pt", tmp_path / "bundle", ExportConfig(), say=say)
    assert not (tmp_path / "bundle").exists()

# ---- --requantize: the committed bundles' int8 path ---------------------------------------------------------
def test_requantize_reproduces_quantize_int8_bit_for_bit(bundles, tmp_path):
    """`--requantize` (int8 from a bundle's own fp32 graphs, data rebuilt from its producer) is the code of
    `--quantize int8`: the same int8 files, sha256 for sha256, the same measurements; nothing else moves."""
    src, m = bundles["dense"]
    copy = shutil.copytree(src, tmp_path / "b")
    (copy / "anomaly.int8.onnx").write_bytes(b"stale")  # replaced, not trusted
    result = CliRunner().invoke(app, [str(copy), "--requantize", "--quiet"])
    assert result.exit_code == 0, result.output
    new = json.loads((copy / "manifest.json").read_text())
    assert new["graphs_int8"] == m["graphs_int8"] and new["graphs"] == m["graphs"]
    assert {k: v for k, v in new["quantization"].items() if k != "requantized"} == m["quantization"]
    assert {k: v for k, v in new.items() if k not in ("quantization",)} == {
        k: v for k, v in m.items() if k not in ("quantization",)}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_requantize_refuses_data_that_is_not_the_bundles(bundles, tmp_path):
    src, _ = bundles["dense"]
    copy = shutil.copytree(src, tmp_path / "b")
    raw = json.loads((copy / "manifest.json").read_text())
    raw["producer"]["seed"] += 1  # another validation split: the fp32 threshold no longer comes out
    (copy / "manifest.json").write_text(json.dumps(raw))
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    line = _one_error_line(CliRunner().invoke(app, [str(copy), "--requantize", "--quiet"]))
    assert "the rebuilt data gives an fp32 alert threshold" in line
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before
    lstm, _ = bundles["lstm"]
    assert "--requantize needs --data-dir" in _one_error_line(CliRunner().invoke(app, [str(lstm), "--requantize"]))
