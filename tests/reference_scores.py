"""The anomaly score PyTorch gives a run's rows, with the constants fitted on the run: what anomaly.onnx must
give (the tests' reference, not product code)."""

from __future__ import annotations

import numpy as np

from ssvae_train.models import SSVAE
from ssvae_train.scoring.scores import SPACES, combine, fit_on_run, part_values, parts_of


def score_rows(model: SSVAE, prep, x: np.ndarray, method: str) -> np.ndarray:
    """One method's scores over x with the constants fitted on the run."""
    parts = [] if model.cond_dim == 0 else parts_of(method)
    fit = fit_on_run(model, prep) if len(parts) > 1 or any(p in SPACES for p in parts) else None
    return combine(part_values(model, x, parts, fit), method, fit)
