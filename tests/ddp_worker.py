"""Run by tests/test_distributed.py under torchrun (or alone): one epoch of the real training loop
(`trainer._fit`) on a small fixed split of the real digits, then each rank saves its weights, so the test
can compare ranks and world sizes."""

import sys
from pathlib import Path

import torch

from ssvae_train.config import FitConfig
from ssvae_train.data.budgets import Split
from ssvae_train.ranks import leave
from ssvae_train.training.distributed import setup, teardown
from ssvae_train.training.prepare import prepare
from ssvae_train.training.trainer import _fit


def main(out: str, kind: str, batch_size: int, rows: int) -> None:
    torch.set_num_threads(1)
    cfg = FitConfig(dataset="digits", model=kind, objective="soft-label", labels="all", batch_size=batch_size,
                    epochs=1, device="cpu")
    world = setup(cfg.device)
    prep = prepare(cfg)
    train = prep.split.train[:rows]  # a small fixed training set: rows / (batch_size * world) steps
    prep.split = Split(train=train, labelled=train if kind != "ssvae" else train[: rows // 2], val=prep.split.val)
    run = _fit(cfg, Path(out) / "run", resume=False, force=False, progress=False, world=world, prep=prep)
    torch.save({k: v.detach().clone() for k, v in run.model.state_dict().items()}, Path(out) / f"rank{world.rank}.pt")
    teardown(world)
    if world.distributed:
        leave(0)  # as the CLI ends a rank (ssvae_train.ranks.leave)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
