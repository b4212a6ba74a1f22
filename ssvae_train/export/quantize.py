"""int8 variants of the exported graphs, made with onnxruntime's own dynamic quantization.

`quantize_dynamic` stores the weights of MatMul, Conv and LSTM nodes as int8 and quantizes activations
on the fly, so it needs no calibration set. It does not handle `Gemm`, which is how the exporter writes
every `nn.Linear`, so each graph's Gemm nodes are first rewritten as MatMul + Add with onnxruntime's own
`ONNXModel.replace_gemm_with_matmul` (the same computation). A graph that cannot be quantized, or whose
int8 version onnxruntime cannot run, is skipped with the reason; the fp32 graphs are never touched.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx

from ssvae_train.export.graphs import first_line, session

METHOD = "onnxruntime.quantization.quantize_dynamic"
WEIGHT_TYPE = "QInt8"
OP_TYPES = ("MatMul", "Conv", "LSTM")
# The ops quantize_dynamic writes: a graph holding none of them was not quantized at all.
INTEGER_OPS = {
    "MatMulInteger",
    "ConvInteger",
    "DynamicQuantizeLSTM",
    "DynamicQuantizeMatMul",
    "DynamicQuantizeLinear",
}


def int8_file(file: str) -> str:
    """`classifier.onnx` -> `classifier.int8.onnx`."""
    return file.removesuffix(".onnx") + ".int8.onnx"


def quantize_graph(src: Path, dst: Path, probe: dict[str, np.ndarray]) -> tuple[bool, str]:
    """Write the int8 version of `src` to `dst` and run it once on `probe`.

    Returns (True, integer op types used) or (False, why it was skipped); on failure `dst` is removed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.onnx_model import ONNXModel

    try:
        model = onnx.load(str(src))
        ONNXModel(model).replace_gemm_with_matmul()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            level = logging.getLogger().level
            logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic logs its pre-processing advice
            try:
                quantize_dynamic(model, dst, op_types_to_quantize=list(OP_TYPES), weight_type=QuantType.QInt8)
            finally:
                logging.getLogger().setLevel(level)
        onnx.checker.check_model(str(dst), full_check=True)
        quantized = onnx.load(str(dst))
        ops = sorted({n.op_type for n in quantized.graph.node} & INTEGER_OPS)
        if not ops:
            raise ValueError(f"no {'/'.join(OP_TYPES)} weights to quantize")
        out = session(dst).run(None, probe)[0]
        if not np.isfinite(out).all():
            raise ValueError("the int8 graph gives non-finite outputs")
    except Exception as e:
        dst.unlink(missing_ok=True)
        return False, first_line(e)
    return True, ", ".join(ops)
