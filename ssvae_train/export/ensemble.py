"""Ensemble bundles: runs of one recipe trained on the same rows from other initialisations
(`ssvae-train fit --split-seed S --seed N`), exported as one bundle with the contract's three graphs
(`ssvae-export RUN --member RUN2 --member RUN3`):

    classifier.onnx   the mean of the members' class probabilities
    anomaly.onnx      the mean of the members' anomaly scores (one method, each member's own fitted constants)
    decoder.onnx      RUN's alone (a mean of decoders draws no one's samples)

Why: with the same people and data, the initialisation alone moved a novelty run's alerts on unseen people from
29/37 at 10.83 false alerts/h to 37/37 at 14.89/h (results/hapt-bundles.md, AF), and a mean over initialisations
is the usual way to average such a spread away. Measured there (AG), it did not help those alerts, nor the
classifier, and each window runs every model (RUN and each --member): weigh it on your own
validation data. A device needs nothing new: the graphs keep the contract's names and signatures, and the
manifest's `ensemble` says what they hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssvae_edge.contract import file_sha256
from ssvae_edge.sections import Ensemble, EnsembleMember
from ssvae_train.config import FitConfig
from ssvae_train.errors import UserError
from ssvae_train.export.loading import Loaded, checkpoint_path, load_model
from ssvae_train.export.refit import SAME_RECIPE
from ssvae_train.models import SSVAE
from ssvae_train.training.checkpoint import weights_epoch

WHAT = ("classifier: the mean of the members' class probabilities; anomaly: the mean of the members' scores "
        "(score_method, each member with its own fitted constants); decoder: the first member's alone. Every "
        "fit after the graphs (threshold, alert point, posture, sequence filter) was made on these graphs.")


@dataclass(frozen=True)
class Member:
    """One run of the ensemble: where it came from, its config, its model and the epoch of its weights."""

    run: str | Path
    cfg: FitConfig
    model: SSVAE
    weights_epoch: int


def load_members(loaded: Loaded, runs: Sequence[str | Path]) -> list[Member]:
    """The runs given with --member, each refused unless it is a finished run of `loaded`'s recipe (`SAME_RECIPE`,
    the frame) holding exactly its rows in the same roles (the options that decide them, and the validation and
    labelled rows its checkpoint saved), with graphs that take and give what `loaded`'s do. Raises UserError."""
    if not runs:
        return []
    if loaded.cfg.m1_run is not None:
        raise UserError("--member: an M1+M2 run cannot be exported as an ensemble")
    seen = {_resolved(loaded.run)}
    members = []
    for run in runs:
        if _resolved(run) in seen:
            raise UserError(f"--member {run}: given twice (RUN is the ensemble's first member)")
        seen.add(_resolved(run))
        ckpt, cfg, model = load_model(run, loaded.weights)
        _check_member(run, cfg, ckpt, model, loaded)
        members.append(Member(run, cfg, model, weights_epoch(ckpt, loaded.weights)))
    return members


def _resolved(run: str | Path) -> Path:
    return checkpoint_path(run).resolve()


def _check_member(run: str | Path, cfg: FitConfig, ckpt: dict, model: SSVAE, loaded: Loaded) -> None:
    if cfg.m1_run is not None:
        raise UserError(f"--member {run}: an M1+M2 run cannot be an ensemble member")
    if int(ckpt["epoch"]) < cfg.epochs:
        raise UserError(f"--member {run}: trained {ckpt['epoch']} of its {cfg.epochs} epochs (finish it with "
                        "`ssvae-train fit --resume`)")
    for (what, mine), (_, theirs) in zip(loaded.cfg.split_identity(), cfg.split_identity(), strict=True):
        if mine != theirs:
            raise UserError(f"--member {run} was trained with --{what} {theirs}, RUN with {mine}: an ensemble's "
                            "members must hold the same rows (train them with the same --split-seed)")
    for key in (*SAME_RECIPE, "frame"):
        mine, theirs = getattr(loaded.cfg, key), getattr(cfg, key)
        if mine != theirs:
            raise UserError(f"--member {run} was trained with --{key.replace('_', '-')} {theirs}, RUN with {mine}: "
                            "an ensemble's members are runs of one recipe")
    saved = ckpt.get("split") if isinstance(ckpt.get("split"), dict) else {}
    split = loaded.prep.split
    for key, rows in (("val", split.val), ("labelled", split.labelled)):
        if key in saved and not np.array_equal(np.asarray(saved[key]), rows):
            raise UserError(f"--member {run}: its {'validation' if key == 'val' else 'labelled'} rows differ from "
                            "RUN's: an ensemble's members must hold the same rows")
    mine, theirs = loaded.model, model
    for what, a, b in (("classes", mine.cfg.n_classes, theirs.cfg.n_classes),
                       ("sample shape", tuple(mine.cfg.sample_shape), tuple(theirs.cfg.sample_shape))):
        if a != b:
            raise UserError(f"--member {run}: its {what} is {b}, RUN's is {a}: an ensemble's graphs must take and "
                            "give the same")


def describe(loaded: Loaded, members: Sequence[Member]) -> Ensemble:
    """The manifest's `ensemble`: every member (the first is RUN, whose run `producer` describes) and what each
    graph computes from them."""
    first = Member(loaded.run, loaded.cfg, loaded.model, weights_epoch(loaded.ckpt, loaded.weights))
    return Ensemble(
        members=tuple(EnsembleMember(run=str(m.run), checkpoint_sha256=file_sha256(checkpoint_path(m.run)),
                                     seed=m.cfg.seed, split_seed=m.cfg.data_seed, weights=loaded.weights,
                                     weights_epoch=m.weights_epoch) for m in (first, *members)),
        what=WHAT,
    )
