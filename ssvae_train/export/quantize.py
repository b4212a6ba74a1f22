"""int8 versions of a bundle's graphs, made with onnxruntime's static quantization (QDQ).

Why static: dynamic quantization picks each activation's scale from the batch it is given, so a
window's int8 output depended on which other windows shared its batch (a stream's labels changed with
its chunking). `quantize_static` fixes every scale once, from calibration rows (training rows of the
run's data), and writes QuantizeLinear/DequantizeLinear pairs (QDQ) that any ONNX engine reads; the
int8 output of a sample is then the same alone and inside any batch.

What is quantized: the nodes that carry weights (Conv, ConvTranspose, Gemm, MatMul with a constant
operand) of at least `min_weights` values, weights per output channel (int8), activations per tensor
(uint8). Smaller layers stay float32: they save next to nothing and cost the most accuracy (the first
convolution reading the pixels, above all; results/int8-calibration.md). Transposed convolutions over 1-D
signals stay float32 too (`_weighted_nodes` says why). Everything else stays float32: the preprocessing
inside the graph, softmax, the anomaly score's sums, and LSTM nodes (QDQ has no LSTM form in onnxruntime;
its LSTM quantizer is dynamic, the batch dependence this module removes).

`SETTINGS` (a `QuantSettings`) is the one statement of how: `quantize_static` is called with it and the
manifest's `quantization` records it. `quantize_bundle` is the one path: `ssvae-export --quantize int8` and
`--requantize` both call it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from ssvae_edge.sections import Quantization
from ssvae_train.export import measure
from ssvae_train.export.graphs import first_line, run_batched, session

CALIBRATION_BATCH = 64
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}


@dataclass(frozen=True)
class QuantSettings:
    """How int8 graphs are made: what `quantize_static` is called with (`static_options`) and what the
    manifest's `quantization` records of it (`manifest_fields`), from the same values."""

    method: str = "onnxruntime.quantization.quantize_static"
    format: str = "QDQ"  # QuantizeLinear/DequantizeLinear pairs: any ONNX engine reads them
    weight_type: str = "QInt8"
    per_channel: bool = True
    activation_type: str = "QUInt8"
    # Activation ranges: a high percentile of |activation| over the calibration rows, not the extreme
    # (MinMax): a few outlying activations no longer stretch a tensor's 256 levels. Chosen on validation
    # agreement with fp32 (results/int8-calibration.md).
    calibration_method: str = "Percentile"
    calibration_percentile: float = 99.99
    calibration_rows: int = 512  # training rows the activation ranges are taken from (a seeded draw)
    calibration_seed: int = 0
    quantized_ops: tuple[str, ...] = ("Conv", "ConvTranspose", "Gemm", "MatMul")
    min_weights: int = 1024  # a node with fewer weights stays float32

    def static_options(self, nodes: list[str]) -> dict:
        """The keyword arguments of `quantize_static` (less the model paths and the data reader)."""
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

        return {"quant_format": getattr(QuantFormat, self.format), "nodes_to_quantize": nodes,
                "per_channel": self.per_channel, "weight_type": getattr(QuantType, self.weight_type),
                "activation_type": getattr(QuantType, self.activation_type),
                "calibrate_method": getattr(CalibrationMethod, self.calibration_method),
                "extra_options": {"CalibPercentile": self.calibration_percentile}}

    def manifest_fields(self, n_train: int) -> dict:
        """The manifest's `quantization` keys that say how (`n_train`: the training rows there were)."""
        return {"method": self.method, "format": self.format, "weight_type": self.weight_type,
                "per_channel": self.per_channel, "activation_type": self.activation_type,
                "calibration_method": self.calibration_method,
                "calibration_percentile": self.calibration_percentile,
                "calibration": {"rows": min(self.calibration_rows, n_train), "source": "training split",
                                "seed": self.calibration_seed, "decoder": "z ~ N(0, 1), classes in turn"},
                "quantized_ops": list(self.quantized_ops), "min_weights": self.min_weights}


SETTINGS = QuantSettings()


def int8_file(file: str) -> str:
    """`classifier.onnx` -> `classifier.int8.onnx`."""
    return file.removesuffix(".onnx") + ".int8.onnx"


class Rows:
    """A `CalibrationDataReader` over in-memory feeds: `CALIBRATION_BATCH` rows per call, every call the
    same size (onnxruntime's histogram calibrators stack the batches, so a shorter last one fails): the
    last `n % batch` rows are left out, or one batch of all rows when there are fewer than `batch`."""

    def __init__(self, feeds: Mapping[str, np.ndarray], batch: int = CALIBRATION_BATCH):
        self.feeds = dict(feeds)
        n = len(next(iter(self.feeds.values())))
        self.batch = min(batch, n)
        self.n = n - n % self.batch if self.batch else 0
        self._it: Iterator[dict[str, np.ndarray]] | None = None

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        for i in range(0, self.n, self.batch):
            yield {k: np.ascontiguousarray(v[i : i + self.batch]) for k, v in self.feeds.items()}

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._it is None:
            self._it = self._batches()
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = None


def _weighted_nodes(model: onnx.ModelProto, settings: QuantSettings = SETTINGS) -> list[str]:
    """Names of the Conv/Gemm/MatMul nodes whose constant operand has >= `min_weights` values, less the
    transposed convolutions over 1-D signals (weights [C_in, C_out, k]): OpenVINO's int8 kernel for those
    rounds differently from onnxruntime's and from the ONNX definition (tract), 1e-2 of a decoded sensor
    window; float32 there, OpenVINO and tract agree with onnxruntime (tests/test_engines.py)."""
    dims = {t.name: list(t.dims) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].t.dims:
            dims[n.output[0]] = list(n.attribute[0].t.dims)

    def weighted(n: onnx.NodeProto) -> bool:
        w = dims.get(n.input[1]) if len(n.input) > 1 else None
        if n.op_type not in settings.quantized_ops or w is None or int(np.prod(w)) < settings.min_weights:
            return False
        return not (n.op_type == "ConvTranspose" and len(w) == 3)

    return [n.name for n in model.graph.node if weighted(n)]


def quantize_graph(src: Path, dst: Path, calibration: Mapping[str, np.ndarray],
                   settings: QuantSettings = SETTINGS) -> tuple[bool, str]:
    """Write the static int8 (QDQ) version of `src` to `dst`, calibrated on `calibration` feeds.

    Returns (True, a short description of what was quantized) or (False, why not); on failure `dst`
    is removed and the fp32 graph is never touched.
    """
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    class Reader(Rows, CalibrationDataReader):
        pass

    try:
        model = onnx.load(str(src))
        nodes = _weighted_nodes(model, settings)
        if not nodes:
            raise ValueError(f"no {'/'.join(settings.quantized_ops)} node with weights to quantize")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            level = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # quantize_static logs its pre-processing advice
            try:  # (its histogram calibrators also print progress to stdout)
                with contextlib.redirect_stdout(io.StringIO()):
                    quantize_static(str(src), str(dst), Reader(calibration), **settings.static_options(nodes))
            finally:
                logging.getLogger().setLevel(level)
        quantized = onnx.load(str(dst))
        # The quantizer leaves its shape-inference notes (value_info, symbolic N and T) in the graph; an
        # engine told the input's concrete shape (tract) then refuses the clash. They are optional: drop them.
        del quantized.graph.value_info[:]
        onnx.save(quantized, str(dst))
        onnx.checker.check_model(str(dst), full_check=True)
        ops = {n.op_type for n in quantized.graph.node}
        if not ops & QDQ_OPS:
            raise ValueError("the quantizer wrote no QuantizeLinear/DequantizeLinear node")
        probe = {k: v[:4] for k, v in calibration.items()}
        out = session(dst).run(None, probe)[0]
        if not np.isfinite(out).all():
            raise ValueError("the int8 graph gives non-finite outputs")
    except Exception as e:
        dst.unlink(missing_ok=True)
        return False, first_line(e)
    kinds = sorted({n.op_type for n in model.graph.node if n.name in nodes})
    return True, f"{len(nodes)} {'/'.join(kinds)} nodes int8 (QDQ)"


def batch_difference(sess, feeds: Mapping[str, np.ndarray], sizes: tuple[int, ...] = (1, 7, 64)) -> float:
    """Max |output alone - output inside a batch| over `feeds`'s rows, batch sizes `sizes`: 0 when a
    sample's output does not depend on its batch (what static quantization is for)."""
    n = len(next(iter(feeds.values())))
    alone = np.concatenate([sess.run(None, {k: v[i : i + 1] for k, v in feeds.items()})[0] for i in range(n)])
    worst = 0.0
    for b in sizes:
        got = np.concatenate([sess.run(None, {k: v[i : i + b] for k, v in feeds.items()})[0]
                              for i in range(0, n, b)])
        worst = max(worst, float(np.abs(got.astype(np.float64) - alone).max()))
    return worst


# ---- a bundle's int8 graphs, measured beside its fp32 ones -------------------------------------------
BATCH_CHECK_ROWS = 64


@dataclass
class QuantData:
    """The rows int8 is calibrated on (training rows), thresholded on (validation rows) and measured on
    (test rows; label -1 marks the held-out class), and the sizes the decoder's inputs need."""

    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    latent_dim: int | None
    alert_quantile: float

    def calibration(self, graph: str) -> dict[str, np.ndarray]:
        """Feeds for `graph`: `SETTINGS.calibration_rows` training rows (seeded draw); the decoder gets the
        codes it decodes when generating, z ~ N(0, 1) with the classes in turn."""
        rng = np.random.default_rng(SETTINGS.calibration_seed)
        n = min(SETTINGS.calibration_rows, len(self.x_train))
        if graph == "decoder":
            return {"z": rng.standard_normal((n, self.latent_dim)).astype(np.float32),
                    "y": (np.arange(n) % self.n_classes).astype(np.int64)}
        return {"x": np.ascontiguousarray(self.x_train[np.sort(rng.choice(len(self.x_train), n, replace=False))])}


def quantize_bundle(folder: Path, files: Mapping[str, Path], data: QuantData,
                    say: Callable[[str], None] = lambda _line: None) -> tuple[dict, Quantization]:
    """Write `<graph>.int8.onnx` beside each fp32 graph in `folder`; return the manifest's `graphs_int8`
    (file, sha256, bytes; the anomaly graph's own threshold) and `quantization` (how, on what, and fp32
    against int8 on the same test rows with the same code: accuracy, ROC AUC, their deltas)."""
    from ssvae_edge.contract import file_sha256

    int8: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    batch_diff: dict[str, float] = {}
    for name, src in files.items():
        dst = folder / int8_file(src.name)
        feeds = data.calibration(name)
        ok, info = quantize_graph(src, dst, feeds)
        if not ok:
            skipped[name] = info
            say(f"{src.name}: not quantized ({info})")
            continue
        int8[name] = {"file": dst.name, "sha256": file_sha256(dst), "bytes": dst.stat().st_size, "quantized": info}
        check = ({"x": data.x_test[:BATCH_CHECK_ROWS]} if name != "decoder"
                 else {k: v[:BATCH_CHECK_ROWS] for k, v in feeds.items()})
        batch_diff[name] = batch_difference(session(dst), check)
    normal = data.y_test >= 0
    held_out = not normal.all()
    fp32: dict = {"bytes": {name: p.stat().st_size for name, p in files.items()}}
    i8: dict = {"bytes": {name: e["bytes"] for name, e in int8.items()}}
    deltas: dict = {}
    if "classifier" in int8:
        acc32, pred32 = measure.accuracy(session(files["classifier"]), data.x_test[normal], data.y_test[normal])
        acc8, pred8 = measure.accuracy(session(folder / int8["classifier"]["file"]), data.x_test[normal],
                                       data.y_test[normal])
        fp32["test_accuracy"], i8["test_accuracy"] = acc32, acc8
        i8["prediction_agreement_with_fp32"] = float(np.mean(pred8 == pred32))
        deltas["test_accuracy_points"] = round(100 * (acc8 - acc32), 4)
        say(f"test accuracy fp32 {100 * acc32:.2f} %, int8 {100 * acc8:.2f} %")
    if "anomaly" in int8:
        sess8 = session(folder / int8["anomaly"]["file"])
        threshold, calibration = measure.calibrate(sess8, data.x_val, data.alert_quantile, int8["anomaly"]["file"])
        int8["anomaly"].update({"threshold": threshold, "threshold_calibration": calibration})
        sess32 = session(files["anomaly"])
        threshold32, _ = measure.calibrate(sess32, data.x_val, data.alert_quantile)
        alert32 = run_batched(sess32, {"x": data.x_test}) > threshold32
        alert8 = run_batched(sess8, {"x": data.x_test}) > threshold
        i8["alert_agreement_with_fp32"] = float(np.mean(alert8 == alert32))  # each at its own threshold
        if held_out:
            auc32 = measure.roc_auc(session(files["anomaly"]), data.x_test, ~normal)
            auc8 = measure.roc_auc(sess8, data.x_test, ~normal)
            fp32["anomaly_roc_auc"], i8["anomaly_roc_auc"] = auc32, auc8
            deltas["anomaly_roc_auc"] = round(auc8 - auc32, 6)
            say(f"anomaly ROC AUC fp32 {auc32:.4f}, int8 {auc8:.4f}")
    for name, e in int8.items():
        say(f"{e['file']}: {e['bytes'] / 1024:.0f} KiB (fp32 {fp32['bytes'][name] / 1024:.0f} KiB), {e['quantized']}")
    quant = Quantization(
        **SETTINGS.manifest_fields(len(data.x_train)),
        float32_kept="LSTM nodes, layers under min_weights values, 1-D transposed convolutions, everything "
        "without weights",
        skipped=skipped,
        batch_independent=all(d == 0.0 for d in batch_diff.values()),
        batch_max_abs_diff=batch_diff,
        note="the int8 anomaly graph has its own threshold (graphs_int8.anomaly.threshold), calibrated "
        "like the fp32 one; 'threshold' belongs to anomaly.onnx",
        fp32=fp32, int8=i8, deltas=deltas,
    )
    return int8, quant
