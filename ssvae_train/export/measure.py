"""What an exported graph is measured by, in onnxruntime: the alert threshold on validation rows (also
re-fitted for a finished bundle), test accuracy and the anomaly ROC AUC (scikit-learn's). Torch-free, so a
bundle's graphs can be re-measured (e.g. re-quantized) from the files alone, and fp32 and int8 are measured
by the same code."""

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


def thresholds_on_validation(bundle, run, data_dir: str | None,
                             quantiles: tuple[float, ...]) -> tuple[dict[float, float], dict]:
    """A bundle's anomaly threshold re-fitted at each quantile (`calibrate`) on its training run's validation
    rows, scored by the bundle's own anomaly graph; and what it was fitted on. Refused unless `run` is the
    checkpoint the bundle was exported from."""
    from pathlib import Path

    from ssvae_edge.contract import file_sha256
    from ssvae_train.training.evaluate import load_run

    run = Path(run)
    ckpt, _model, cfg, prep = load_run(run, data_dir)
    want = bundle.manifest.producer.checkpoint_sha256 if bundle.manifest.producer else None
    if want not in (None, file_sha256(run / "checkpoint.pt" if run.is_dir() else run)):
        raise UserError(f"--run {run}: not the checkpoint this bundle was exported from (sha256 differs)")
    x = prep.ds.x_train[prep.split.val]
    thresholds = {q: calibrate(bundle.sessions["anomaly"], x, q)[0] for q in quantiles}
    return thresholds, {"run": str(run), "n_val": int(len(x)), "exclude_class": cfg.exclude_class,
                        "epochs": int(ckpt["epoch"])}


def accuracy(sess: ort.InferenceSession, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Test accuracy of a classifier graph, and its predicted classes."""
    pred = run_batched(sess, {"x": x}).argmax(1)
    return float(accuracy_score(y, pred)), pred


def roc_auc(sess: ort.InferenceSession, x: np.ndarray, anomalous: np.ndarray) -> float:
    """ROC AUC of an anomaly graph's scores at telling the `anomalous` rows from the others."""
    return float(roc_auc_score(anomalous, run_batched(sess, {"x": x}).astype(np.float64)))
