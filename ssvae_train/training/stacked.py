"""M1+M2 (Kingma et al. 2014): a data set re-expressed as the posterior means of a trained plain VAE.

M1 is an unsupervised `vae` run on the same data set, split and held-out class; the means of its
q(z|x) become the samples ("features") on which a second model, usually `ssvae --objective m2`, is
trained. Only M1's active units are kept (Burda et al. 2016: the variance of the mean over the
training rows above 0.01): a VAE leaves most of a large latent unused (means near 0 for every row),
and standardising such a unit would turn its tiny spread into unit-variance noise for M2 to model.
With `--m1-sample` the training rows are drawn afresh from q(z|x) every epoch, as Kingma et al. did
(noise that regularises M2), while validation and test use the means. Evaluation rebuilds the same
features from the run's config, test rows included. M1 must have been trained on this run's training
rows only (same seed and validation fraction), so that no validation or test image shaped the
features; labels never reach it. `compose` chains a trained M2 back onto M1 (`models/m1m2.py`), so the
exported graphs take raw samples.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ssvae_train.config import FitConfig
from ssvae_train.data.dataset import DataSet
from ssvae_train.errors import UserError
from ssvae_train.models.m1m2 import M1M2
from ssvae_train.training.checkpoint import load_checkpoint, model_from_checkpoint

KIND = "features"  # DataSet.kind of stacked data: Gaussian likelihood on standardised vectors
ACTIVE_VAR = 0.01  # a latent unit is active when its posterior mean varies more than this over the rows


@torch.no_grad()
def posterior(model, x: np.ndarray, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """M1's q(z|x): means and standard deviations, each [N, latent_dim] float32."""
    model.eval()
    parts = [model.posterior(model.features(torch.from_numpy(x[i : i + batch]))) for i in range(0, len(x), batch)]
    mu = torch.cat([m for m, _ in parts]).numpy().astype(np.float32)
    std = torch.cat([torch.exp(0.5 * lv) for _, lv in parts]).numpy().astype(np.float32)
    return mu, std


def posterior_means(model, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """M1's q(z|x) means, [N, latent_dim] float32."""
    return posterior(model, x, batch)[0]


def resample(mu: torch.Tensor, std: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    """One draw from q(z|x) per training row for this epoch: a function of (seed, epoch), so resumable."""
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    eps = torch.randn(mu.shape, generator=g).to(mu.device)
    return mu + std * eps


def load_m1(m1_run: str | Path) -> tuple[dict, FitConfig]:
    """An M1 run's checkpoint and its fit config; one line (UserError) when it is not a complete run."""
    ckpt = load_checkpoint(m1_run)
    if "fit_config" not in ckpt:
        raise UserError(f"--m1-run {m1_run}: not a complete ssvae run (its checkpoint has no fit_config)")
    return ckpt, FitConfig.from_dict(ckpt["fit_config"])


def check_m1(m1_cfg: FitConfig, cfg: FitConfig, m1_kind: str) -> None:
    """Refuse an M1 that is not an unsupervised model of exactly this run's training rows."""
    if m1_kind != "vae":
        raise UserError(f"--m1-run must be a plain `vae` run (unsupervised), not a {m1_kind!r} model")
    pairs = zip(cfg.split_identity(), m1_cfg.split_identity(), strict=True)
    same = [(what, mine, theirs) for (what, mine), (_, theirs) in pairs if what != "labels"]  # M1 sees no label
    for what, mine, theirs in [("seed", cfg.seed, m1_cfg.seed), *same]:
        if mine != theirs:
            raise UserError(
                f"--m1-run was trained with --{what} {theirs}, this run has {mine}: train M1 on the same "
                "data and split, or it may have seen this run's validation rows"
            )


def active_units(mu_train: np.ndarray, m1_run: str | Path) -> np.ndarray:
    """The units whose posterior mean varies over the training rows (> ACTIVE_VAR); raises if none does."""
    active = np.flatnonzero(mu_train.var(0) > ACTIVE_VAR)
    if not len(active):
        raise UserError(f"--m1-run {m1_run}: M1 uses none of its latent units (train it longer)")
    return active


def stack(ds: DataSet, m1_run: str | Path, cfg: FitConfig, train_rows: np.ndarray) -> DataSet:
    """`ds` with every sample replaced by M1's posterior mean over its active units (found on
    `train_rows`, the run's training rows); labels and metadata carried over."""
    ckpt, m1_cfg = load_m1(m1_run)
    check_m1(m1_cfg, cfg, ckpt["model_config"]["kind"])
    m1 = model_from_checkpoint(ckpt)
    mu, std = posterior(m1, ds.x_train)
    active = active_units(mu[train_rows], m1_run)
    return replace(
        ds,
        x_train=mu[:, active],
        x_test=posterior_means(m1, ds.x_test)[:, active],
        kind=KIND,
        units=f"posterior means of M1 ({m1_run}), active units {active.tolist()}",
        extra={**ds.extra, "m1_run": str(m1_run), "x_train_std": std[:, active], "m1_active_units": active.tolist(),
               "raw_kind": ds.kind},  # what the exported graphs take (their default score is that kind's)
    )


def compose(m2, cfg: FitConfig, ds: DataSet, train_rows: np.ndarray, m1: tuple | None = None) -> M1M2:
    """The trained M2 of a stacked run chained onto its M1 (`cfg.m1_run`): one model on raw samples.

    `ds` is the run's data set as raw samples and `train_rows` its training rows: the active units are
    found on them exactly as `stack` found them when M2 was trained, and the inactive units are held at
    their mean over those rows when M2's output is decoded by M1. `m1`: its `load_m1`, when already read.
    """
    ckpt, m1_cfg = m1 if m1 is not None else load_m1(cfg.m1_run)
    check_m1(m1_cfg, cfg, ckpt["model_config"]["kind"])
    m1 = model_from_checkpoint(ckpt)
    mu = posterior_means(m1, ds.x_train)[train_rows]
    active = active_units(mu, cfg.m1_run)
    if tuple(m2.cfg.sample_shape) != (len(active),):
        raise UserError(f"--m1-run {cfg.m1_run}: M1 has {len(active)} active units on this run's training rows, "
                        f"M2 was trained on {m2.cfg.sample_shape[0]}: not the M1 this run was trained on")
    inactive = np.setdiff1d(np.arange(mu.shape[1]), active)
    return M1M2(m1, m2, active.tolist(), torch.from_numpy(mu[:, inactive].mean(0)), str(cfg.m1_run)).eval()
