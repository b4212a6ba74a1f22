"""A run's data from its config: the one place a `FitConfig` becomes a `Prepared` (the data layer itself
knows nothing of configs, models or checkpoints)."""

from __future__ import annotations

from ssvae_train.config import FitConfig, check_arch
from ssvae_train.data.budgets import contiguous_blocks, exclude_class, make_split, parse_labels
from ssvae_train.data.load import load_dataset
from ssvae_train.data.prepared import Prepared
from ssvae_train.training.stacked import stack


def prepare(cfg: FitConfig) -> Prepared:
    """The data of the run `cfg` describes: loaded, its held-out classes removed, split, and (M1+M2) stacked."""
    ds = load_dataset(cfg.dataset, cfg.data_dir, cfg.window, cfg.hop, cfg.transitions)
    if cfg.m1_run is None:  # M1+M2: checked below, on M1's latent means
        check_arch(cfg.arch, ds.kind, f"--dataset {cfg.dataset}")
    val_anomalies = excluded_rows = None
    if cfg.exclude_class is not None:
        excluded_rows = ds.x_train[ds.y_train == cfg.exclude_class]
        if cfg.val_anomaly_class is not None:
            val_anomalies = ds.x_train[ds.y_train == cfg.val_anomaly_class]
        ds = exclude_class(ds, cfg.exclude_class, cfg.val_anomaly_class, cfg.held_out_windows == "whole")
    groups = ds.groups_train
    if groups is None and cfg.val_split == "blocks":
        groups = contiguous_blocks(len(ds.y_train))
    labels = parse_labels(cfg.labels)
    split = make_split(ds.y_train, ds.n_classes, labels, cfg.data_seed, cfg.val_fraction, groups, ds.classes)
    if cfg.m1_run is not None:  # the labels and the split stay; the samples become M1's latents
        ds = stack(ds, cfg.m1_run, cfg, split.train)
        check_arch(cfg.arch, ds.kind, f"--m1-run {cfg.m1_run}'s latent means")
    return Prepared(ds, split, val_anomalies, excluded_rows)
