"""The training objectives, shared by every architecture: the terms (per-sample tensors), then one loss
function per objective, looked up by name (`LOSSES`).

`soft-label` (formerly `seed`) is the write-up's loss: reconstruction cross-entropy + KL + label
cross-entropy on labelled rows; unlabelled rows feed the decoder the classifier's (detached) probabilities,
its soft labels, so pi learns from labels only. `m2` is Kingma et al. (2014): the labelled ELBO + alpha *
cross-entropy, and for unlabelled rows the ELBO marginalised over y under q(y|x) plus the entropy of
q(y|x). `supervised` and `vae` are the equivalents' losses. Reconstruction and KL are summed over a
sample's values (a per-sample ELBO) and averaged over the batch. Either semi-supervised objective can add a
consistency term on the unlabelled rows (`--consistency`, `consistency_term`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ssvae_train.models import SSVAE
from ssvae_train.models.ssvae import kl_to_standard_normal
from ssvae_train.names import canonical_objective


@dataclass
class LossWeights:
    alpha: float = 1.0  # weight of the label cross-entropy
    beta: float = 1.0  # weight of the KL term (warm-up ramps it from 0)
    consistency: float = 0.0  # weight of the consistency term on unlabelled rows (0: off)
    threshold: float = 0.0  # the consistency term's confidence threshold (0: UDA's KL; > 0: FixMatch's pseudo-labels)
    labelled_elbo: float = 1.0  # weight of the labelled rows' ELBO (--labelled-elbo share: their share of the rows)


def sample_z(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


def label_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, y, reduction="none")


def _onehot(y: torch.Tensor, k: int) -> torch.Tensor:
    return F.one_hot(y, k).float()


# ---- the terms: per-sample tensors, one pass of the trunk for a batch's rows ----------------------------
def m2_labelled_terms(model: SSVAE, x: torch.Tensor, y: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
    """Labelled rows under `m2`, y given: -log p(x|y,z) + KL(q(z|x,y)||p(z)), and the label cross-entropy."""
    logits = model.classify_logits(h)
    y1 = _onehot(y, model.cfg.n_classes)
    mu, logvar = model.posterior(h, y1)
    params = model.decode(sample_z(mu, logvar), y1)
    return {"rec": model.nll(params, model.target(x)), "kl": kl_to_standard_normal(mu, logvar),
            "ce": label_cross_entropy(logits, y)}


def m2_unlabelled_terms(model: SSVAE, x: torch.Tensor, h: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Unlabelled rows under `m2`, y summed out: E_q(y|x)[-log p(x|y,z)] + E_q(y|x)[KL(q(z|x,y)||p(z))] +
    KL(q(y|x)||p(y)).

    p(y) is uniform, so the last term is the negative entropy of q(y|x) plus log K. Every row is
    expanded class-major ([all rows with y=0], [all rows with y=1], ...); when the posterior does not
    depend on y the same z serves every class.
    """
    k = model.cfg.n_classes
    n = x.shape[0]
    h = model.features(x) if h is None else h
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


def soft_label_terms(
    model: SSVAE, x: torch.Tensor, y_l: torch.Tensor | None, n_u: int
) -> dict[str, torch.Tensor]:
    """Per-sample terms of `soft-label` for a batch whose first n_u rows are unlabelled, the rest labelled by
    y_l: -log p(x|y,z) + KL(q(z|x)||p(z)) for every row, the decoder fed the classifier's detached
    probabilities (unlabelled) or the true one-hot (labelled); `ce` covers the labelled rows only.

    One pass through the trunk and the decoder for both kinds of rows (half the work of two small passes).
    """
    h = model.features(x)
    logits = model.classify_logits(h)
    y_in = [torch.softmax(logits[:n_u], dim=-1).detach()] if n_u else []
    if y_l is not None and len(y_l):
        y_in.append(_onehot(y_l, model.cfg.n_classes))
    y_in = torch.cat(y_in)
    mu, logvar = model.posterior(h, y_in)
    params = model.decode(sample_z(mu, logvar), y_in)
    out = {"rec": model.nll(params, model.target(x)), "kl": kl_to_standard_normal(mu, logvar)}
    if len(x) > n_u:
        out["ce"] = label_cross_entropy(logits[n_u:], y_l)
    return out


# ---- the objectives: one loss function per name, (model, unlabelled rows, labelled rows, labels, weights) ----
Batch = tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]  # x_u, x_l, y_l
Loss = tuple[torch.Tensor, dict[str, float]]  # the scalar to minimise, and its parts (batch means)


def _rows(x_u: torch.Tensor | None, x_l: torch.Tensor | None) -> tuple[int, int, torch.Tensor]:
    """How many unlabelled and labelled rows, and the batch with the unlabelled rows first."""
    n_u = len(x_u) if x_u is not None else 0
    n_l = len(x_l) if x_l is not None else 0
    return n_u, n_l, torch.cat([t for t, n in ((x_u, n_u), (x_l, n_l)) if n])


def _elbo_loss(t_u: dict[str, torch.Tensor], t_l: dict[str, torch.Tensor], w: LossWeights,
               device: torch.device) -> Loss:
    """Unlabelled rows: rec + beta * kl (+ kl_y); labelled rows: labelled_elbo * (rec + beta * kl) + alpha * ce;
    each averaged over its rows, the two added."""
    total = torch.zeros((), device=device)
    parts: dict[str, float] = {}
    if t_u:
        loss_u = t_u["rec"] + w.beta * t_u["kl"] + t_u.get("kl_y", torch.zeros_like(t_u["rec"]))
        total = total + loss_u.mean()
        parts.update({"rec_u": float(t_u["rec"].detach().mean()), "kl_u": float(t_u["kl"].detach().mean())})
    if t_l:
        loss_l = w.labelled_elbo * (t_l["rec"] + w.beta * t_l["kl"]) + w.alpha * t_l["ce"]
        total = total + loss_l.mean()
        parts.update({k + ("_l" if k != "ce" else ""): float(v.detach().mean()) for k, v in t_l.items()})
    return total, parts


def m2_loss(model: SSVAE, x_u, x_l, y_l, w: LossWeights) -> Loss:
    """Kingma et al.'s M2, the two kinds of rows side by side: labelled, the ELBO with y given + alpha * CE;
    unlabelled, the ELBO with y summed out under q(y|x) + KL(q(y|x)||p(y)). The trunk runs once."""
    n_u, n_l, x = _rows(x_u, x_l)
    h = model.features(x)
    t_u = m2_unlabelled_terms(model, x_u, h[:n_u]) if n_u else {}
    t_l = m2_labelled_terms(model, x_l, y_l, h[n_u:]) if n_l else {}
    return _elbo_loss(t_u, t_l, w, x.device)


def soft_label_loss(model: SSVAE, x_u, x_l, y_l, w: LossWeights) -> Loss:
    """The write-up's loss: the ELBO of every row with the decoder fed a label (the classifier's detached
    probabilities for unlabelled rows, the true one for labelled rows) + alpha * CE on labelled rows."""
    n_u, n_l, x = _rows(x_u, x_l)
    t = soft_label_terms(model, x, y_l if n_l else None, n_u)
    t_u = {k: v[:n_u] for k, v in t.items() if k != "ce"} if n_u else {}
    t_l = {k: (v if k == "ce" else v[n_u:]) for k, v in t.items()} if n_l else {}
    return _elbo_loss(t_u, t_l, w, x.device)


def supervised_loss(model: SSVAE, x_u, x_l, y_l, w: LossWeights) -> Loss:
    """The supervised equivalent: the label cross-entropy of the labelled rows (unlabelled rows unused)."""
    ce = label_cross_entropy(model.classify_logits(model.features(x_l)), y_l).mean()
    return ce, {"ce": float(ce.detach())}


def vae_loss(model: SSVAE, x_u, x_l, y_l, w: LossWeights) -> Loss:
    """The unsupervised equivalent: the ELBO of every row, labels unused: -log p(x|z) + beta * KL(q(z|x)||p(z))."""
    x = torch.cat([x for x in (x_u, x_l) if x is not None])
    mu, logvar = model.posterior(model.features(x))
    rec = model.nll(model.decode(sample_z(mu, logvar), None), model.target(x))
    kl = kl_to_standard_normal(mu, logvar)
    return (rec + w.beta * kl).mean(), {"rec": float(rec.detach().mean()), "kl": float(kl.detach().mean())}


def consistency_term(model: SSVAE, x_u: torch.Tensor, x_u2: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Per-row consistency of two augmented copies of the same unlabelled windows, the first detached: the
    classifier learns to give a window the same class however it was jittered, scaled or turned, which is what
    an unseen wearer's windows differ by. Labels are not used.

    threshold 0: KL(q(y|x_u) || q(y|x_u2)) (UDA, Xie et al. 2020). threshold > 0: FixMatch (Sohn et al. 2020),
    the cross-entropy of the second copy against the first copy's most likely class, for rows whose first copy
    gives that class at least `threshold` (the others 0): only confident calls teach, and they teach a hard
    label rather than the classifier's own uncertainty."""
    with torch.no_grad():
        target = torch.log_softmax(model.classify_logits(model.features(x_u)), dim=-1)
    pred = torch.log_softmax(model.classify_logits(model.features(x_u2)), dim=-1)
    if threshold > 0:
        confidence, pseudo = target.exp().max(dim=-1)
        return (confidence >= threshold).float() * F.nll_loss(pred, pseudo, reduction="none")
    return (target.exp() * (target - pred)).sum(-1)


LOSSES = {"m2": m2_loss, "soft-label": soft_label_loss, "supervised": supervised_loss, "vae": vae_loss}


def objective(model: SSVAE, name: str, x_u: torch.Tensor | None, x_l: torch.Tensor | None,
              y_l: torch.Tensor | None, w: LossWeights, x_u2: torch.Tensor | None = None) -> Loss:
    """The loss of one step: the model kind's own (`supervised`, `vae`), else the objective `name`'s, plus
    `w.consistency` times the consistency term when `x_u2` (a second augmented copy of x_u) is given."""
    kind = model.cfg.kind
    loss, parts = LOSSES[kind if kind in ("supervised", "vae") else canonical_objective(name)](model, x_u, x_l, y_l, w)
    if w.consistency and x_u is not None and x_u2 is not None and len(x_u) and model.has_classifier:
        cons = consistency_term(model, x_u, x_u2, w.threshold).mean()
        loss = loss + w.consistency * cons
        parts["cons"] = float(cons.detach())
    return loss, parts
