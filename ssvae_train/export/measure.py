"""What an exported graph is measured by, in onnxruntime: the alert threshold on validation rows, test
accuracy and the anomaly ROC AUC (scikit-learn's). Torch-free, so a bundle's graphs can be re-measured
(e.g. re-quantized) from the files alone, and fp32 and int8 are measured by the same code."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
from sklearn.metrics import accuracy_score, roc_auc_score

from ssvae_train.errors import UserError
from ssvae_train.export.graphs import run_batched


def calibrate(
    sess: ort.InferenceSession, x_val: np.ndarray, q: float, graph: str = "anomaly.onnx"
) -> tuple[float, dict]:
    """The alert threshold: the q-quantile of the graph's scores on the run's validation rows."""
    s = run_batched(sess, {"x": x_val})
    if len(s) == 0:
        raise UserError("the run has no validation rows to calibrate the anomaly threshold on")
    threshold = float(np.quantile(s.astype(np.float64), q))
    return threshold, {
        "quantile": q,
        "n_val": int(len(s)),
        "false_alarm_rate": float(np.mean(s > threshold)),
        "source": "validation split",
        "graph": f"{graph} (onnxruntime)",
    }


def accuracy(sess: ort.InferenceSession, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Test accuracy of a classifier graph, and its predicted classes."""
    pred = run_batched(sess, {"x": x}).argmax(1)
    return float(accuracy_score(y, pred)), pred


def roc_auc(sess: ort.InferenceSession, x: np.ndarray, anomalous: np.ndarray) -> float:
    """ROC AUC of an anomaly graph's scores at telling the `anomalous` rows from the others."""
    return float(roc_auc_score(anomalous, run_batched(sess, {"x": x}).astype(np.float64)))
