"""Deterministic anomaly scores (z = mu, no sampling): higher means less like the training data.

Scores that ask "can I reconstruct this?" (negative ELBOs):
- `pi`:  the decoder fed the classifier's probabilities (the write-up's path);
- `min`: the lowest over all classes (the class that explains x best);
- `vae`: the plain VAE's (no class input), for the unsupervised equivalent.

Scores that ask "is this where a class I was taught lives?" (what the labels taught):
- `maha_h`: squared Mahalanobis distance of the trunk's features h to the nearest class mean, the classes
  being Gaussians with one shared covariance (Lee et al. 2018), Ledoit-Wolf shrunk;
- `maha_z`: the same on the latent mean mu (with the classifier's probabilities where q(z|x,y) sees y);
- `energy`: -logsumexp of the logits (Liu et al. 2020); `msp`: -max softmax (Hendrycks & Gimpel 2017).

A combination `a+b+...` is the mean of its parts, each standardised by its mean and std on the run's
validation rows (normal by construction). The class means, covariances and standardisation are fitted
after training (`fit_scores`) and travel inside `anomaly.onnx` as constants (`AnomalyScorer`'s buffers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.covariance import LedoitWolf
from torch import nn

from ssvae_train.models import SSVAE
from ssvae_train.models.ssvae import kl_to_standard_normal
from ssvae_train.names import SCORE_PARTS, SCORES

PARTS = SCORE_PARTS
SPACES = {"maha_h": "h", "maha_z": "z"}  # the parts that need class Gaussians, and in which space
# The exported default per kind of data, chosen with the test set unseen (the novelty-select protocol: each
# class held out with one more, whose training rows the validation rows are scored against); the numbers
# that chose it are in RESULTS.md § novelty-select. Vectors take the images' choice.
DEFAULT_SCORES = {"image": "maha_h+energy", "sensor": "maha_h"}


def default_score(kind: str) -> str:
    """The exported default for a data kind (`image`, `vector`, `sensor`); vectors take the images' choice."""
    return DEFAULT_SCORES.get(kind, DEFAULT_SCORES["image"])


def parts_of(method: str) -> list[str]:
    """`pi+maha_h` -> ['pi', 'maha_h']; raises ValueError on an unknown or repeated part."""
    parts = method.split("+")
    bad = [p for p in parts if p not in PARTS]
    if bad or len(set(parts)) != len(parts) or not method:
        raise ValueError(f"unknown anomaly score {method!r}: its parts must be distinct ones of {', '.join(PARTS)}")
    return parts


def _neg_elbo(model: SSVAE, h: torch.Tensor, target: torch.Tensor, y: torch.Tensor | None, length) -> torch.Tensor:
    mu, logvar = model.posterior(h, y)
    return model.nll(model.decode(mu, y, length), target) + kl_to_standard_normal(mu, logvar)


def _min_neg_elbo(model: SSVAE, h: torch.Tensor, target: torch.Tensor, length) -> torch.Tensor:
    k, n = model.cfg.n_classes, h.shape[0]
    ys = F.one_hot(torch.arange(k, device=h.device).repeat_interleave(n), k).to(h.dtype)
    reps = [1] * (target.dim() - 1)
    return _neg_elbo(model, h.repeat(k, 1), target.repeat(k, *reps), ys, length).reshape(k, n).min(dim=0).values


def _nearest_class_distance(v: torch.Tensor, chol: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """min over classes of (v - m_c)' P (v - m_c), with P = chol chol' and means already projected by chol."""
    u = v @ chol
    return ((u.unsqueeze(1) - means.unsqueeze(0)) ** 2).sum(-1).min(dim=1).values


def score_parts(model: SSVAE, x: torch.Tensor, parts: list[str], gauss: dict | None = None) -> dict[str, torch.Tensor]:
    """Each requested part's raw score [N]. `gauss`: space -> (chol [d, d], projected means [K, d])."""
    h = model.features(x)
    target = model.target(x)
    length = x.shape[1] if model.any_length else None
    if model.cond_dim == 0:  # the plain VAE has one score, its negative ELBO
        return {"vae": _neg_elbo(model, h, target, None, length)}
    logits = model.classify_logits(h)
    probs = torch.softmax(logits, dim=-1)
    out: dict[str, torch.Tensor] = {}
    for p in parts:
        if p == "pi":
            out[p] = _neg_elbo(model, h, target, probs, length)
        elif p == "min":
            out[p] = _min_neg_elbo(model, h, target, length)
        elif p == "energy":
            out[p] = -torch.logsumexp(logits, dim=-1)
        elif p == "msp":
            out[p] = -probs.max(dim=-1).values
        elif p == "maha_h":
            out[p] = _nearest_class_distance(h, *gauss["h"])
        elif p == "maha_z":
            out[p] = _nearest_class_distance(model.posterior(h, probs)[0], *gauss["z"])
        else:
            raise ValueError(f"unknown anomaly score part {p!r}")
    return out


@dataclass
class ScoreFit:
    """Constants fitted after training: class Gaussians per space, and each part's validation mean/std."""

    gauss: dict[str, tuple[torch.Tensor, torch.Tensor]]
    loc: dict[str, float]
    spread: dict[str, float]
    counts: list[int]  # training rows per class the Gaussians were fitted on

    def describe(self, method: str) -> dict:
        parts = parts_of(method)
        return {
            "parts": parts,
            "standardised_on": "validation rows" if len(parts) > 1 else None,
            "loc": [self.loc[p] for p in parts] if len(parts) > 1 else None,
            "spread": [self.spread[p] for p in parts] if len(parts) > 1 else None,
            "class_gaussians": sorted({SPACES[p] for p in parts if p in SPACES}) or None,
            "class_counts": self.counts if any(p in SPACES for p in parts) else None,
        }


class AnomalyScorer(nn.Module):
    """x -> score [N] for one method; the fitted constants are buffers, so an exported graph holds them."""

    def __init__(self, model: SSVAE, method: str, fit: ScoreFit | None = None):
        super().__init__()
        self.model = model
        self.parts = ["vae"] if model.cond_dim == 0 else parts_of(method)
        needs_fit = len(self.parts) > 1 or any(p in SPACES for p in self.parts)
        if needs_fit and fit is None:
            raise ValueError(f"anomaly score {method!r} needs constants fitted on the run's rows (fit_scores)")
        self.spaces = sorted({SPACES[p] for p in self.parts if p in SPACES})
        for s in self.spaces:
            self.register_buffer(f"chol_{s}", fit.gauss[s][0].clone())
            self.register_buffer(f"means_{s}", fit.gauss[s][1].clone())
        if len(self.parts) > 1:
            self.register_buffer("loc", torch.tensor([fit.loc[p] for p in self.parts], dtype=torch.float32))
            self.register_buffer("spread", torch.tensor([fit.spread[p] for p in self.parts], dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gauss = {s: (getattr(self, f"chol_{s}"), getattr(self, f"means_{s}")) for s in self.spaces}
        values = score_parts(self.model, x, self.parts, gauss)
        if len(self.parts) == 1:
            return values[self.parts[0]]
        stacked = torch.stack([values[p] for p in self.parts], dim=0)
        return ((stacked - self.loc.unsqueeze(1)) / self.spread.unsqueeze(1)).mean(dim=0)


def _batched(model: SSVAE, x: np.ndarray, fn, batch: int) -> list:
    dev = next(model.parameters()).device
    return [fn(torch.from_numpy(np.ascontiguousarray(x[i : i + batch])).to(dev)) for i in range(0, len(x), batch)]


@torch.no_grad()
def part_values(model: SSVAE, x: np.ndarray, parts: list[str], fit: ScoreFit | None, batch: int = 500) -> dict:
    """Each part's raw score over x (numpy [N]), computed in batches."""
    model.eval()
    gauss = None if fit is None else fit.gauss
    chunks = _batched(model, x, lambda xb: score_parts(model, xb, parts, gauss), batch)
    return {p: np.concatenate([c[p].float().cpu().numpy() for c in chunks]) for p in chunks[0]}


def combine(values: dict[str, np.ndarray], method: str, fit: ScoreFit | None) -> np.ndarray:
    """A method's score from its parts' values (numpy; the same arithmetic as `AnomalyScorer`)."""
    if "vae" in values:
        return values["vae"]
    parts = parts_of(method)
    if len(parts) == 1:
        return values[parts[0]]
    return np.mean([(values[p] - np.float32(fit.loc[p])) / np.float32(fit.spread[p]) for p in parts], axis=0)


def _class_gaussian(v: np.ndarray, labels: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class means and one shared (Ledoit-Wolf) covariance; returned as (chol of its inverse, means @ chol)."""
    v = v.astype(np.float64)
    means = np.stack([v[labels == c].mean(0) if (labels == c).any() else v.mean(0) for c in range(k)])
    precision = LedoitWolf().fit(v - means[labels]).precision_
    chol = np.linalg.cholesky((precision + precision.T) / 2)
    return torch.from_numpy(chol).float(), torch.from_numpy(means @ chol).float()


@torch.no_grad()
def fit_scores(model: SSVAE, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, batch: int = 500) -> ScoreFit:
    """Fit on training rows (labels y_train, -1 = unlabelled: the classifier's class instead) and
    standardise every part on the validation rows x_val."""
    model.eval()
    if model.cond_dim == 0:
        return ScoreFit({}, {}, {}, [])

    def feats(xb: torch.Tensor):
        h = model.features(xb)
        logits = model.classify_logits(h)
        mu = model.posterior(h, torch.softmax(logits, dim=-1))[0]
        return h.cpu().numpy(), mu.cpu().numpy(), logits.argmax(1).cpu().numpy()

    chunks = _batched(model, x_train, feats, batch)
    h, mu, guess = (np.concatenate([c[i] for c in chunks]) for i in range(3))
    labels = np.where(np.asarray(y_train) >= 0, y_train, guess)
    k = model.cfg.n_classes
    gauss = {"h": _class_gaussian(h, labels, k), "z": _class_gaussian(mu, labels, k)}
    fit = ScoreFit(gauss, {}, {}, [int((labels == c).sum()) for c in range(k)])
    val = part_values(model, x_val, list(PARTS), fit, batch)
    fit.loc = {p: float(v.mean()) for p, v in val.items()}
    fit.spread = {p: float(max(v.std(), 1e-12)) for p, v in val.items()}
    return fit


def fit_on_run(model: SSVAE, prep) -> ScoreFit:
    """`fit_scores` on a run's training rows, with only the labels its budget gave, and its validation rows."""
    rows = prep.split.train
    y = np.full(len(rows), -1, np.int64)
    labelled = np.isin(rows, prep.split.labelled)
    y[labelled] = prep.ds.y_train[rows[labelled]]
    return fit_scores(model, prep.ds.x_train[rows], y, prep.ds.x_train[prep.split.val])


AUTO = "auto"  # `ssvae-export --score auto`: choose on the held-out class's training rows (below)


def choose_on_held_out(members: Sequence[tuple[SSVAE, ScoreFit]], prep) -> tuple[str, dict[str, float]]:
    """The candidate that best tells the run's validation rows (normal) from its held-out class's training
    rows (never trained on): a score for detecting *that* class, chosen on the training split only.

    `members`: the model and its fitted constants, or (an ensemble bundle) each member's, whose scores the
    anomaly graph averages, so each candidate is weighed as that mean. Returns the method and every candidate's
    ROC AUC there. For anomalies of an unknown kind the data kind's default (`default_score`, chosen with other
    classes held out) is the unbiased choice.
    """
    from sklearn.metrics import roc_auc_score

    if prep.excluded_rows is None or not len(prep.excluded_rows):
        raise ValueError("--score auto chooses on the held-out class's training rows: the run holds no class out")
    x_val = prep.ds.x_train[prep.split.val]
    x = np.concatenate([x_val, prep.excluded_rows])
    is_held = np.arange(len(x)) >= len(x_val)
    values = [(part_values(model, x, list(PARTS), fit), fit) for model, fit in members]
    aucs = {m: float(roc_auc_score(is_held, np.mean([combine(v, m, fit) for v, fit in values], axis=0)))
            for m in SCORES}
    return max(SCORES, key=lambda m: aucs[m]), aucs


def anomaly_score(model: SSVAE, x: torch.Tensor, method: str = "min") -> torch.Tensor:
    """An ELBO score (`pi`, `min`; the plain VAE's whatever the method) without fitted constants."""
    return AnomalyScorer(model, method)(x)
