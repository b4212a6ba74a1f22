"""Running under torchrun: process group, device, and which rows each rank takes.

A plain `ssvae-train fit` sees no WORLD_SIZE and stays one process on one device. Under
`torchrun --nproc_per_node N` every rank joins a process group (gloo on CPU, nccl on CUDA), takes
its own slice of every global batch, and DistributedDataParallel averages the gradients, so one step
with N ranks x batch B is one step with batch N*B. Rank 0 alone writes checkpoints and logs. A rank's
process ends through `ssvae_train.ranks.leave` (why: its docstring).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from ssvae_train.errors import UserError


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This rank's part of a global batch (parts differ by at most one row)."""
        return np.array_split(rows, self.size)[self.rank] if self.size > 1 else rows


def pick_device(pref: str, local_rank: int = 0) -> torch.device:
    if pref not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device {pref!r}: choose auto, cpu or cuda")
    if pref == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is visible to torch")
    if pref == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def setup(device_pref: str = "auto") -> World:
    """Join the process group when launched by torchrun; otherwise a world of one."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_pref, local_rank)
    if size <= 1:
        return World(device=device)
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return World(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=local_rank, device=device)


def teardown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def mean_over_ranks(values: dict[str, float], world: World) -> dict[str, float]:
    """Average logged numbers over ranks so rank 0 reports the whole batch, not its slice."""
    if not world.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=world.device)
    dist.all_reduce(t)
    return {k: float(v) / world.size for k, v in zip(keys, t.tolist(), strict=True)}
