"""A new model for a run: the `ModelConfig` decisions a run's config and data imply (the likelihood from
the data's kind, M2's y-conditioned posterior from the objective, the conv widths and window statistics
from the architecture) and the scaling statistics of its training rows."""

from __future__ import annotations

import torch

from ssvae_train.config import DEFAULT_CHANNELS, FitConfig
from ssvae_train.data.prepared import Prepared
from ssvae_train.models.frame import canonical_turn, frame_triples
from ssvae_train.models.ssvae import SSVAE, ModelConfig
from ssvae_train.names import canonical_objective


def model_config(cfg: FitConfig, prep: Prepared) -> ModelConfig:
    """The model a resolved run config (`FitConfig.resolve`) builds on its data."""
    ds = prep.ds
    return ModelConfig(
        arch=cfg.arch,
        kind=cfg.model,
        sample_shape=ds.sample_shape,
        n_classes=ds.n_classes,
        likelihood="bernoulli" if ds.kind == "image" else "gaussian",
        latent_dim=cfg.latent_dim,
        hidden=cfg.hidden,
        posterior_y=canonical_objective(cfg.objective) == "m2",
        channels=DEFAULT_CHANNELS.get(cfg.arch, DEFAULT_CHANNELS["conv"]),
        window_stats=cfg.arch == "convlstm",
        frame_triples=frame_triples(cfg.frame, ds.channels),
    )


def build_model(cfg: FitConfig, prep: Prepared) -> SSVAE:
    """A freshly initialised model (torch's current seed) that scales raw rows as the training split does."""
    mcfg = model_config(cfg, prep)
    frame = None
    if mcfg.frame_triples:  # the statistics of the windows as the model reads them
        def frame(x):
            return canonical_turn(torch.from_numpy(x), mcfg.frame_triples).numpy()
    shift, scale = prep.scaling(frame)
    return SSVAE(mcfg, torch.from_numpy(shift), torch.from_numpy(scale))
