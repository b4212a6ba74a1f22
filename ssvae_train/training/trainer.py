"""The training loop: one epoch of optimiser steps (`train_epoch`, on the rows `batches.py` schedules),
validation after each, and a checkpoint written after every epoch (`checkpoint.run_state`).

Each epoch's noise comes from (seed, epoch) alone, so a resumed run continues exactly where a killed one
stopped. Under torchrun every rank runs this loop on its slice of each batch (see `distributed`).
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ssvae_train.config import FitConfig, epoch_lr
from ssvae_train.data.prepared import Prepared
from ssvae_train.errors import UserError
from ssvae_train.models import SSVAE
from ssvae_train.models.build import build_model
from ssvae_train.names import parse_augment
from ssvae_train.scoring.inference import classification_metrics, predict, scores
from ssvae_train.training.augment import Augmenter
from ssvae_train.training.batches import epoch_batches, steps_per_epoch
from ssvae_train.training.checkpoint import (
    CHECKPOINT,
    load_checkpoint,
    model_from_checkpoint,
    run_state,
    save_checkpoint,
)
from ssvae_train.training.checkpoint import weights as model_weights
from ssvae_train.training.distributed import World, mean_over_ranks, setup, teardown
from ssvae_train.training.objectives import LossWeights, objective
from ssvae_train.training.prepare import prepare
from ssvae_train.training.progress import Progress
from ssvae_train.training.stacked import resample


class StepLoss(torch.nn.Module):
    """The objective as a module, so DistributedDataParallel can wrap it and average its gradients."""

    def __init__(self, model: SSVAE, objective_name: str):
        super().__init__()
        self.model, self.objective_name = model, objective_name

    def forward(self, x_u, x_l, y_l, alpha: float, beta: float, consistency: float = 0.0, x_u2=None,
                threshold: float = 0.0, labelled_elbo: float = 1.0):
        return objective(self.model, self.objective_name, x_u, x_l, y_l,
                         LossWeights(alpha=alpha, beta=beta, consistency=consistency, threshold=threshold,
                                     labelled_elbo=labelled_elbo), x_u2)


def validate(model: SSVAE, prep: Prepared) -> dict[str, float]:
    x, y = prep.ds.x_train[prep.split.val], prep.ds.y_train[prep.split.val]
    out: dict[str, float] = {}
    if not len(x):  # a refit (--val-fraction 0): nothing to judge by, the last epoch's weights are the ones
        return out
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
    ema: AveragedModel | None = None,
) -> dict:
    """One epoch of optimiser steps; `step_loss` is a StepLoss, maybe wrapped in DDP. `ema` (`--weight-ema`)
    takes the weights into its average after every step."""
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
    labelled_elbo = labelled_elbo_weight(cfg.labelled_elbo, len(prep.split.labelled), len(prep.split.unlabelled))
    for step in range(steps):
        x_u = aug(x_all[b.unlabelled[step]]) if b.unlabelled else None
        x_l = aug(x_all[b.labelled[step]]) if b.labelled else None
        y_l = y_all[b.labelled[step]] if b.labelled else None
        # a second augmented copy of the unlabelled rows, drawn only when the consistency term uses it (so runs
        # without it draw exactly the noise they always did)
        x_u2 = aug(x_all[b.unlabelled[step]]) if cfg.consistency and b.unlabelled else None
        with autocast:
            loss, parts = step_loss(x_u, x_l, y_l, cfg.alpha, beta, cfg.consistency, x_u2, cfg.consistency_threshold,
                                    labelled_elbo)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(_model_of(step_loss))
        parts["loss"] = float(loss.detach())
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        bar.step(" ".join(f"{k}={v / (step + 1):.3g}" for k, v in sums.items()))
    return mean_over_ranks({k: v / steps for k, v in sums.items()}, world)


def labelled_elbo_weight(mode: str, n_labelled: int, n_unlabelled: int) -> float:
    """The labelled rows' ELBO weight in a step's loss: 1 (`equal`), or their share of the training rows
    (`share`). A step (unlabelled mean + weight x labelled mean) estimates M2's objective summed over the data
    set without bias at n_l / n_u; the share is within n_l / n_u of it (1 % at 1 % of the labels, 10 % at 10 %)."""
    if mode == "equal" or not n_labelled:
        return 1.0
    return n_labelled / (n_labelled + n_unlabelled)


def _model_of(step_loss: torch.nn.Module) -> SSVAE:
    """The model a StepLoss (maybe wrapped in DDP) trains."""
    return step_loss.module.model if hasattr(step_loss, "module") else step_loss.model


def _augmenter(cfg: FitConfig, step_loss: torch.nn.Module, prep: Prepared) -> Augmenter:
    """The run's augmentations; noise is scaled by the model's own per-channel scaling statistics."""
    return Augmenter(parse_augment(cfg.augment), _model_of(step_loss).scale, prep.ds.channels)


def weight_average(model: SSVAE, decay: float, state: dict | None = None) -> AveragedModel | None:
    """`--weight-ema`: torch's exponential moving average of the model's weights (buffers too), or None when off;
    `state` is a checkpoint's `ema` (a resumed run's average goes on from where it stopped)."""
    if not decay:
        return None
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    if state is not None:
        ema.load_state_dict(state)
    return ema


def fit(cfg: FitConfig, out: Path, resume: bool = False, force: bool = False, progress: bool = True) -> Path:
    """Train (or resume) a run in `out`; returns the checkpoint path. Nothing is written on bad input.

    Under torchrun every rank calls this; rank 0 alone writes the run directory.
    """
    world = setup(cfg.device)
    try:
        _fit(cfg, Path(out), resume, force, progress, world)
        return Path(out) / CHECKPOINT
    finally:
        teardown(world)


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


@dataclass
class Training:
    """A run in progress: its resolved config, data, model, optimiser and what the checkpoint carries on."""

    cfg: FitConfig
    prep: Prepared
    model: SSVAE
    opt: torch.optim.Optimizer
    step_loss: torch.nn.Module  # StepLoss, wrapped in DistributedDataParallel under torchrun
    history: list[dict]
    start: int  # epochs already finished (a resumed run)
    best: dict | None  # early stopping's pick: the weights of the best validation epoch so far
    keep_best: bool  # False when resuming a checkpoint written before best weights were kept
    ema: AveragedModel | None = None  # `--weight-ema`: the average that is validated, kept and exported

    @property
    def judged(self) -> SSVAE:
        """The weights each epoch is validated, kept and exported with: the average when there is one."""
        return self.model if self.ema is None else self.ema.module


def _fit(cfg: FitConfig, out: Path, resume: bool, force: bool, progress: bool, world: World,
         prep: Prepared | None = None) -> Training:
    """`fit` on a set-up world; `prep` replaces the data the config describes (tests/ddp_worker.py).
    Returns the finished run (its checkpoint is `out`/checkpoint.pt)."""
    cfg, ckpt = _open_run(cfg, out, resume, force)
    prep = prep or prepare(cfg)  # all input checks happen here, before the run directory exists
    if progress and world.is_main:
        print(prep.counts_line(), file=sys.stderr)
    run = _start(cfg.resolve(prep.ds.sample_shape), prep, ckpt, world)
    created = not out.exists()
    if world.is_main:
        if force and out.exists() and not resume:
            shutil.rmtree(out)
            created = True
        out.mkdir(parents=True, exist_ok=True)
    try:
        _train(run, out, progress, world)
    except BaseException:
        if world.is_main and created and not (out / CHECKPOINT).exists():
            shutil.rmtree(out, ignore_errors=True)  # nothing finished: leave no half-written run behind
        raise
    return run


def _open_run(cfg: FitConfig, out: Path, resume: bool, force: bool) -> tuple[FitConfig, dict | None]:
    """The run's config (a resume continues the saved one, `FitConfig.resumed_with`) and its checkpoint."""
    ckpt = None
    if resume:
        if not (out / CHECKPOINT).exists():
            raise UserError(f"--resume: {out} has no checkpoint to resume from")
        ckpt = load_checkpoint(out / CHECKPOINT)
        cfg = FitConfig.from_dict(ckpt["fit_config"]).resumed_with(cfg)
    elif out.exists() and any(out.iterdir()) and not force:
        raise UserError(f"{out} already holds a run: pass --resume to continue it or --force to overwrite")
    cfg.validate()
    return cfg, ckpt


def _start(cfg: FitConfig, prep: Prepared, ckpt: dict | None, world: World) -> Training:
    """Model and optimiser, new (initial weights from the seed, the same on every rank) or as checkpointed."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, prep) if ckpt is None else model_from_checkpoint(ckpt, raw=True)
    model.to(world.device)
    # fused: one kernel for the whole update instead of a dozen per tensor (a sixth of a dense step on CPU)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    history, start, best, keep_best = [], 0, None, True
    if ckpt is not None:
        opt.load_state_dict(ckpt["optimizer"])
        history, start, best, keep_best = list(ckpt["history"]), int(ckpt["epoch"]), ckpt.get("best"), "best" in ckpt
    step_loss: torch.nn.Module = StepLoss(model, cfg.objective)
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        cuda = world.device.type == "cuda"
        step_loss = DistributedDataParallel(step_loss, device_ids=[world.device] if cuda else None)
    ema = weight_average(model, cfg.weight_ema, None if ckpt is None else ckpt.get("ema"))
    return Training(cfg, prep, model, opt, step_loss, history, start, best, keep_best, ema)


def _train(run: Training, out: Path, progress: bool, world: World) -> None:
    """Epochs `run.start` + 1 .. `cfg.epochs`: train, validate, keep the best weights, checkpoint."""
    cfg, prep, model = run.cfg, run.prep, run.model
    data = (torch.from_numpy(prep.ds.x_train).to(world.device), torch.from_numpy(prep.ds.y_train).to(world.device))
    m1_std = torch.from_numpy(prep.ds.extra["x_train_std"]).to(world.device) if cfg.m1_sample else None
    steps = steps_per_epoch(prep, cfg.batch_size, world)
    if progress and world.is_main:
        print(start_line(cfg, prep, world, steps, run.start), file=sys.stderr, flush=True)
    bar = Progress(total=(cfg.epochs - run.start) * steps, enabled=progress and world.is_main, label=out.name)
    for epoch in range(run.start, cfg.epochs):
        t0 = time.perf_counter()
        rows = data if m1_std is None else (resample(data[0], m1_std, cfg.seed, epoch), data[1])
        row = {"epoch": epoch + 1, **train_epoch(run.step_loss, run.opt, cfg, prep, epoch, bar, world, rows, run.ema)}
        row["seconds"] = round(time.perf_counter() - t0, 3)
        if world.is_main:
            row.update(validate(run.judged, prep))
            run.history.append(row)
            if run.keep_best and (run.best is None
                                  or selection_score(row) > selection_score(run.history[run.best["epoch"] - 1])):
                # a copy: on CPU, detach().cpu() still shares the parameters that the next steps update
                run.best = {"epoch": epoch + 1,
                            "state_dict": {k: v.clone() for k, v in model_weights(run.judged).items()}}
            save_checkpoint(run_state(cfg, model, prep, run.opt, epoch + 1, run.history, run.best, run.keep_best,
                                      world.size, run.ema), out / CHECKPOINT)
            bar.log(f"epoch {epoch + 1}/{cfg.epochs} "
                    + " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"))
    bar.close()
