"""A bundle's graphs on the other ONNX engines devices use, OpenVINO and tract, beside onnxruntime (with its
graph optimizations and without: the ONNX definition, node by node), on real samples. What
tests/test_engines.py holds every committed graph to, and what tools/int8_weight_only_check.py reuses.
OpenVINO and tract come with the `engines` extra and are imported only when run."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ssvae_edge import cut_windows, read_recording
from ssvae_edge.contract import Manifest

N = 32  # real samples per graph


@cache
def _mnist_test(mnist_dir: Path) -> np.ndarray:
    from ssvae_train.data.mnist import load_mnist

    return load_mnist(mnist_dir).x_test


def real_feeds(bundle: Path, graph: str, sensor_stream: Path, mnist_dir: Path, n: int = N) -> dict[str, np.ndarray]:
    """Real test samples in raw units (MNIST test images; windows of a sensor recording, every third one);
    the decoder gets z ~ N(0, 1) with the classes in turn, as when generating."""
    m = Manifest.load(bundle)
    if graph == "decoder":
        rng = np.random.default_rng(0)
        return {"z": rng.standard_normal((n, m.latent_dim)).astype(np.float32),
                "y": (np.arange(n) % len(m.classes)).astype(np.int64)}
    if m.is_sensor:
        rec = read_recording(sensor_stream, m.channels, m.sample_rate_hz)
        x = cut_windows(rec.samples, m.window, m.window)[:: 3][:n]
    else:
        x = _mnist_test(Path(mnist_dir))[:n]
    if list(x.shape[1:]) != list(m.sample_shape):
        raise ValueError(f"samples {list(x.shape[1:])} do not fit {bundle} ({list(m.sample_shape)})")
    return {"x": np.ascontiguousarray(x, dtype=np.float32)}


def run_onnxruntime(path: Path, feeds: dict[str, np.ndarray], optimized: bool = True) -> np.ndarray:
    opts = ort.SessionOptions()
    if not optimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def run_openvino(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """OpenVINO at float32: on CPUs with bf16 units (AMX, AVX512-BF16) its CPU plugin otherwise computes in
    bf16 by default (INFERENCE_PRECISION_HINT), which differs from onnxruntime by ~1e-2 on every graph."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    names = [next(iter(set(p.get_names()) & set(feeds))) for p in compiled.inputs]  # a port has many names
    return np.asarray(compiled([feeds[n] for n in names])[compiled.output(0)])


def run_tract(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    """tract with the inputs' concrete shapes declared, as a device states its input (a symbolic batch
    axis clashes inside tract's LSTM Scan)."""
    import tract

    model = tract.onnx().load(str(path))
    names = [model.input_name(i) for i in range(model.input_count())]
    for i, n in enumerate(names):
        a = feeds[n]
        model.set_input_fact(i, ",".join(map(str, a.shape)) + ("," + ("f32" if a.dtype == np.float32 else "i64")))
    runnable = model.into_model().into_runnable()
    return runnable.run([feeds[n] for n in names])[0].to_numpy()


def rel_diff(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want|."""
    return float(np.abs(got.astype(np.float64) - want).max() / max(float(np.abs(want).max()), 1e-12))
