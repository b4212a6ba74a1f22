"""The three cuts of a trained model, as small nn.Modules whose forward is exactly one graph's signature.

    ClassifierCut  x [N, *sample_shape]            -> probs [N, K]
    AnomalyCut     x [N, *sample_shape]            -> score [N]        (z = mu, no sampling)
    DecoderCut     z [N, latent_dim], y int64 [N]  -> x_hat [N, *sample_shape]  (raw units)

Each one only calls the model's own code (`model(x)`, `scores.AnomalyScorer`, `model.generate`), so the
graph computes what training and evaluation compute; scaling to model units is inside the model already,
and the anomaly score's fitted constants (class Gaussians, standardisation) are the scorer's buffers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ssvae_edge.contract import GRAPH_NAMES, graph_file
from ssvae_train.models import SSVAE
from ssvae_train.scoring.latent_prior import ClassPrior
from ssvae_train.scoring.scores import AnomalyScorer, ScoreFit


class ClassifierCut(nn.Module):
    """Trunk + pi + softmax: raw samples to class probabilities (rows sum to 1)."""

    def __init__(self, model: SSVAE):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class AnomalyCut(AnomalyScorer):
    """The deterministic anomaly score of x (higher = less like the training data): one of
    `scores.SCORES`, with the constants `fit` holds; a plain VAE (`cond_dim == 0`) has its negative ELBO
    only, whatever the method."""

    def __init__(self, model: SSVAE, method: str = "min", fit: ScoreFit | None = None):
        super().__init__(model, method, fit)


class DecoderCut(nn.Module):
    """Latent code and integer class to a sample in raw units (the model's full window length).

    With a class prior (`latent_prior.py`), z ~ N(0, I) is first moved to where class y lies in latent
    space. The plain VAE's decoder takes no class: its graph still has the `y` input (the bundle contract
    is the same for every model) and ignores it.
    """

    def __init__(self, model: SSVAE, prior: ClassPrior | None = None):
        super().__init__()
        self.model, self.prior = model, prior if model.cond_dim else None

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.prior is not None:
            z = self.prior.to_codes(z, y)
        return self.model.generate(z, y if self.model.cond_dim else None)


class MeanOf(nn.Module):
    """The mean of the same cut of several models (an ensemble bundle, `ensemble.py`): x -> the mean of their
    outputs."""

    def __init__(self, cuts: Sequence[nn.Module]):
        super().__init__()
        self.cuts = nn.ModuleList(cuts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([cut(x) for cut in self.cuts], dim=0).mean(dim=0)


@dataclass(frozen=True)
class Cut:
    """One graph to export: its module, input/output names, and which input axes are dynamic."""

    name: str
    module: nn.Module
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    time_axis: bool  # the window length (axis 1 of x) is dynamic too
    lstm: bool = False  # the graph must hold ONNX LSTM nodes (not unrolled loops)

    @property
    def file(self) -> str:
        return graph_file(self.name)


def graphs_for(model: SSVAE) -> tuple[str, ...]:
    """Which graphs a model has: `supervised` only the classifier, `vae` only anomaly + decoder."""
    return tuple(
        g
        for g, has in zip(GRAPH_NAMES, (model.has_classifier, model.has_decoder, model.has_decoder), strict=True)
        if has
    )


def make_cuts(
    model: SSVAE, score: str = "min", prior: ClassPrior | None = None, fit: ScoreFit | None = None,
    members: Sequence[tuple[SSVAE, ScoreFit | None]] = (),
) -> list[Cut]:
    """The cuts of `model`'s graphs. With `members` (an ensemble bundle: more models of the same recipe and rows,
    each with its own fitted score constants), the classifier and anomaly graphs are the mean of that cut of
    `model` and of each member (`MeanOf`); the decoder stays `model`'s."""
    model.eval()
    everyone = [(model, fit), *members]
    for m, _ in members:
        m.eval()

    def mean(cut_of) -> nn.Module:
        cuts = [cut_of(m, f) for m, f in everyone]
        return cuts[0] if len(cuts) == 1 else MeanOf(cuts)

    # lstm: every graph takes windows of any length; convlstm: the trained window (its trunk is sized for it)
    seq, any_len = model.sequence, model.any_length
    make = {
        "classifier": lambda: Cut("classifier", mean(lambda m, f: ClassifierCut(m)), ("x",), ("probs",), any_len, seq),
        "anomaly": lambda: Cut("anomaly", mean(lambda m, f: AnomalyCut(m, score, f)), ("x",), ("score",), any_len, seq),
        # The decoder emits the trained window length: its only inputs are z and y.
        "decoder": lambda: Cut("decoder", DecoderCut(model, prior), ("z", "y"), ("x_hat",), False, any_len),
    }
    return [make[g]() for g in graphs_for(model)]


def score_method(model: SSVAE, score: str) -> str:
    """The score the anomaly graph computes (one of `scores.SCORES`), or `vae` for the plain VAE."""
    return score if model.cond_dim else "vae"
