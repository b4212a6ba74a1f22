"""The first stage of an export: a run's checkpoint, its model and its data, with the checks an export
needs before anything is computed: a complete checkpoint whose config builds its model, and data rebuilt
exactly (the threshold is calibrated on the run's validation rows). A stacked M1+M2 run (`--m1-run`) is
exported as one model on raw samples: its M2 chained onto its M1 (`evaluate.on_raw_samples`), with the run's data
as raw samples and the same split, so every graph takes what any other bundle's takes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ssvae_train.config import FitConfig
from ssvae_train.data.prepared import Prepared
from ssvae_train.errors import UserError
from ssvae_train.export.graphs import first_line
from ssvae_train.export.quantize import QuantData
from ssvae_train.models import SSVAE
from ssvae_train.training.checkpoint import CHECKPOINT, load_checkpoint, model_from_checkpoint
from ssvae_train.training.evaluate import on_raw_samples
from ssvae_train.training.prepare import prepare


@dataclass(frozen=True)
class Loaded:
    """A run ready to export: where it came from, its checkpoint, model, config and rebuilt data."""

    run: str | Path
    ckpt: dict
    model: SSVAE  # or M1M2 (models/m1m2.py), which answers the same calls
    cfg: FitConfig
    prep: Prepared
    weights: str

    @property
    def checkpoint_path(self) -> Path:
        return checkpoint_path(self.run)


def checkpoint_path(run: str | Path) -> Path:
    """A run's checkpoint file, given the run's folder or the file itself."""
    return Path(run) / CHECKPOINT if Path(run).is_dir() else Path(run)


def load_model(run: str | Path, weights: str = "last") -> tuple[dict, FitConfig, SSVAE]:
    """A run's checkpoint, config and model (its `weights`), refusing an incomplete checkpoint or one whose config
    builds no model. Raises UserError."""
    ckpt = load_checkpoint(run)
    missing = [k for k in ("fit_config", "model_config", "state_dict", "epoch") if k not in ckpt]
    if missing:
        raise UserError(f"{run}: not a complete ssvae checkpoint (no {', '.join(missing)})")
    try:
        return ckpt, FitConfig.from_dict(ckpt["fit_config"]), model_from_checkpoint(ckpt, weights)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{run}: the checkpoint's config does not describe an ssvae model ({first_line(e)})") from None


def load_for_export(run: str | Path, data_dir: str | None, weights: str = "last") -> Loaded:
    """`evaluate.load_run`, plus the checks above. Raises UserError."""
    ckpt, cfg, model = load_model(run, weights)
    if cfg.val_anomaly_class is not None:
        raise UserError(f"{run} holds a second class out to choose scores on (--val-anomaly-class): its test "
                        "rows mix two anomalous classes; export a run with --exclude-class only")
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir)
    if cfg.m1_run is not None:  # M1+M2: M2 chained onto M1, on the raw samples
        model, prep = on_raw_samples(model, cfg)
    else:
        prep = prepare(cfg)
    saved = ckpt.get("split", {}).get("val") if isinstance(ckpt.get("split"), dict) else None
    if saved is not None and not np.array_equal(np.asarray(saved), prep.split.val):
        raise UserError(
            "the data found now is not the data this run was trained on (its validation rows "
            "differ): point --data-dir at the run's data"
        )
    return Loaded(run, ckpt, model, cfg, prep, weights)


def quant_data(prep: Prepared, alert_quantile: float, latent_dim: int | None) -> QuantData:
    """The rows int8 is calibrated (training split), thresholded (validation split) and measured (test) on."""
    ds = prep.ds
    return QuantData(x_train=ds.x_train[prep.split.train], x_val=ds.x_train[prep.split.val], x_test=ds.x_test,
                     y_test=ds.y_test, n_classes=ds.n_classes, latent_dim=latent_dim, alert_quantile=alert_quantile)
