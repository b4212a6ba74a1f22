"""A trained model on numpy rows, in batches: class probabilities (`predict`), anomaly scores (`scores`),
and the classification metrics every report uses (scikit-learn's accuracy and log loss). Shared by
training-time validation, `evaluate.py` and the exporter's test metrics."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import accuracy_score, log_loss

from ssvae_train.models import SSVAE
from ssvae_train.scoring.scores import anomaly_score


def _device(model: SSVAE) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model: SSVAE, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Class probabilities [N, K] of raw rows."""
    model.eval()
    dev = _device(model)
    return np.concatenate(
        [model(torch.from_numpy(x[i : i + batch]).to(dev)).float().cpu().numpy() for i in range(0, len(x), batch)]
    )


@torch.no_grad()
def scores(model: SSVAE, x: np.ndarray, method: str = "min", batch: int = 500) -> np.ndarray:
    """Anomaly scores [N] of raw rows (`scores.anomaly_score`, higher = less like the training data)."""
    model.eval()
    dev = _device(model)
    return np.concatenate(
        [
            anomaly_score(model, torch.from_numpy(x[i : i + batch]).to(dev), method).float().cpu().numpy()
            for i in range(0, len(x), batch)
        ]
    )


def classification_metrics(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and log loss of probabilities [N, K] against labels [N]."""
    k = probs.shape[1]
    return {
        "accuracy": float(accuracy_score(y, probs.argmax(1))),
        "log_loss": float(log_loss(y, np.clip(probs, 1e-7, 1.0), labels=list(range(k)))),
    }
