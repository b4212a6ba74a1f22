"""Turn one cut into an ONNX file, then prove it: checker, io contract, onnxruntime == PyTorch, and the
ONNX reference evaluator == onnxruntime. Every failure is an `ExportError` with a one-line message.

Exporter choice. Every architecture is exported with torch's TorchScript exporter
(`torch.onnx.export(..., dynamo=False)` with `dynamic_axes`), measured on torch 2.13:
- it maps `nn.LSTM` to one ONNX `LSTM` node whose sequence length stays symbolic, so the classifier and
  anomaly graphs accept windows of any length. The dynamo exporter also emits an `LSTM` node but
  specialised the anomaly graphs' time axis to the exported window (onnxruntime refused T=96);
- the `min` anomaly score repeats the batch once per class (`repeat_interleave`): the dynamo exporter
  baked the example batch size into that `Expand`, so the graph failed on any other batch size, while the
  TorchScript graph keeps it symbolic;
- it exports a graph in well under a second where dynamo took 2-50 s (the tests export dozens).
The exporter is therefore one setting here (`EXPORTER`), recorded in every manifest; whatever exporter is
used, the validation below runs each graph at batch sizes and window lengths other than the example's,
so a graph that baked in a shape is refused rather than shipped.

One fix to the TorchScript exporter: its `binary_cross_entropy_with_logits` is log(sigmoid(x)) and
log(1 - sigmoid(x)), which is -inf once a logit passes about +-17 in float32 (a trained MNIST decoder's
background pixels do), so the Bernoulli anomaly score came out NaN. `_stable_bce_with_logits` replaces
it, for the duration of an export, with PyTorch's own stable form max(x, 0) - x t + log(1 + exp(-|x|)).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper

from ssvae_edge import contract as C
from ssvae_train.errors import UserError
from ssvae_train.export.cuts import Cut

OPSET = 18
EXPORTER = "torchscript"
EXPORTER_DESCRIPTION = "torch.onnx.export(dynamo=False, dynamic_axes) (TorchScript exporter)"
EXPORTER_REASON = (
    "maps nn.LSTM to one ONNX LSTM node with a symbolic time axis and keeps the batch axis of the 'min' "
    "score symbolic; torch 2.13's dynamo exporter fixed both to the example's shape"
)
PROB_ATOL = 1e-4  # probabilities: max absolute difference
REL_TOL = 1e-4  # scores and reconstructions: max |a - b| / max |b| (relative to the output's scale)
TOLERANCE = {"probs": ("abs", PROB_ATOL), "score": ("rel", REL_TOL), "x_hat": ("rel", REL_TOL)}
BATCH_AXIS, TIME_AXIS = C.BATCH, C.TIME
_ELEM = {C.FLOAT: TensorProto.FLOAT, C.INT64: TensorProto.INT64}


class ExportError(UserError):
    """An export that failed or did not validate: reported as one line, and nothing is written."""


@dataclass(frozen=True)
class Signature:
    """What a graph's io must look like: names, element types and shapes (str = symbolic axis)."""

    inputs: dict[str, tuple[int, tuple[int | str, ...]]]
    outputs: dict[str, tuple[int, tuple[int | str, ...]]]


def signature(cut: Cut, sample_shape: tuple[int, ...], n_classes: int, latent_dim: int | None) -> Signature:
    """The bundle contract (`ssvae_edge.contract.io_specs`) for one graph, in ONNX element types; the LSTM's
    time axis is symbolic (`T`)."""
    ins, outs = C.io_specs(sample_shape, n_classes, latent_dim, cut.time_axis)[cut.name]
    return Signature({p.name: (_ELEM[p.type], p.shape) for p in ins}, {p.name: (_ELEM[p.type], p.shape) for p in outs})


# ---- export -------------------------------------------------------------------------------------------
def export_cut(
    cut: Cut,
    example: tuple[torch.Tensor, ...],
    path: Path,
    sig: Signature,
    metadata: dict[str, str] | None = None,
) -> None:
    """Export `cut` to `path` with dynamic batch (and time) axes and the contract's io names and shapes."""
    axes: dict[str, dict[int, str]] = {n: {0: BATCH_AXIS} for n in (*cut.inputs, *cut.outputs)}
    if cut.time_axis:
        axes["x"] = {0: BATCH_AXIS, 1: TIME_AXIS}
    try:
        with warnings.catch_warnings(), torch.no_grad(), _stable_symbolics():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
            torch.onnx.export(
                cut.module,
                example,
                str(path),
                input_names=list(cut.inputs),
                output_names=list(cut.outputs),
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
                do_constant_folding=True,
            )
    except Exception as e:
        raise ExportError(f"{cut.file}: torch.onnx.export failed ({first_line(e)})") from None
    model = onnx.load(str(path))
    _set_io(model.graph, sig)
    model.doc_string = f"ssvae {cut.name} graph"
    for k, v in {"ssvae.graph": cut.name, **(metadata or {})}.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))


@torch.onnx.symbolic_helper.parse_args("v", "v", "v", "v", "i")
def _stable_bce_with_logits(g, x, target, weight, pos_weight, reduction: int):
    """max(x, 0) - x * t + log(1 + exp(-|x|)): finite for any logit (see the module docstring)."""
    if not (_is_none(weight) and _is_none(pos_weight)):
        raise ExportError("binary_cross_entropy_with_logits with weights is not supported by this exporter")
    one = g.op("Constant", value_t=torch.tensor(1.0))
    softplus = g.op("Log", g.op("Add", g.op("Exp", g.op("Neg", g.op("Abs", x))), one))
    out = g.op("Add", g.op("Sub", g.op("Relu", x), g.op("Mul", x, target)), softplus)
    if reduction == 0:
        return out
    return g.op("ReduceMean" if reduction == 1 else "ReduceSum", out, keepdims_i=0)


def _is_none(v) -> bool:
    return v is None or (isinstance(v, torch._C.Value) and v.node().mustBeNone())


@contextmanager
def _stable_symbolics():
    name = "aten::binary_cross_entropy_with_logits"
    torch.onnx.register_custom_op_symbolic(name, _stable_bce_with_logits, OPSET)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic(name, OPSET)


def _set_io(graph: onnx.GraphProto, sig: Signature) -> None:
    """Declare the contract's shapes on the graph's inputs and outputs (named axes, fixed sizes).

    An input the computation ignores (the plain VAE decoder's `y`) is dropped by the exporter; it is put
    back, unused, so every decoder graph has the same signature.
    """
    have = {v.name for v in graph.input}
    for name, (elem, _) in sig.inputs.items():
        if name not in have:
            graph.input.append(helper.make_tensor_value_info(name, elem, None))
    order = list(sig.inputs)
    inputs = sorted(graph.input, key=lambda v: order.index(v.name) if v.name in order else len(order))
    del graph.input[:]
    graph.input.extend(inputs)
    for values, want in ((graph.input, sig.inputs), (graph.output, sig.outputs)):
        for v in values:
            if v.name in want:
                elem, shape = want[v.name]
                v.CopyFrom(helper.make_tensor_value_info(v.name, elem, list(shape)))


# ---- validation ---------------------------------------------------------------------------------------
def check_graph(path: Path, sig: Signature, lstm: bool) -> list[str]:
    """onnx.checker (full check), the io contract, and for LSTM a real `LSTM` node; returns op types."""
    name = path.name
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:
        raise ExportError(f"{name}: onnx.checker refused it ({first_line(e)})") from None
    model = onnx.load(str(path))
    for kind, values, want in (
        ("inputs", model.graph.input, sig.inputs),
        ("outputs", model.graph.output, sig.outputs),
    ):
        got = {v.name: v.type.tensor_type for v in values}
        if list(got) != list(want):
            raise ExportError(f"{name}: {kind} are {list(got)}, the bundle contract says {list(want)}")
        for n, (elem, shape) in want.items():
            t = got[n]
            dims = tuple(d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim)
            if t.elem_type != elem or dims != shape:
                raise ExportError(
                    f"{name}: {n} is {_describe(t.elem_type, dims)}, expected {_describe(elem, shape)}"
                )
    ops = sorted({n.op_type for n in model.graph.node})
    if lstm and ("LSTM" not in ops or {"Loop", "Scan"} & set(ops)):
        raise ExportError(f"{name}: expected one ONNX LSTM node per nn.LSTM, got ops {', '.join(ops)}")
    return ops


def session(path: Path | bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(
        str(path) if isinstance(path, Path) else path, opts, providers=["CPUExecutionProvider"]
    )


def run_batched(
    sess: ort.InferenceSession,
    feeds: dict[str, np.ndarray],
    batch: int = 500,
    progress: Callable[[], None] | None = None,
) -> np.ndarray:
    """The graph's (single) output on `feeds`, `batch` rows at a time."""
    n = len(next(iter(feeds.values())))
    out = []
    for i in range(0, n, batch):
        out.append(sess.run(None, {k: v[i : i + batch] for k, v in feeds.items()})[0])
        if progress is not None:
            progress()
    return np.concatenate(out)


def difference(output: str, got: np.ndarray, want: np.ndarray) -> float:
    """The measure `TOLERANCE` bounds: max abs difference, or max abs difference / max |want|."""
    kind, _ = TOLERANCE[output]
    diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if got.size else 0.0
    if kind == "rel":
        diff /= max(float(np.abs(want).max()) if want.size else 0.0, 1e-12)
    return diff


def compare(file: str, output: str, got: np.ndarray, want: np.ndarray, what: str) -> float:
    """Raise unless `got` matches `want` in shape, dtype and values within the output's tolerance."""
    if got.shape != want.shape:
        raise ExportError(
            f"{file}: {what}: {output} has shape {list(got.shape)}, expected {list(want.shape)}"
        )
    if got.dtype != np.float32:
        raise ExportError(f"{file}: {what}: {output} is {got.dtype}, expected float32")
    if not np.isfinite(got).all():
        raise ExportError(f"{file}: {what}: {output} holds non-finite values")
    diff = difference(output, got, want)
    kind, tol = TOLERANCE[output]
    if not diff <= tol:
        label = "max abs diff" if kind == "abs" else "relative diff"
        raise ExportError(f"{file}: {what}: {output} {label} {diff:.3g} > {tol:g}")
    return diff


def validate_graph(
    cut: Cut, path: Path, feeds: list[tuple[str, dict[str, np.ndarray]]], n_reference: int = 3
) -> dict:
    """onnxruntime against PyTorch on each named set of feeds, then the ONNX reference evaluator against
    onnxruntime on the first `n_reference` rows of the first set. Returns the measured differences."""
    out_name = cut.outputs[0]
    sess = session(path)
    report: dict = {}
    for label, f in feeds:
        n = len(next(iter(f.values())))
        try:
            got = run_batched(sess, f, batch=n)
        except Exception as e:
            raise ExportError(f"{cut.file}: onnxruntime cannot run it on {label} ({first_line(e)})") from None
        with torch.no_grad():
            want = cut.module(*(torch.from_numpy(f[k]) for k in cut.inputs)).numpy()
        report[f"onnxruntime_vs_pytorch[{label}]"] = compare(
            cut.file, out_name, got, want, f"onnxruntime vs PyTorch on {label}"
        )
    from onnx.reference import ReferenceEvaluator

    small = {k: v[:n_reference] for k, v in feeds[0][1].items()}
    try:
        ref = ReferenceEvaluator(str(path)).run(None, small)[0]
    except Exception as e:
        raise ExportError(
            f"{cut.file}: onnx.reference.ReferenceEvaluator cannot run it ({first_line(e)})"
        ) from None
    got = sess.run(None, small)[0]
    report[f"reference_vs_onnxruntime[{n_reference} samples]"] = compare(
        cut.file,
        out_name,
        got,
        np.asarray(ref),
        f"ReferenceEvaluator vs onnxruntime on {n_reference} samples",
    )
    return report


def _describe(elem: int, dims: tuple) -> str:
    return (
        f"{TensorProto.DataType.Name(elem).lower()} [{', '.join(str(d) if d != '' else '?' for d in dims)}]"
    )


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]
