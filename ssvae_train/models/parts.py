"""Trunks and decoders: the only parts that differ between the dense, conv and LSTM variants.

A trunk maps a scaled sample `[N, *sample_shape]` to features `[N, hidden]`. A decoder maps a code
`[N, code_dim]` (z, plus the class when the model is conditional) to the likelihood's parameters in
scaled units `[N, *sample_shape]`; `length` lets the LSTM decoder emit another window length.

Sensor windows (`[N, T, channels]`) have two families: `lstm`, the write-up's (an LSTM over every raw
sample, and an LSTM decoder driven by the code at every step), and `convlstm`, the one we ship
(DeepConvLSTM-style, Ordóñez & Roggen 2016: strided 1-D convolutions shorten the window eightfold
before one LSTM, and transposed convolutions mirror them in the decoder, so a window is drawn with its
oscillation rather than as one smooth curve). convlstm takes the trained window length only.
"""

from __future__ import annotations

import math

import torch
from torch import nn


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


class ConvTrunk(nn.Module):
    """Two stride-2 convolutions (H and W must be multiples of 4), then a dense layer."""

    def __init__(self, sample_shape: tuple[int, ...], hidden: int, channels: tuple[int, int]):
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
        self, sample_shape: tuple[int, ...], hidden: int, code_dim: int, channels: tuple[int, int]
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


SENSOR_KERNEL = 5
SENSOR_STRIDES = 3  # 2 ** 3 = 8: a 128-sample window reaches the LSTM as 16 steps


class ConvLSTMTrunk(nn.Module):
    """Three stride-2 1-D convolutions (the window shrinks 8x), one LSTM over the steps that are left, and
    h = a dense layer over [the LSTM's last state, the conv features of every step].

    The LSTM summarises the window for the classifier; the per-step features beside it keep when things
    happen (the phase and amplitude of a gait cycle), which the VAE's posterior needs to draw motion: with
    the LSTM's state alone, a trained model reconstructed body acceleration no better than its mean. The
    second part is sized for the trained window, so the trunk takes that window length only.

    `window_stats` adds each channel's mean and standard deviation over the window (scaled units) to the
    dense layer's input: the mean of the total acceleration is where gravity points, which is most of
    what tells sitting from standing, and the convolutions' ReLUs only approximate an average.
    """

    def __init__(
        self, sample_shape: tuple[int, ...], hidden: int, channels: tuple[int, int],
        window_stats: bool = False,
    ):
        super().__init__()
        c1, c2 = channels
        self.window_stats = window_stats
        self.window = sample_shape[0]
        widths = [sample_shape[-1], c1] + [c2] * (SENSOR_STRIDES - 1)
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.Conv1d(a, b, SENSOR_KERNEL, 2, SENSOR_KERNEL // 2), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.lstm = nn.LSTM(c2, hidden, batch_first=True)
        steps = sensor_steps(self.window)
        stats = 2 * sample_shape[-1] if window_stats else 0
        self.out = nn.Sequential(nn.Linear(hidden + c2 * steps + stats, hidden), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and x.shape[1] != self.window:
            raise ValueError(f"the convlstm trunk takes {self.window}-sample windows, not {x.shape[1]}")
        steps = self.conv(x.transpose(1, 2))  # [N, c2, ceil(T/8)]
        seq, _ = self.lstm(steps.transpose(1, 2))
        parts = [seq[:, -1], steps.flatten(1)]
        if self.window_stats:
            mean = x.mean(1)
            parts += [mean, (x - mean.unsqueeze(1)).pow(2).mean(1).add(1e-6).sqrt()]
        return self.out(torch.cat(parts, dim=1))


def sensor_steps(window: int) -> int:
    """Positions left after the stride-2 layers (each one rounds up): 16 for a 128-sample window."""
    for _ in range(SENSOR_STRIDES):
        window = math.ceil(window / 2)
    return window


class ConvLSTMDecoder(nn.Module):
    """The trunk mirrored: the code becomes T/8 steps of c2 features (a different vector at every step,
    not one repeated), then three stride-2 transposed convolutions draw the window at full rate.

    A class-conditional model (its last `cond_dim` code inputs are y, one-hot or probabilities) also has
    one output layer per class, mixed by y, and adds a learned window per class (a [K, T x C] table): an
    activity's posture (where gravity points) and the shape of its motion then come from y, so z need not
    carry them. With y at the input only, trained models encoded the activity in z too and ignored y, and
    windows drawn from N(0, I) took any activity whatever the class asked (about half were recognised;
    validation screens in RESULTS.md § har-sensor).

    It emits the trained window length only (`length` must equal it): its first layer is sized for it.
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        hidden: int,
        code_dim: int,
        channels: tuple[int, int],
        cond_dim: int = 0,
    ):
        super().__init__()
        self.cond_dim = cond_dim
        self.template = nn.Linear(cond_dim, math.prod(sample_shape), bias=False) if cond_dim else None
        self.window, out_channels = sample_shape
        c1, c2 = channels
        self.steps = sensor_steps(self.window)
        self.c2 = c2
        self.fc = nn.Sequential(nn.Linear(code_dim, hidden), nn.ReLU(), nn.Linear(hidden, c2 * self.steps), nn.ReLU())
        widths = [c2] * (SENSOR_STRIDES - 1) + [c1]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:], strict=True):
            layers += [nn.ConvTranspose1d(a, b, 4, 2, 1), nn.ReLU()]
        layers += [nn.ConvTranspose1d(widths[-1], c1, 4, 2, 1), nn.ReLU()]
        self.out_channels = out_channels
        layers += [nn.Conv1d(c1, out_channels * max(1, cond_dim), SENSOR_KERNEL, 1, SENSOR_KERNEL // 2)]
        self.deconv = nn.Sequential(*layers)

    def forward(self, code: torch.Tensor, length: int | None = None) -> torch.Tensor:
        if length is not None and length != self.window:
            raise ValueError(f"the convlstm decoder draws {self.window}-sample windows, not {length}")
        grid = self.fc(code).reshape(-1, self.c2, self.steps)
        out = self.deconv(grid)[:, :, : self.window]
        if self.cond_dim:  # one output layer per class, mixed by y (one-hot: that class's layer alone)
            y = code[:, -self.cond_dim :]
            out = torch.einsum("nk,nkct->nct", y, out.unflatten(1, (self.cond_dim, self.out_channels)))
        out = out.transpose(1, 2)
        if self.template is not None:
            out = out + self.template(code[:, -self.cond_dim :]).unflatten(1, (self.window, self.out_channels))
        return out


def make_trunk(
    arch: str, sample_shape: tuple[int, ...], hidden: int, channels: tuple[int, int], window_stats: bool = False
) -> nn.Module:
    if arch == "conv":
        return ConvTrunk(sample_shape, hidden, tuple(channels))
    if arch == "convlstm":
        return ConvLSTMTrunk(sample_shape, hidden, tuple(channels), window_stats)
    return {"dense": DenseTrunk, "lstm": LSTMTrunk}[arch](sample_shape, hidden)


def make_decoder(
    arch: str, sample_shape: tuple[int, ...], hidden: int, code_dim: int, channels: tuple[int, int],
    cond_dim: int = 0
):
    """`code_dim` inputs, of which the last `cond_dim` are the class (0 for the plain VAE)."""
    if arch == "conv":
        return ConvDecoder(sample_shape, hidden, code_dim, tuple(channels))
    if arch == "convlstm":
        return ConvLSTMDecoder(sample_shape, hidden, code_dim, tuple(channels), cond_dim)
    return {"dense": DenseDecoder, "lstm": LSTMDecoder}[arch](sample_shape, hidden, code_dim)
