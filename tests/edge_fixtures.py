"""Small contract-conformant bundles for the edge tests, built with onnx.helper (no training needed).

classifier: mean over time -> MatMul + bias -> Softmax      (x [N, 128, 9] -> probs [N, 6])
anomaly:    mean of squares over time and channels          (x -> score [N]; N(0,1) noise scores ~1)
decoder:    z @ Wz + E[y], reshaped                         (z [N, 16], y [N] -> x_hat [N, 128, 9])

Options produce the broken variants the runtime must refuse (renamed inputs, fixed batch axis, ...).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHANNELS = [
    "body_acc_x", "body_acc_y", "body_acc_z",
    "body_gyro_x", "body_gyro_y", "body_gyro_z",
    "total_acc_x", "total_acc_y", "total_acc_z",
]
CLASSES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
WINDOW, HOP, RATE, LATENT = 128, 64, 50, 16
THRESHOLD = 2.0  # anomaly score = mean square: N(0,1) noise ~1, noise of amplitude 2 ~4
OPSET = 18


def _model(nodes: list, inputs: list, outputs: list, inits: list) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    return model


def _x(name: str, batch: Any, time: Any) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch, time, len(CHANNELS)])


def classifier(x_name: str = "x", out_name: str = "probs", batch: Any = "N", time: Any = WINDOW,
               k: int = len(CLASSES), seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    w = (rng.standard_normal((len(CHANNELS), k)) * 3).astype(np.float32)
    b = (rng.standard_normal(k) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("ReduceMean", [x_name, "axis1"], ["m"], keepdims=0),
        helper.make_node("MatMul", ["m", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [out_name], axis=-1),
    ]
    inits = [numpy_helper.from_array(np.array([1], np.int64), "axis1"),
             numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")]
    out = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, k])
    return _model(nodes, [_x(x_name, batch, time)], [out], inits)


def anomaly(x_name: str = "x", batch: Any = "N", time: Any = WINDOW) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Mul", [x_name, x_name], ["sq"]),
        helper.make_node("ReduceMean", ["sq", "axes"], ["score"], keepdims=0),
    ]
    inits = [numpy_helper.from_array(np.array([1, 2], np.int64), "axes")]
    out = helper.make_tensor_value_info("score", TensorProto.FLOAT, [batch])
    return _model(nodes, [_x(x_name, batch, time)], [out], inits)


def decoder(latent: int = LATENT, seed: int = 1) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    d = WINDOW * len(CHANNELS)
    wz = (rng.standard_normal((latent, d)) * 0.1).astype(np.float32)
    emb = rng.standard_normal((len(CLASSES), d)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["z", "Wz"], ["hz"]),
        helper.make_node("Gather", ["E", "y"], ["hy"], axis=0),
        helper.make_node("Add", ["hz", "hy"], ["h"]),
        helper.make_node("Reshape", ["h", "shape"], ["x_hat"]),
    ]
    inits = [numpy_helper.from_array(wz, "Wz"), numpy_helper.from_array(emb, "E"),
             numpy_helper.from_array(np.array([-1, WINDOW, len(CHANNELS)], np.int64), "shape")]
    ins = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", latent]),
           helper.make_tensor_value_info("y", TensorProto.INT64, ["N"])]
    out = helper.make_tensor_value_info("x_hat", TensorProto.FLOAT, ["N", WINDOW, len(CHANNELS)])
    return _model(nodes, ins, [out], inits)


def manifest(graphs: dict[str, bytes], **overrides: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "format": 1,
        "graphs": {g: {"file": f"{g}.onnx", "sha256": hashlib.sha256(b).hexdigest()}
                   for g, b in graphs.items()},
        "classes": list(CLASSES),
        "sample_shape": [WINDOW, len(CHANNELS)],
        "dtype": "float32",
        "units": "g, rad/s",
        "channels": list(CHANNELS),
        "sample_rate_hz": RATE,
        "window": WINDOW,
        "hop": HOP,
        "latent_dim": LATENT,
        "threshold": THRESHOLD,
        "threshold_calibration": {"quantile": 0.99, "split": "test fixture"},
        "opset": OPSET,
        "producer": {"name": "tests/edge_fixtures.py"},
    }
    m.update(overrides)
    return m


def write_bundle(folder: Path, models: dict[str, onnx.ModelProto], **overrides: Any) -> Path:
    """Write graphs + a manifest with their true sha256 (overrides replace manifest keys)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    blobs = {g: m.SerializeToString() for g, m in models.items()}
    for g, b in blobs.items():
        (folder / f"{g}.onnx").write_bytes(b)
    (folder / "manifest.json").write_text(json.dumps(manifest(blobs, **overrides), indent=2))
    return folder


def make_bundle(folder: Path, graphs: tuple[str, ...] = ("classifier", "anomaly", "decoder"),
                time_dynamic: bool = False, **overrides: Any) -> Path:
    """A conformant bundle holding `graphs` (time axis symbolic when `time_dynamic`)."""
    time = "T" if time_dynamic else WINDOW
    build = {"classifier": lambda: classifier(time=time), "anomaly": lambda: anomaly(time=time),
             "decoder": decoder}
    return write_bundle(folder, {g: build[g]() for g in graphs}, **overrides)


def noise_stream(n: int, seed: int = 0, segment: int = 300) -> np.ndarray:
    """[n, 9] float32 noise whose mean shifts every `segment` samples, so labels vary along the stream."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, len(CHANNELS))).astype(np.float32)
    for s in range(0, n, segment):
        x[s:s + segment] += 0.7 * rng.standard_normal(len(CHANNELS)).astype(np.float32)
    return x
