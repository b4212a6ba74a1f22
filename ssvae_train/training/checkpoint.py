"""Checkpoints: one dict of tensors and plain values, written atomically, read with weights_only=True.

The layout (`run_state`): `fit_config` (the resolved FitConfig), `model_config`, `data` (Prepared.meta),
`state_dict` (last epoch), `optimizer`, `epoch`, `history` (one row per epoch), `best` (epoch and
state_dict of the best validation epoch; absent in checkpoints written before it was kept), `versions`,
`world_size`, `split` (labelled and validation row indices, so an export can prove it rebuilt the data),
`ema` (`--weight-ema` runs only: the average's state, `torch.optim.swa_utils.AveragedModel`; then `state_dict` is
the raw weights training goes on from, and `best` and the `last` weights are the average's).
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ssvae_train import __version__
from ssvae_train.errors import UserError
from ssvae_train.files import write_atomic
from ssvae_train.models import SSVAE, ModelConfig
from ssvae_train.names import WEIGHTS

if TYPE_CHECKING:  # annotations only: the data layer reads checkpoints (data/stacked.py)
    from ssvae_train.config import FitConfig
    from ssvae_train.data.prepared import Prepared

FORMAT = 1
CHECKPOINT = "checkpoint.pt"
EMA_PREFIX = "module."  # how AveragedModel's state names the averaged model's tensors (module.<name>)


def weights(model: SSVAE) -> dict[str, torch.Tensor]:
    """The model's tensors on the CPU (on CPU still shared with the model: clone to keep a copy)."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def versions() -> dict:
    return {"ssvae": __version__, "torch": str(torch.__version__), "numpy": np.__version__,
            "python": sys.version.split()[0]}


def run_state(cfg: FitConfig, model: SSVAE, prep: Prepared, opt: torch.optim.Optimizer, epoch: int, history: list[dict],
              best: dict | None, keep_best: bool, world_size: int, ema: torch.nn.Module | None = None) -> dict:
    """What a run's checkpoint holds after `epoch` finished epochs (the layout above)."""
    return {
        "fit_config": cfg.to_dict(), "model_config": model.cfg.to_dict(), "data": prep.meta(),
        "state_dict": weights(model), "optimizer": opt.state_dict(), "epoch": epoch, "history": history,
        **({"best": best} if keep_best else {}), **({"ema": weights(ema)} if ema is not None else {}),
        "versions": versions(), "world_size": world_size,
        "split": {"labelled": torch.from_numpy(prep.split.labelled), "val": torch.from_numpy(prep.split.val)},
    }


def save_checkpoint(state: dict, path: Path) -> None:
    write_atomic(path, lambda tmp: torch.save({"format": FORMAT, **state}, tmp))


def load_checkpoint(path: str | Path) -> dict:
    """Load a run's checkpoint (a run directory or the file), refusing anything that is not ours."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise UserError(f"{path}: no checkpoint here (train one with `ssvae-train fit`)")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is not ours
        raise UserError(f"{path}: not a readable ssvae checkpoint (not a torch.save archive: corrupt or truncated?)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a corrupt or foreign pickle
        text = str(e)
        why = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if text.strip() else type(e).__name__
        raise UserError(f"{path}: not a readable ssvae checkpoint ({why[:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or "model_config" not in ckpt:
        raise UserError(f"{path}: not an ssvae checkpoint (format {FORMAT} expected)")
    return ckpt




def weights_epoch(ckpt: dict, weights: str) -> int:
    """The epoch whose weights `model_from_checkpoint(ckpt, weights)` loads."""
    return int(ckpt["best"]["epoch"]) if weights == "best" else int(ckpt["epoch"])


# An export of the last weights says so when the run's best validation epoch read at least this many points of
# validation accuracy more: with few labels both models often peak early and then memorise their labels
# (RESULTS.md § mnist-earlystop; on HAPT's any-angle recipe at 1 % of the labels results/hapt-bundles.md, AI).
BEST_EPOCH_NOTE_POINTS = 1.0


def best_epoch_note(ckpt: dict, weights: str) -> str | None:
    """One line when `weights` is `last` and the run's best validation epoch was clearly better (accuracy), else
    None (best weights asked for, no accuracy recorded, or no such gap)."""
    if weights != "last" or "best" not in ckpt:
        return None
    accuracy = {int(row["epoch"]): row.get("val_accuracy") for row in ckpt.get("history") or [] if "epoch" in row}
    best_epoch, last_epoch = int(ckpt["best"]["epoch"]), int(ckpt["epoch"])
    best, last = accuracy.get(best_epoch), accuracy.get(last_epoch)
    if best is None or last is None or best_epoch == last_epoch:
        return None
    # rounded, so that a gap of exactly the threshold (57 % against 56 %) counts whatever the float error
    if round(100 * (best - last), 6) < BEST_EPOCH_NOTE_POINTS:
        return None
    return (f"note: epoch {best_epoch} read {best:.1%} on the validation rows, the last epoch ({last_epoch}) "
            f"{last:.1%}: --weights best exports epoch {best_epoch} (early stopping, chosen on validation)")


def model_from_checkpoint(ckpt: dict, weights: str = "last", raw: bool = False) -> SSVAE:
    """The run's model with its `last` weights (the last finished epoch) or its `best` ones (the epoch with
    the best validation score: accuracy for a classifier, negative ELBO for a plain VAE). With `--weight-ema` both
    are the average's; `raw` (a resume) gives the raw last weights training goes on from."""
    if weights not in WEIGHTS:
        raise UserError(f"--weights {weights!r}: choose one of {', '.join(WEIGHTS)}")
    state = ckpt["state_dict"]
    if weights == "last" and "ema" in ckpt and not raw:
        state = {k[len(EMA_PREFIX):]: v for k, v in ckpt["ema"].items() if k.startswith(EMA_PREFIX)}
    if weights == "best":
        if "best" not in ckpt:
            raise UserError("this checkpoint keeps no best-validation weights (written before they were kept)")
        state = ckpt["best"]["state_dict"]
    model = SSVAE(ModelConfig.from_dict(ckpt["model_config"]), state["shift"], state["scale"])
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UserError(f"checkpoint weights do not fit the model they claim ({str(e).splitlines()[0]})") from None
    return model.eval()
