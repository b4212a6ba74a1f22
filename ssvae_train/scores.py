"""Deterministic anomaly scores (z = mu, no sampling): higher means less like the training data.

- `pi`:  the negative ELBO with the decoder fed the classifier's probabilities (the write-up's path);
- `min`: the lowest negative ELBO over all classes (the class that explains x best);
- `vae`: the plain VAE's negative ELBO (no class input), for the unsupervised equivalent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssvae_train.models import SSVAE
from ssvae_train.objectives import kl_to_standard_normal

SCORES = ("min", "pi")


def anomaly_score(model: SSVAE, x: torch.Tensor, method: str = "min") -> torch.Tensor:
    h = model.features(x)
    mu, logvar = model.posterior(h)
    kl = kl_to_standard_normal(mu, logvar)
    target = model.target(x)
    length = x.shape[1] if model.cfg.arch == "lstm" else None
    if model.cond_dim == 0:
        return model.nll(model.decode(mu, None, length), target) + kl
    if method == "pi":
        y = torch.softmax(model.classify_logits(h), dim=-1)
        return model.nll(model.decode(mu, y, length), target) + kl
    if method != "min":
        raise ValueError(f"unknown anomaly score {method!r}")
    k, n = model.cfg.n_classes, x.shape[0]
    ys = F.one_hot(torch.arange(k, device=x.device).repeat_interleave(n), k).to(mu.dtype)
    reps = [1] * (target.dim() - 1)
    rec = model.nll(model.decode(mu.repeat(k, 1), ys, length), target.repeat(k, *reps)).reshape(k, n)
    return rec.min(dim=0).values + kl
