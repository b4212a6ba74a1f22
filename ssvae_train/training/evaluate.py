"""Evaluate a run on its test set: accuracy and log loss, and anomaly ROC AUC when a class was held out.

Every anomaly score of `scores.py` is reported (ROC AUC, average precision), and `anomaly.default` names
the one `ssvae-export` puts in the bundle by default. A score-selection run (`--val-anomaly-class`)
scores its validation rows against that class's training rows instead, and never scores the test set.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ssvae_train.config import FitConfig
from ssvae_train.data.prepared import Prepared
from ssvae_train.models import SSVAE
from ssvae_train.models.m1m2 import M1M2
from ssvae_train.scoring.inference import classification_metrics, predict
from ssvae_train.scoring.scores import PARTS, SCORES, combine, default_score, fit_on_run, part_values
from ssvae_train.training.checkpoint import load_checkpoint, model_from_checkpoint, weights_epoch
from ssvae_train.training.prepare import prepare
from ssvae_train.training.stacked import compose, load_m1


def load_run(
    run: str | Path, data_dir: str | None = None, weights: str = "last"
) -> tuple[dict, SSVAE, FitConfig, Prepared]:
    """A run's checkpoint, its model (`last` or `best` weights) in eval mode, its config, and its data."""
    ckpt = load_checkpoint(run)
    cfg = FitConfig.from_dict(ckpt["fit_config"])
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir)
    return ckpt, model_from_checkpoint(ckpt, weights), cfg, prepare(cfg)


def on_raw_samples(m2: SSVAE, cfg: FitConfig) -> tuple[M1M2, Prepared]:
    """An M1+M2 run (`cfg.m1_run`) as one model on raw samples (`models/m1m2.py`), with the run's data as
    raw samples: the same split, since the split does not depend on M1. What export and generation draw on.
    The raw samples are read as M1 reads them (its arch: a sequence trunk for sensor windows)."""
    m1 = load_m1(cfg.m1_run)
    prep = prepare(replace(cfg, m1_run=None, arch=m1[1].arch))
    return compose(m2, cfg, prep.ds, prep.split.train, m1), prep


def anomaly_metrics(score: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": float(roc_auc_score(is_anomaly, score)),
        "average_precision": float(average_precision_score(is_anomaly, score)),
    }


def all_scores(model: SSVAE, prep: Prepared, x: np.ndarray, is_anomaly: np.ndarray) -> dict:
    """Every score's metrics on x (the plain VAE has one, `vae`), and `default`: the exported default."""
    fit = fit_on_run(model, prep)
    values = part_values(model, x, list(PARTS), fit)
    methods = SCORES if model.cond_dim else ("vae",)
    out: dict = {m: anomaly_metrics(combine(values, m, fit), is_anomaly) for m in methods}
    raw_kind = prep.ds.extra.get("raw_kind", prep.ds.kind)  # M1+M2: the export's default is the raw samples' kind
    out["default"] = default_score(raw_kind) if model.cond_dim else "vae"
    return out


def evaluate_model(model: SSVAE, prep: Prepared) -> dict:
    ds = prep.ds
    normal = ds.y_test >= 0  # rows of a held-out class are labelled -1
    out: dict = {"n_test": int(len(ds.y_test))}
    if model.has_classifier:
        out.update(
            {
                f"test_{k}": v
                for k, v in classification_metrics(predict(model, ds.x_test[normal]), ds.y_test[normal]).items()
            }
        )
    if model.has_decoder and (prep.val_anomalies is not None or not normal.all()):
        if prep.val_anomalies is not None:
            x = np.concatenate([ds.x_train[prep.split.val], prep.val_anomalies])
            is_anomaly = np.arange(len(x)) >= len(prep.split.val)
            key, name = "val_anomaly", "val_anomaly_name"
        else:
            x, is_anomaly, key, name = ds.x_test, ~normal, "anomaly", "anomaly_class"  # (a name, as before)
        out[key] = all_scores(model, prep, x, is_anomaly)
        out[name] = ds.extra.get("val_anomaly_name" if key == "val_anomaly" else "excluded_name")
    return out


def evaluate_run(run: str | Path, data_dir: str | None = None, weights: str = "last") -> dict:
    ckpt, model, cfg, prep = load_run(run, data_dir, weights)
    return {
        "run": str(run),
        "dataset": cfg.dataset,
        "arch": cfg.arch,
        "model": cfg.model,
        "objective": cfg.objective,
        "labels": cfg.labels,
        "n_labelled": int(len(prep.split.labelled)),
        "seed": cfg.seed,
        "epochs": int(ckpt["epoch"]),
        "weights": weights,
        "weights_epoch": weights_epoch(ckpt, weights),
        "weight_ema": cfg.weight_ema,
        "exclude_class": cfg.exclude_class,
        "val_anomaly_class": cfg.val_anomaly_class,
        **evaluate_model(model, prep),
    }
