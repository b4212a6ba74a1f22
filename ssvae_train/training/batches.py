"""Which rows each optimiser step of an epoch sees: an epoch sweeps the unlabelled rows, with labelled
batches drawn alongside.

Every model gets the same number of optimiser steps per epoch (ceil(training rows / global batch)),
so the supervised equivalent is not starved of steps when it has few labels. Each epoch's shuffles come
from (seed, epoch) alone, so a resumed run continues exactly where a killed one stopped. Under torchrun
each rank takes its slice of every global batch (`distributed.World.shard`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ssvae_train.data.prepared import Prepared
from ssvae_train.training.distributed import World


@dataclass
class Batches:
    """Row indices for each step of one epoch: unlabelled (maybe empty) and labelled (maybe empty)."""

    unlabelled: list[np.ndarray] = field(default_factory=list)
    labelled: list[np.ndarray] = field(default_factory=list)


def steps_per_epoch(prep: Prepared, batch_size: int, world: World | None = None) -> int:
    return math.ceil(len(prep.split.train) / (batch_size * (world or World()).size))


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
    steps = steps_per_epoch(prep, batch_size, world)
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
