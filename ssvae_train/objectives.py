"""The training objectives, one function per term, shared by every architecture.

`seed` is the write-up's loss: reconstruction cross-entropy + KL + label cross-entropy on labelled
rows; unlabelled rows feed the decoder the classifier's (detached) probabilities, so pi learns from
labels only. `m2` is Kingma et al. (2014): the labelled ELBO + alpha * cross-entropy, and for unlabelled
rows the ELBO marginalised over y under q(y|x) plus the entropy of q(y|x). `supervised` and `vae` are the
equivalents' losses. Reconstruction and KL are summed over a sample's values (a per-sample ELBO) and
averaged over the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ssvae_train.models import SSVAE

OBJECTIVES = ("seed", "m2")


@dataclass
class LossWeights:
    alpha: float = 1.0  # weight of the label cross-entropy
    beta: float = 1.0  # weight of the KL term (warm-up ramps it from 0)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def sample_z(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def label_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y, reduction="none")


def _onehot(y: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(y, k).float()


def labelled_terms(model: SSVAE, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-sample reconstruction, KL and label cross-entropy of labelled rows (the decoder gets the true y)."""
    h = model.features(x)
    y1 = _onehot(y, model.cfg.n_classes)
    mu, logvar = model.posterior(h, y1)
    params = model.decode(sample_z(mu, logvar), y1)
    return {
        "rec": model.nll(params, model.target(x)),
        "kl": kl_to_standard_normal(mu, logvar),
        "ce": label_cross_entropy(model.classify_logits(h), y),
    }


def seed_unlabelled_terms(model: SSVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Unlabelled rows under `seed`: the decoder gets the classifier's probabilities, detached."""
    h = model.features(x)
    y_soft = torch.softmax(model.classify_logits(h), dim=-1).detach()
    mu, logvar = model.posterior(h, y_soft)
    params = model.decode(sample_z(mu, logvar), y_soft)
    return {"rec": model.nll(params, model.target(x)), "kl": kl_to_standard_normal(mu, logvar)}


def m2_unlabelled_terms(model: SSVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Unlabelled rows under `m2`: E_q(y|x)[-log p(x|y,z)] + KL(q(z|x)||p(z)) + KL(q(y|x)||p(y)).

    p(y) is uniform, so the last term is the negative entropy of q(y|x) plus log K. Every row is
    expanded class-major ([all rows with y=0], [all rows with y=1], ...); when the posterior does not
    depend on y the same z serves every class.
    """
    k = model.cfg.n_classes
    n = x.shape[0]
    h = model.features(x)
    q = torch.softmax(model.classify_logits(h), dim=-1)  # [N, K]
    ys = _onehot(torch.arange(k, device=x.device).repeat_interleave(n), k)
    if model.conditions_posterior:
        mu, logvar = model.posterior(h.repeat(k, 1), ys)
        z = sample_z(mu, logvar)
        kl = kl_to_standard_normal(mu, logvar).reshape(k, n).T  # [N, K]
    else:
        mu, logvar = model.posterior(h)
        z = sample_z(mu, logvar).repeat(k, 1)
        kl = kl_to_standard_normal(mu, logvar).unsqueeze(1).expand(n, k)
    target = model.target(x)
    rec_per_class = model.nll(model.decode(z, ys), target.repeat(k, *[1] * (target.dim() - 1))).reshape(k, n).T
    return {
        "rec": (q * rec_per_class).sum(-1),
        "kl": (q * kl).sum(-1),
        "kl_y": (q * (torch.log(q.clamp_min(1e-12)) + math.log(k))).sum(-1),
    }


def vae_terms(model: SSVAE, x: torch.Tensor) -> dict[str, torch.Tensor]:
    h = model.features(x)
    mu, logvar = model.posterior(h)
    params = model.decode(sample_z(mu, logvar), None)
    return {"rec": model.nll(params, model.target(x)), "kl": kl_to_standard_normal(mu, logvar)}


def objective(
    model: SSVAE,
    name: str,
    x_u: torch.Tensor | None,
    x_l: torch.Tensor | None,
    y_l: torch.Tensor | None,
    w: LossWeights,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of one step: unlabelled and labelled batches, each averaged over its rows.

    Returns the scalar to minimise and its parts (batch means) for the progress bar and history.
    """
    kind = model.cfg.kind
    total = torch.zeros((), device=(x_u if x_u is not None else x_l).device)
    parts: dict[str, float] = {}
    if kind == "supervised":
        ce = label_cross_entropy(model.classify_logits(model.features(x_l)), y_l).mean()
        return ce, {"ce": float(ce.detach())}
    if kind == "vae":
        xs = [x for x in (x_u, x_l) if x is not None]
        t = vae_terms(model, torch.cat(xs))
        loss = (t["rec"] + w.beta * t["kl"]).mean()
        return loss, {"rec": float(t["rec"].detach().mean()), "kl": float(t["kl"].detach().mean())}
    if x_u is not None and len(x_u):
        t = m2_unlabelled_terms(model, x_u) if name == "m2" else seed_unlabelled_terms(model, x_u)
        loss_u = t["rec"] + w.beta * t["kl"] + t.get("kl_y", torch.zeros_like(t["rec"]))
        total = total + loss_u.mean()
        parts.update({"rec_u": float(t["rec"].detach().mean()), "kl_u": float(t["kl"].detach().mean())})
    if x_l is not None and len(x_l):
        t = labelled_terms(model, x_l, y_l)
        loss_l = t["rec"] + w.beta * t["kl"] + w.alpha * t["ce"]
        total = total + loss_l.mean()
        parts.update({k + ("_l" if k != "ce" else ""): float(v.detach().mean()) for k, v in t.items()})
    return total, parts
