"""Bundle loading: integrity (sha256), the graph contract, missing graphs, and the three uses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edge_fixtures import (
    CHANNELS,
    CLASSES,
    LATENT,
    WINDOW,
    anomaly,
    classifier,
    decoder,
    make_bundle,
    noise_stream,
    write_bundle,
)

from ssvae_edge import Bundle, BundleError, InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "full")


@pytest.fixture(scope="module")
def bundle(bundle_dir: Path) -> Bundle:
    return Bundle.load(bundle_dir)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_load_reads_manifest_and_opens_every_graph(bundle: Bundle, bundle_dir: Path) -> None:
    assert bundle.graphs == ("classifier", "anomaly", "decoder")
    assert bundle.classes == tuple(CLASSES)
    assert bundle.channels == tuple(CHANNELS)
    assert (bundle.window, bundle.hop, bundle.sample_rate_hz, bundle.latent_dim) == (128, 64, 50.0, 16)
    assert bundle.threshold == 2.0
    assert bundle.path == bundle_dir
    # the manifest file itself is accepted as the path too
    assert Bundle.load(bundle_dir / "manifest.json").graphs == bundle.graphs


def test_tampered_graph_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    b = _copy(bundle_dir, tmp_path / "b")
    data = bytearray((b / "anomaly.onnx").read_bytes())
    data[-5] ^= 0x01  # one flipped bit in a weight
    (b / "anomaly.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"anomaly: anomaly.onnx does not match its sha256"):
        Bundle.load(b)


def test_swapped_graph_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    b = _copy(bundle_dir, tmp_path / "b")
    shutil.copy(b / "anomaly.onnx", b / "classifier.onnx")  # a valid ONNX file, but not the one signed
    with pytest.raises(BundleError, match="classifier.*sha256"):
        Bundle.load(b)


def test_missing_graph_file_and_bad_manifest_are_refused(bundle_dir: Path, tmp_path: Path) -> None:
    b = _copy(bundle_dir, tmp_path / "b")
    (b / "decoder.onnx").unlink()
    with pytest.raises(BundleError, match="decoder.onnx is missing"):
        Bundle.load(b)
    (b / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle.load(b)
    with pytest.raises(BundleError, match="no such bundle"):
        Bundle.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="no manifest.json"):
        Bundle.load(tmp_path / "empty")


@pytest.mark.parametrize("change, message", [
    ({"format": 2}, "newer than this runtime"),
    ({"classes": []}, "'classes'"),
    ({"sample_shape": [128, 8]}, "disagrees with window 128 and 9 channels"),
    ({"window": 100}, "disagrees"),
    ({"latent_dim": None}, "needs 'latent_dim'"),
    ({"threshold": "high"}, "'threshold' must be a finite number"),
])
def test_inconsistent_manifest_is_refused(tmp_path: Path, change: dict, message: str) -> None:
    b = make_bundle(tmp_path / "b", **change)
    with pytest.raises(BundleError, match=message):
        Bundle.load(b)


def test_graph_path_outside_the_bundle_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    b = _copy(bundle_dir, tmp_path / "b")
    m = json.loads((b / "manifest.json").read_text())
    m["graphs"]["classifier"]["file"] = "../classifier.onnx"
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="inside the bundle folder"):
        Bundle.load(b)


@pytest.mark.parametrize("models, message", [
    ({"classifier": classifier(x_name="input")}, r"classifier: inputs are \['input'\]"),
    ({"classifier": classifier(out_name="logits_out")}, "no output 'probs'"),
    ({"classifier": classifier(k=5)}, "'probs' axis 1 is 5"),
    ({"anomaly": anomaly(time=100)}, "'x' axis 1 is 100"),
    ({"anomaly": anomaly(batch=1)}, "fixed batch axis"),
    ({"decoder": decoder(latent=8)}, "'z' axis 1 is 8"),
])
def test_graph_that_breaks_the_contract_is_refused(tmp_path: Path, models: dict, message: str) -> None:
    b = write_bundle(tmp_path / "b", models)
    with pytest.raises(BundleError, match=message):
        Bundle.load(b)


def test_graph_that_onnxruntime_cannot_load_is_refused(tmp_path: Path) -> None:
    b = tmp_path / "b"
    write_bundle(b, {"classifier": classifier()})
    (b / "classifier.onnx").write_bytes(b"not an onnx file")
    m = json.loads((b / "manifest.json").read_text())
    import hashlib

    m["graphs"]["classifier"]["sha256"] = hashlib.sha256(b"not an onnx file").hexdigest()
    (b / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="onnxruntime cannot load classifier.onnx"):
        Bundle.load(b)


def test_symbolic_time_axis_is_accepted(tmp_path: Path) -> None:
    b = Bundle.load(make_bundle(tmp_path / "b", time_dynamic=True))
    x = noise_stream(256)[None]  # a 256-sample window: the graph allows any length
    assert b.classify(x).shape == (1, len(CLASSES))
    assert b.anomaly_score(noise_stream(WINDOW)[None]).shape == (1,)


def test_bundle_with_fewer_graphs(tmp_path: Path) -> None:
    b = Bundle.load(make_bundle(tmp_path / "b", graphs=("classifier",), latent_dim=None, threshold=None))
    assert b.graphs == ("classifier",)
    assert b.classify(noise_stream(WINDOW)).shape == (1, len(CLASSES))
    with pytest.raises(BundleError, match="no anomaly graph"):
        b.anomaly_score(noise_stream(WINDOW))
    with pytest.raises(BundleError, match="no decoder graph"):
        b.generate(0, 2)


def test_classify_anomaly_generate_shapes_and_values(bundle: Bundle) -> None:
    x = np.stack([noise_stream(WINDOW, seed=s) for s in range(5)])
    probs = bundle.classify(x)
    assert probs.shape == (5, 6) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    scores = bundle.anomaly_score(x)
    assert scores.shape == (5,)
    np.testing.assert_allclose(scores, (x.astype(np.float64) ** 2).mean(axis=(1, 2)), rtol=1e-4)
    assert bundle.classify(x[0]).shape == (1, 6)  # one sample is a batch of one
    assert bundle.classify(np.zeros((0, 128, 9), np.float32)).shape == (0, 6)
    # float64 and int input are accepted and cast
    assert bundle.anomaly_score(x.astype(np.float64)).dtype == np.float32

    g = bundle.generate("LAYING", 4, seed=7)
    assert g.shape == (4, 128, 9) and g.dtype == np.float32
    np.testing.assert_array_equal(g, bundle.generate(5, 4, seed=7))  # name or index
    np.testing.assert_array_equal(g, bundle.generate("laying", 4, seed=7))  # names fold case
    assert not np.array_equal(g, bundle.generate("LAYING", 4, seed=8))
    # z ~ N(0,1) from numpy's Generator(seed): reproducible without the runtime
    z = np.random.default_rng(7).standard_normal((4, LATENT)).astype(np.float32)
    (ref,) = bundle.sessions["decoder"].run(["x_hat"], {"z": z, "y": np.full(4, 5, np.int64)})
    np.testing.assert_array_equal(g, ref)


def test_bad_arrays_are_refused_clearly(bundle: Bundle) -> None:
    with pytest.raises(InputError, match=r"x must have shape \[N, 128, 9\], got \[2, 128, 8\]"):
        bundle.classify(np.zeros((2, 128, 8), np.float32))
    x = noise_stream(WINDOW)[None].copy()
    x[0, 3, 2] = np.nan
    with pytest.raises(InputError, match="NaN/inf"):
        bundle.classify(x)
    with pytest.raises(InputError, match="must hold numbers"):
        bundle.anomaly_score(np.full((1, 128, 9), "a"))
    with pytest.raises(InputError, match="unknown class 'RUNNING'"):
        bundle.generate("RUNNING", 1)
    with pytest.raises(InputError, match="out of range"):
        bundle.generate(6, 1)
    with pytest.raises(InputError, match="non-negative"):
        bundle.generate(0, -1)


def test_runtime_never_imports_torch_onnx_or_sklearn() -> None:
    code = ("import sys, ssvae_edge, ssvae_edge.cli, ssvae_edge.bench, ssvae_edge.csvinput; "
            "bad = [m for m in ('torch', 'onnx', 'sklearn', 'ssvae_train') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_runtime_source_imports_only_allowed_packages() -> None:
    import ast

    allowed = {"numpy", "onnxruntime", "typer", "ssvae_edge", "__future__"} | set(sys.stdlib_module_names)
    for file in (ROOT / "ssvae_edge").glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] in allowed, f"{file.name} imports {n}"
