"""M1+M2 as one model on raw samples, so a stacked run exports like any other (issue 12).

    x ──► M1 trunk ──► mu1 ──► its active units ──► M2 (scale, trunk, pi, mu/logvar)    classifier, anomaly
    z, y ──► M2 decoder ──► M1 code (inactive units at their training mean) ──► M1 decoder ──► x̂    decoder

M2 was trained on M1's posterior means over M1's active units (`stacked.py`), so the classifier and the
anomaly scores are M2's, computed on the M1 code of x: the scores' reconstruction term is M2's likelihood of
that code (M2 never modelled pixels), and their class Gaussians live in M2's features, as for any model.
Generation composes the decoders: M2 draws an M1 code for class y, M1 draws the pixels.

`M1M2` carries the part of `SSVAE`'s interface that the cuts, the anomaly scores, the class prior and the
exporter use, each delegated to the model it belongs to. Unit selection and placement are Gathers with
constant indices (exact, and readable by every ONNX engine), never matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ssvae_train.models.ssvae import SSVAE


class M1M2(nn.Module):
    def __init__(self, m1: SSVAE, m2: SSVAE, active: Sequence[int], inactive_fill: torch.Tensor, m1_run: str = ""):
        super().__init__()
        d1 = m1.cfg.latent_dim
        if m1.cfg.kind != "vae":
            raise ValueError(f"M1 must be a plain vae, not {m1.cfg.kind!r}")
        if tuple(m2.cfg.sample_shape) != (len(active),):
            raise ValueError(f"M2 models {m2.cfg.sample_shape} values, M1 has {len(active)} active units")
        chosen = set(active)
        inactive = [u for u in range(d1) if u not in chosen]
        if len(inactive_fill) != len(inactive):
            raise ValueError(f"{len(inactive)} inactive units, {len(inactive_fill)} fill values")
        self.m1, self.m2, self.cfg, self.m1_run = m1, m2, m2.cfg, m1_run
        self.register_buffer("active", torch.as_tensor(list(active), dtype=torch.long))
        self.register_buffer("fill", torch.as_tensor(inactive_fill, dtype=torch.float32).reshape(1, -1))
        # [active units, inactive units] -> M1's unit order: position of unit u in that concatenation
        where = {u: i for i, u in enumerate([*active, *inactive])}
        self.register_buffer("order", torch.tensor([where[u] for u in range(d1)], dtype=torch.long))

    # ---- what the rest of the code asks of a model ----------------------------------------------
    cond_dim = property(lambda self: self.m2.cond_dim)
    conditions_posterior = property(lambda self: self.m2.conditions_posterior)
    has_classifier = property(lambda self: self.m2.has_classifier)
    has_decoder = property(lambda self: self.m2.has_decoder)
    sequence = property(lambda self: self.m1.sequence)  # the graphs take what M1 takes: sensor windows too
    any_length = property(lambda self: self.m1.any_length)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """M2's raw input: M1's posterior mean of x over its active units."""
        mu1, _ = self.m1.posterior(self.m1.features(x))
        return mu1.index_select(1, self.active)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.m2.features(self.code(x))

    def target(self, x: torch.Tensor) -> torch.Tensor:
        return self.m2.target(self.code(x))

    def classify_logits(self, h: torch.Tensor) -> torch.Tensor:
        return self.m2.classify_logits(h)

    def posterior(self, h: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.m2.posterior(h, y)

    def decode(self, z: torch.Tensor, y_onehot: torch.Tensor | None, length: int | None = None) -> torch.Tensor:
        return self.m2.decode(z, y_onehot, length)

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.m2.nll(params, target)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.classify_logits(self.features(x)), dim=-1)

    def m1_code(self, values: torch.Tensor) -> torch.Tensor:
        """M2's output (M1's active units) -> a full M1 code, the inactive units at their training mean."""
        full = torch.cat([values, self.fill.expand(values.shape[0], -1)], dim=1)
        return full.index_select(1, self.order)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None, length: int | None = None) -> torch.Tensor:
        """Raw samples from M2's codes and classes: M2 draws the M1 code, M1's decoder the sample."""
        return self.m1.generate(self.m1_code(self.m2.generate(z, y)), None)

    def describe(self) -> dict:
        """The manifest's `composition`: how the graphs chain the two models."""
        return {
            "kind": "m1+m2", "m1_run": self.m1_run, "m1_latent_dim": self.m1.cfg.latent_dim,
            "m1_hidden": self.m1.cfg.hidden, "m1_arch": self.m1.cfg.arch, "active_units": self.active.tolist(),
            "what": "classifier/anomaly: M1's posterior mean of x over its active units is M2's input; "
                    "decoder: M2 decodes (z, y) to an M1 code (inactive units at their training-row mean), "
                    "M1's decoder draws the sample. latent_dim is M2's z.",
        }
