"""Checkpoints: one dict of tensors and plain values, written atomically, read with weights_only=True."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch

from ssvae_train.errors import UserError
from ssvae_train.files import write_atomic
from ssvae_train.models import SSVAE, ModelConfig

FORMAT = 1
CHECKPOINT = "checkpoint.pt"


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


WEIGHTS = ("last", "best")


def weights_epoch(ckpt: dict, weights: str) -> int:
    """The epoch whose weights `model_from_checkpoint(ckpt, weights)` loads."""
    return int(ckpt["best"]["epoch"]) if weights == "best" else int(ckpt["epoch"])


def model_from_checkpoint(ckpt: dict, weights: str = "last") -> SSVAE:
    """The run's model with its `last` weights (the last finished epoch) or its `best` ones (the epoch with
    the best validation score: accuracy for a classifier, negative ELBO for a plain VAE)."""
    if weights not in WEIGHTS:
        raise UserError(f"--weights {weights!r}: choose one of {', '.join(WEIGHTS)}")
    state = ckpt["state_dict"]
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
