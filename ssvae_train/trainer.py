"""The training loop: an epoch sweeps the unlabelled rows, with labelled batches drawn alongside.

Every model gets the same number of optimiser steps per epoch (ceil(training rows / global batch)),
so the supervised equivalent is not starved of steps when it has few labels. Each epoch's shuffles and
noise come from (seed, epoch) alone, so a resumed run continues exactly where a killed one stopped.
Under torchrun each rank takes its slice of every global batch (see `distributed`).
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, log_loss

from ssvae_train import __version__
from ssvae_train.augment import Augmenter
from ssvae_train.checkpoint import CHECKPOINT, load_checkpoint, model_from_checkpoint, save_checkpoint
from ssvae_train.config import FitConfig, epoch_lr
from ssvae_train.data.prepared import Prepared, prepare
from ssvae_train.data.stacked import resample
from ssvae_train.distributed import World, mean_over_ranks, setup, teardown
from ssvae_train.errors import UserError
from ssvae_train.models import SSVAE, ModelConfig
from ssvae_train.models.parts import CONV_CHANNELS, DEFAULT_CHANNELS
from ssvae_train.names import canonical_objective, parse_augment
from ssvae_train.objectives import LossWeights, objective
from ssvae_train.progress import Progress
from ssvae_train.scores import anomaly_score


@dataclass
class Batches:
    """Row indices for each step of one epoch: unlabelled (maybe empty) and labelled (maybe empty)."""

    unlabelled: list[np.ndarray] = field(default_factory=list)
    labelled: list[np.ndarray] = field(default_factory=list)


def epoch_batches(
    prep: Prepared,
    kind: str,
    batch_size: int,
    seed: int,
    epoch: int,
    world: World | None = None,
    labelled_batch: int | None = None,
) -> Batches:
    """The epoch's global batches (batch_size rows per rank), cut to this rank's share of each.

    Semi-supervised models draw `labelled_batch` labelled rows per rank and step (default: as many as
    batch_size, at most all of them): small values show each label less often, so a few labels are
    not memorised while the unlabelled rows shape the classifier.
    """
    world = world or World()
    rng = np.random.default_rng([seed, epoch])
    split = prep.split
    global_bs = batch_size * world.size
    steps = math.ceil(len(split.train) / global_bs)
    # The plain VAE sees every training row unlabelled; the supervised model sees labelled rows only.
    unl = split.train if kind == "vae" else (np.array([], np.int64) if kind == "supervised" else split.unlabelled)
    out = Batches()
    if len(unl):
        out.unlabelled = [world.shard(b) for b in np.array_split(rng.permutation(unl), steps)]
    if kind != "vae" and len(split.labelled):
        per_rank = batch_size if labelled_batch is None or not len(unl) else labelled_batch
        lab_bs = min(per_rank * world.size, len(split.labelled))
        need = steps * lab_bs
        cycles = [rng.permutation(split.labelled) for _ in range(math.ceil(need / len(split.labelled)))]
        out.labelled = [world.shard(b) for b in np.array_split(np.concatenate(cycles)[:need], steps)]
    return out


class StepLoss(torch.nn.Module):
    """The objective as a module, so DistributedDataParallel can wrap it and average its gradients."""

    def __init__(self, model: SSVAE, objective_name: str):
        super().__init__()
        self.model, self.objective_name = model, objective_name

    def forward(self, x_u, x_l, y_l, alpha: float, beta: float):
        return objective(self.model, self.objective_name, x_u, x_l, y_l, LossWeights(alpha=alpha, beta=beta))


def build_model(cfg: FitConfig, prep: Prepared) -> SSVAE:
    ds = prep.ds
    mcfg = ModelConfig(
        arch=cfg.arch,
        kind=cfg.model,
        sample_shape=ds.sample_shape,
        n_classes=ds.n_classes,
        likelihood="bernoulli" if ds.kind == "image" else "gaussian",
        latent_dim=cfg.latent_dim,
        hidden=cfg.hidden,
        posterior_y=canonical_objective(cfg.objective) == "m2",
        channels=DEFAULT_CHANNELS.get(cfg.arch, CONV_CHANNELS),
        window_stats=cfg.arch == "convlstm",
    )
    shift, scale = prep.scaling()
    return SSVAE(mcfg, torch.from_numpy(shift), torch.from_numpy(scale))


def _device(model: SSVAE) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model: SSVAE, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    model.eval()
    dev = _device(model)
    return np.concatenate(
        [model(torch.from_numpy(x[i : i + batch]).to(dev)).float().cpu().numpy() for i in range(0, len(x), batch)]
    )


@torch.no_grad()
def scores(model: SSVAE, x: np.ndarray, method: str = "min", batch: int = 500) -> np.ndarray:
    model.eval()
    dev = _device(model)
    return np.concatenate(
        [
            anomaly_score(model, torch.from_numpy(x[i : i + batch]).to(dev), method).float().cpu().numpy()
            for i in range(0, len(x), batch)
        ]
    )


def classification_metrics(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    k = probs.shape[1]
    return {
        "accuracy": float(accuracy_score(y, probs.argmax(1))),
        "log_loss": float(log_loss(y, np.clip(probs, 1e-7, 1.0), labels=list(range(k)))),
    }


def validate(model: SSVAE, prep: Prepared) -> dict[str, float]:
    x, y = prep.ds.x_train[prep.split.val], prep.ds.y_train[prep.split.val]
    out: dict[str, float] = {}
    labelled = y >= 0  # user data: validation rows without a label count in the ELBO only
    if model.has_classifier and labelled.any():
        out.update(
            {f"val_{k}": v for k, v in classification_metrics(predict(model, x[labelled]), y[labelled]).items()}
        )
    if model.has_decoder:
        out["val_neg_elbo"] = float(scores(model, x, "pi" if model.cond_dim else "min").mean())
    return out


def train_epoch(
    step_loss: torch.nn.Module,
    opt: torch.optim.Optimizer,
    cfg: FitConfig,
    prep: Prepared,
    epoch: int,
    bar,
    world: World | None = None,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict:
    """One epoch of optimiser steps; `step_loss` is a StepLoss, maybe wrapped in DDP."""
    world = world or World()
    torch.manual_seed(cfg.seed * 100_003 + epoch * 1009 + world.rank)
    b = epoch_batches(prep, cfg.model, cfg.batch_size, cfg.seed, epoch, world, cfg.labelled_batch)
    x_all, y_all = data if data is not None else (torch.from_numpy(prep.ds.x_train), torch.from_numpy(prep.ds.y_train))
    steps = max(len(b.unlabelled), len(b.labelled))
    for group in opt.param_groups:
        group["lr"] = epoch_lr(cfg, epoch)
    beta = cfg.kl_weight * (1.0 if cfg.kl_warmup <= 0 else min(1.0, (epoch + 1) / cfg.kl_warmup))
    autocast = torch.autocast(world.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    sums: dict[str, float] = {}
    step_loss.train()
    aug = _augmenter(cfg, step_loss, prep)
    for step in range(steps):
        x_u = aug(x_all[b.unlabelled[step]]) if b.unlabelled else None
        x_l = aug(x_all[b.labelled[step]]) if b.labelled else None
        y_l = y_all[b.labelled[step]] if b.labelled else None
        with autocast:
            loss, parts = step_loss(x_u, x_l, y_l, cfg.alpha, beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        parts["loss"] = float(loss.detach())
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        bar.step(" ".join(f"{k}={v / (step + 1):.3g}" for k, v in sums.items()))
    return mean_over_ranks({k: v / steps for k, v in sums.items()}, world)


def _augmenter(cfg: FitConfig, step_loss: torch.nn.Module, prep: Prepared) -> Augmenter:
    """The run's augmentations; noise is scaled by the model's own per-channel scaling statistics."""
    model = step_loss.module.model if hasattr(step_loss, "module") else step_loss.model
    return Augmenter(parse_augment(cfg.augment), model.scale, prep.ds.channels)


def _versions() -> dict:
    return {
        "ssvae": __version__,
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


def fit(cfg: FitConfig, out: Path, resume: bool = False, force: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a run in `out`; returns the checkpoint path. Nothing is written on bad input.

    Under torchrun every rank calls this; rank 0 alone writes the run directory.
    """
    world = setup(cfg.device)
    try:
        return _fit(cfg, Path(out), resume, force, progress, world)
    finally:
        teardown(world)


def _state(model: SSVAE) -> dict:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def selection_score(row: dict) -> float:
    """Higher is better: validation accuracy (ties broken by log loss) for classifiers, else -neg ELBO."""
    if "val_accuracy" in row:
        return row["val_accuracy"] - 1e-6 * row["val_log_loss"]
    if "val_neg_elbo" in row:
        return -row["val_neg_elbo"]
    return float(row["epoch"])  # nothing to judge by (no labelled validation row, no decoder): the latest


def start_line(cfg: FitConfig, prep: Prepared, world: World, steps: int, start: int) -> str:
    """What a run is about to do, printed before its first batch (an epoch can take minutes)."""
    sp = prep.split
    return (f"fit: {cfg.dataset} {list(prep.ds.sample_shape)}, {len(sp.train)} train / {len(sp.val)} validation / "
            f"{len(prep.ds.y_test)} test rows, labels {cfg.labels} ({len(sp.labelled)} labelled), "
            f"{cfg.arch} {cfg.model} {cfg.objective}, epochs {start + 1}-{cfg.epochs} of {steps} steps, "
            f"device {world.device}" + (f" x {world.size} ranks" if world.size > 1 else ""))


def _fit(cfg: FitConfig, out: Path, resume: bool, force: bool, progress: bool, world: World) -> Path:
    ckpt_path = out / CHECKPOINT
    ckpt = None
    if resume:
        if not ckpt_path.exists():
            raise UserError(f"--resume: {out} has no checkpoint to resume from")
        ckpt = load_checkpoint(ckpt_path)
        cfg = FitConfig.from_dict(ckpt["fit_config"]).resumed_with(cfg)
    elif out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} already holds a run: pass --resume to continue it or --force to overwrite")
    cfg.validate()
    prep = prepare(cfg)  # all input checks happen here, before the run directory exists
    if progress and world.is_main:
        print(prep.counts_line(), file=sys.stderr)
    cfg = cfg.resolve(prep.ds.sample_shape)
    torch.manual_seed(cfg.seed)  # the initial weights, too, come from the seed (the same on every rank)
    model = build_model(cfg, prep) if ckpt is None else model_from_checkpoint(ckpt)
    model.to(world.device)
    # fused: one kernel for the whole update instead of a dozen per tensor (a sixth of a dense step on CPU)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    history: list[dict] = []
    start = 0
    best: dict | None = None  # early stopping's pick: the weights of the best validation epoch so far
    keep_best = True  # False when resuming a checkpoint written before best weights were kept
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        history, start, best = list(ckpt["history"]), int(ckpt["epoch"]), ckpt.get("best")
        keep_best = "best" in ckpt
    step_loss: torch.nn.Module = StepLoss(model, cfg.objective)
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        step_loss = DistributedDataParallel(
            step_loss, device_ids=[world.device] if world.device.type == "cuda" else None
        )
    data = (torch.from_numpy(prep.ds.x_train).to(world.device), torch.from_numpy(prep.ds.y_train).to(world.device))
    m1_std = torch.from_numpy(prep.ds.extra["x_train_std"]).to(world.device) if cfg.m1_sample else None
    created = not out.exists()
    if world.is_main:
        if force and out.exists() and not resume:
            shutil.rmtree(out)
            created = True
        out.mkdir(parents=True, exist_ok=True)
    try:
        steps = math.ceil(len(prep.split.train) / (cfg.batch_size * world.size))
        if progress and world.is_main:
            print(start_line(cfg, prep, world, steps, start), file=sys.stderr, flush=True)
        bar = Progress(total=(cfg.epochs - start) * steps, enabled=progress and world.is_main, label=out.name)
        for epoch in range(start, cfg.epochs):
            t0 = time.perf_counter()
            rows = data if m1_std is None else (resample(data[0], m1_std, cfg.seed, epoch), data[1])
            row = {"epoch": epoch + 1, **train_epoch(step_loss, opt, cfg, prep, epoch, bar, world, rows)}
            row["seconds"] = round(time.perf_counter() - t0, 3)
            if not world.is_main:
                continue
            row.update(validate(model, prep))
            history.append(row)
            if keep_best and (best is None or selection_score(row) > selection_score(history[best["epoch"] - 1])):
                # a copy: on CPU, detach().cpu() still shares the parameters that the next steps update
                best = {"epoch": epoch + 1, "state_dict": {k: v.clone() for k, v in _state(model).items()}}
            save_checkpoint(
                {
                    "fit_config": cfg.to_dict(),
                    "model_config": model.cfg.to_dict(),
                    "data": prep.meta(),
                    "state_dict": _state(model),
                    "optimizer": opt.state_dict(),
                    "epoch": epoch + 1,
                    "history": history,
                    **({"best": best} if keep_best else {}),
                    "versions": _versions(),
                    "world_size": world.size,
                    "split": {
                        "labelled": torch.from_numpy(prep.split.labelled),
                        "val": torch.from_numpy(prep.split.val),
                    },
                },
                ckpt_path,
            )
            bar.log(
                f"epoch {epoch + 1}/{cfg.epochs} " + " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch")
            )
        bar.close()
    except BaseException:
        if world.is_main and created and not ckpt_path.exists():
            shutil.rmtree(out, ignore_errors=True)  # nothing finished: leave no half-written run behind
        raise
    return ckpt_path
