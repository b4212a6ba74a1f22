"""Run by tests/test_distributed.py under torchrun (or alone): a few optimiser steps on the real
digits, then each rank saves its weights, so the test can compare ranks and world sizes."""

import sys
from pathlib import Path

import torch

from ssvae_train.config import FitConfig
from ssvae_train.data.budgets import Split
from ssvae_train.data.prepared import prepare
from ssvae_train.distributed import setup, teardown
from ssvae_train.trainer import Progress, StepLoss, build_model, train_epoch


def main(out: str, kind: str, batch_size: int, rows: int) -> None:
    torch.set_num_threads(1)
    cfg = FitConfig(dataset="digits", model=kind, objective="soft-label", labels="all", batch_size=batch_size,
                    device="cpu")
    world = setup(cfg.device)
    prep = prepare(cfg)
    train = prep.split.train[:rows]  # a small fixed training set: rows / (batch_size * world) steps
    prep.split = Split(train=train, labelled=train if kind != "ssvae" else train[: rows // 2], val=prep.split.val)
    cfg = cfg.resolve(prep.ds.sample_shape)
    torch.manual_seed(0)
    model = build_model(cfg, prep)
    step_loss = StepLoss(model, cfg.objective)
    if world.distributed:
        step_loss = torch.nn.parallel.DistributedDataParallel(step_loss)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train_epoch(step_loss, opt, cfg, prep, 0, Progress(0, enabled=False), world)
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, Path(out) / f"rank{world.rank}.pt")
    teardown(world)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
