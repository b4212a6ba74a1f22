"""Where each class lives in latent space: a Gaussian per class, fitted after training, for generation.

The VAE's prior is N(0, I) for every class, but a trained encoder does not spread each class over all of
it: part of what tells activities (or digits) apart ends up in z as well as in y. A code drawn from
N(0, I) for class c then often decodes to another class's window. So generation draws from where class c
really lies: the Gaussian fitted to the posterior means of its training rows, widened by their mean
posterior variance (the aggregate posterior of the class, Ghosh et al. 2020 fit such densities ex post).

The decoder graph still takes z ~ N(0, I) (the bundle contract): it maps z to mean[y] + chol[y] @ z first,
with the constants fitted on training rows at export (`fit_class_prior`), as the anomaly threshold is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ssvae_train.data.prepared import Prepared
from ssvae_train.models import SSVAE

JITTER = 1e-5  # added to each covariance's diagonal so its Cholesky factor exists


@dataclass
class ClassPrior:
    mean: torch.Tensor  # [K, d]
    chol: torch.Tensor  # [K, d, d], lower triangular
    counts: list[int]  # training rows per class it was fitted on

    def to_codes(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Standard-normal codes [N, d] of classes y [N] -> codes where those classes lie."""
        return self.mean[y] + (self.chol[y] @ z.unsqueeze(-1)).squeeze(-1)

    def describe(self) -> dict:
        return {"kind": "class-gaussian", "counts": self.counts,
                "what": "decoder.onnx maps its z ~ N(0, I) to mean[y] + chol[y] z, the Gaussian of class y's "
                        "posterior means on the training rows plus their mean posterior variance"}


@torch.no_grad()
def fit_class_prior(model: SSVAE, x: np.ndarray, y: np.ndarray, batch: int = 500) -> ClassPrior:
    """Fit on training rows x with labels y (-1 = unlabelled: the classifier's class is used instead)."""
    model.eval()
    k, d = model.cfg.n_classes, model.cfg.latent_dim
    mus, variances, labels = [], [], []
    for i in range(0, len(x), batch):
        xb = torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))
        h = model.features(xb)
        yb = torch.from_numpy(np.asarray(y[i : i + batch], dtype=np.int64))
        guess = model.classify_logits(h).argmax(1)
        yb = torch.where(yb >= 0, yb, guess)
        mu, logvar = model.posterior(h, F.one_hot(yb, k).to(h.dtype))
        mus.append(mu)
        variances.append(logvar.exp())
        labels.append(yb)
    mu, var, lab = torch.cat(mus), torch.cat(variances), torch.cat(labels)
    means, chols, counts = [], [], []
    for c in range(k):
        rows = lab == c
        counts.append(int(rows.sum()))
        if counts[-1] < 2:  # nothing to fit: this class keeps the standard prior
            means.append(torch.zeros(d))
            chols.append(torch.eye(d))
            continue
        cov = torch.cov(mu[rows].T).reshape(d, d) + torch.diag(var[rows].mean(0)) + JITTER * torch.eye(d)
        means.append(mu[rows].mean(0))
        chols.append(torch.linalg.cholesky(cov))
    return ClassPrior(torch.stack(means).float(), torch.stack(chols).float(), counts)


def fit_on_run(model: SSVAE, prep: Prepared) -> ClassPrior:
    """Fitted on a run's training rows, with only the labels the run was given (its budget; others -1)."""
    rows = prep.split.train
    y = np.full(len(rows), -1, np.int64)
    labelled = np.isin(rows, prep.split.labelled)
    y[labelled] = prep.ds.y_train[rows[labelled]]
    return fit_class_prior(model, prep.ds.x_train[rows], y)
