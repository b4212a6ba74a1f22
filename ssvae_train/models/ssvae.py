"""The semi-supervised VAE of the write-up, and its supervised and unsupervised equivalents.

    x -> scale -> trunk -> h -> mu, logvar   (the VAE's q(z|x))
                            -> pi            (the classifier's logits, q(y|x))
    decoder(z, y) -> likelihood parameters of x

`kind` picks which heads exist, so the three models share every layer they have in common:
`ssvae` (all of it), `supervised` (trunk + pi) and `vae` (no pi; the decoder gets z alone).
Scaling lives inside the model, so the model and its exported graphs take raw inputs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssvae_train.config import DEFAULT_CHANNELS, LEGACY_CONV_CHANNELS
from ssvae_train.models.frame import canonical_turn
from ssvae_train.models.parts import make_decoder, make_trunk
from ssvae_train.names import SEQUENCE_ARCHS

LOG_2PI = math.log(2 * math.pi)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


@dataclass
class ModelConfig:
    arch: str  # dense | conv | lstm | convlstm
    kind: str  # ssvae | supervised | vae
    sample_shape: tuple[int, ...]
    n_classes: int
    likelihood: str  # bernoulli (images in 0..1) | gaussian (standardised sensor signals)
    latent_dim: int  # (the run's --latent-dim, and its --hidden: FitConfig holds their defaults)
    hidden: int
    # M2's q(z|x,y): the mu/logvar heads also see the class (the trunk is still shared). Off for `soft-label`,
    # whose heads split from the trunk alone, as the write-up draws them.
    posterior_y: bool = False
    # Widths of the conv / convlstm trunk's layers (mirrored by its decoder); unused by dense and lstm.
    channels: tuple[int, int] = DEFAULT_CHANNELS["conv"]
    # convlstm: per-channel mean and std over the window beside the trunk's features (ConvLSTMTrunk). New
    # convlstm runs have it; checkpoints written before it existed do not (from_dict's default).
    window_stats: bool = False
    # --frame canonical-turn: the x/y/z triples each window is turned by (the accelerometer's first) before
    # scaling, `models/frame.py`; () reads the channels as worn (and is what older checkpoints mean).
    frame_triples: tuple[tuple[int, int, int], ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sample_shape"] = list(self.sample_shape)
        d["channels"] = list(self.channels)
        d["frame_triples"] = [list(t) for t in self.frame_triples]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        channels = tuple(d.get("channels", LEGACY_CONV_CHANNELS))
        triples = tuple(tuple(int(i) for i in t) for t in d.get("frame_triples", ()))
        return cls(**{**d, "sample_shape": tuple(d["sample_shape"]), "channels": channels, "frame_triples": triples})


class SSVAE(nn.Module):
    def __init__(self, cfg: ModelConfig, shift: torch.Tensor | None = None, scale: torch.Tensor | None = None):
        super().__init__()
        self.cfg = cfg
        # Raw units -> model units: x_scaled = (x - shift) / scale, broadcast over the last axis.
        self.register_buffer("shift", torch.zeros(1) if shift is None else torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.ones(1) if scale is None else torch.as_tensor(scale, dtype=torch.float32))
        self.trunk = make_trunk(cfg.arch, cfg.sample_shape, cfg.hidden, cfg.channels, cfg.window_stats)
        self.pi = nn.Linear(cfg.hidden, cfg.n_classes) if cfg.kind != "vae" else None
        if cfg.kind != "supervised":
            head_in = cfg.hidden + (cfg.n_classes if self.conditions_posterior else 0)
            self.mu = nn.Linear(head_in, cfg.latent_dim)
            self.logvar = nn.Linear(head_in, cfg.latent_dim)
            self.decoder = make_decoder(
                cfg.arch, cfg.sample_shape, cfg.hidden, cfg.latent_dim + self.cond_dim, cfg.channels, self.cond_dim
            )
            channels = cfg.sample_shape[-1]
            # A learned per-channel noise level for Gaussian signals (log sigma in scaled units).
            self.log_sigma = nn.Parameter(torch.zeros(channels)) if cfg.likelihood == "gaussian" else None

    # ---- the pieces -------------------------------------------------------------------------
    @property
    def cond_dim(self) -> int:
        """How many class inputs the decoder takes: K for the SSVAE, none for the plain VAE."""
        return self.cfg.n_classes if self.cfg.kind == "ssvae" else 0

    @property
    def conditions_posterior(self) -> bool:
        return self.cfg.posterior_y and self.cfg.kind == "ssvae"

    @property
    def sequence(self) -> bool:
        """Sensor windows [N, T, channels] in, rather than images or vectors."""
        return self.cfg.arch in SEQUENCE_ARCHS

    @property
    def any_length(self) -> bool:
        """Windows of any length in and out (the write-up's LSTM); convlstm takes its trained window only."""
        return self.cfg.arch == "lstm"

    @property
    def has_classifier(self) -> bool:
        return self.pi is not None

    @property
    def has_decoder(self) -> bool:
        return self.cfg.kind != "supervised"

    def framed(self, x: torch.Tensor) -> torch.Tensor:
        """Raw windows in the frame the model reads (`--frame`); as they are unless it turns them."""
        return canonical_turn(x, self.cfg.frame_triples) if self.cfg.frame_triples else x

    def scaled(self, x: torch.Tensor) -> torch.Tensor:
        return (self.framed(x) - self.shift) / self.scale

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.scaled(x))

    def classify_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.pi(h)

    def posterior(self, h: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) (or q(z|x,y) when the heads see the class: y one-hot or probabilities)."""
        if self.conditions_posterior:
            h = torch.cat([h, y], dim=-1)
        return self.mu(h), self.logvar(h).clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor, y_onehot: torch.Tensor | None, length: int | None = None) -> torch.Tensor:
        """Likelihood parameters in scaled units: logits (bernoulli) or means (gaussian)."""
        code = z if self.cond_dim == 0 else torch.cat([z, y_onehot], dim=-1)
        return self.decoder(code, length)

    # ---- likelihood -------------------------------------------------------------------------
    def target(self, x: torch.Tensor) -> torch.Tensor:
        """What the likelihood scores: pixels in 0..1, or standardised signals."""
        return self.scaled(x)

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """-log p(x | z, y) per sample, summed over every value of the sample."""
        dims = tuple(range(1, target.dim()))
        if self.cfg.likelihood == "bernoulli":
            return F.binary_cross_entropy_with_logits(params, target, reduction="none").sum(dims)
        log_sigma = self.log_sigma.clamp(-5.0, 3.0)
        per_value = 0.5 * ((target - params) * torch.exp(-log_sigma)) ** 2 + log_sigma + 0.5 * LOG_2PI
        return per_value.sum(dims)

    def to_raw(self, params: torch.Tensor) -> torch.Tensor:
        """Decoder output back in the data set's units (pixel 0..max, or g and rad/s; in the model's frame)."""
        mean = torch.sigmoid(params) if self.cfg.likelihood == "bernoulli" else params
        return mean * self.scale + self.shift

    # ---- the uses ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (the classifier cut)."""
        return torch.softmax(self.classify_logits(self.features(x)), dim=-1)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None, length: int | None = None) -> torch.Tensor:
        """Samples in raw units from latent codes and integer classes (the decoder cut)."""
        onehot = None if self.cond_dim == 0 else F.one_hot(y, self.cfg.n_classes).to(z.dtype)
        return self.to_raw(self.decode(z, onehot, length))
