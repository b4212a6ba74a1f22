"""Trunks and decoders: the only parts that differ between the dense, conv and LSTM variants.

A trunk maps a scaled sample `[N, *sample_shape]` to features `[N, hidden]`. A decoder maps a code
`[N, code_dim]` (z, plus the class when the model is conditional) to the likelihood's parameters in
scaled units `[N, *sample_shape]`; `length` lets the LSTM decoder emit another window length.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ARCHS = ("dense", "conv", "lstm")


class DenseTrunk(nn.Module):
    def __init__(self, sample_shape: tuple[int, ...], hidden: int):
        super().__init__()
        d = math.prod(sample_shape)
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(d, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, hidden), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DenseDecoder(nn.Module):
    def __init__(self, sample_shape: tuple[int, ...], hidden: int, code_dim: int):
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        self.net = nn.Sequential(
            nn.Linear(code_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * hidden),
            nn.ReLU(),
            nn.Linear(2 * hidden, math.prod(sample_shape)),
        )

    def forward(self, code: torch.Tensor, length: int | None = None) -> torch.Tensor:
        return self.net(code).reshape(-1, *self.sample_shape)


# Channels of the two conv layers for new runs: (16, 32) costs a third of (32, 64) per epoch on CPU
# for MNIST. Checkpoints written before the width was configurable hold (32, 64): see ModelConfig.
CONV_CHANNELS = (16, 32)


class ConvTrunk(nn.Module):
    """Two stride-2 convolutions (H and W must be multiples of 4), then a dense layer."""

    def __init__(self, sample_shape: tuple[int, ...], hidden: int, channels: tuple[int, int] = CONV_CHANNELS):
        super().__init__()
        h, w = sample_shape[-2:]
        if h % 4 or w % 4:
            raise ValueError(f"conv needs image sides divisible by 4, got {h}x{w}")
        c1, c2 = channels
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * (h // 4) * (w // 4), hidden),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(1))


class ConvDecoder(nn.Module):
    """The trunk mirrored: dense layers to a (c2, H/4, W/4) grid, then two stride-2 transposed convolutions."""

    def __init__(
        self, sample_shape: tuple[int, ...], hidden: int, code_dim: int, channels: tuple[int, int] = CONV_CHANNELS
    ):
        super().__init__()
        h, w = sample_shape[-2:]
        c1, c2 = channels
        self.grid = (c2, h // 4, w // 4)
        self.fc = nn.Sequential(
            nn.Linear(code_dim, hidden), nn.ReLU(), nn.Linear(hidden, math.prod(self.grid)), nn.ReLU()
        )
        self.deconv = nn.Sequential(nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c1, 1, 4, 2, 1))

    def forward(self, code: torch.Tensor, length: int | None = None) -> torch.Tensor:
        return self.deconv(self.fc(code).reshape(-1, *self.grid)).squeeze(1)


class LSTMTrunk(nn.Module):
    """A two-layer LSTM over the window; the last step's hidden state summarises it (any length works)."""

    def __init__(self, sample_shape: tuple[int, ...], hidden: int):
        super().__init__()
        self.lstm = nn.LSTM(sample_shape[-1], hidden, num_layers=2, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq, _ = self.lstm(x)
        return self.out(seq[:, -1])


class LSTMDecoder(nn.Module):
    """The code, repeated at every step, drives an LSTM whose outputs are the window's samples."""

    def __init__(self, sample_shape: tuple[int, ...], hidden: int, code_dim: int):
        super().__init__()
        self.window, self.channels = sample_shape
        self.fc = nn.Sequential(nn.Linear(code_dim, hidden), nn.ReLU())
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, self.channels)

    def forward(self, code: torch.Tensor, length: int | None = None) -> torch.Tensor:
        steps = self.window if length is None else length
        h = self.fc(code).unsqueeze(1).expand(-1, steps, -1)
        seq, _ = self.lstm(h)
        return self.out(seq)


def make_trunk(arch: str, sample_shape: tuple[int, ...], hidden: int, channels=CONV_CHANNELS) -> nn.Module:
    if arch == "conv":
        return ConvTrunk(sample_shape, hidden, tuple(channels))
    return {"dense": DenseTrunk, "lstm": LSTMTrunk}[arch](sample_shape, hidden)


def make_decoder(arch: str, sample_shape: tuple[int, ...], hidden: int, code_dim: int, channels=CONV_CHANNELS):
    if arch == "conv":
        return ConvDecoder(sample_shape, hidden, code_dim, tuple(channels))
    return {"dense": DenseDecoder, "lstm": LSTMDecoder}[arch](sample_shape, hidden, code_dim)
