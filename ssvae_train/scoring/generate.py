"""Class-conditional generation: one class in many styles, and one style carried across every class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ssvae_train.errors import UserError
from ssvae_train.files import write_atomic
from ssvae_train.models import SSVAE


@torch.no_grad()
def class_samples(model: SSVAE, cls: int, n: int, seed: int) -> np.ndarray:
    """n samples of class `cls`, z drawn from the prior: the style varies, the class does not."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.cfg.latent_dim, generator=g)
    return model.generate(z, torch.full((n,), cls, dtype=torch.long)).numpy()


@torch.no_grad()
def style_transfer(model: SSVAE, x: np.ndarray) -> np.ndarray:
    """For each real sample, its style (z = mu) decoded with every class: [n, K, *sample_shape]."""
    h = model.features(torch.from_numpy(x))
    mu, _ = model.posterior(h, torch.softmax(model.classify_logits(h), dim=-1))
    k = model.cfg.n_classes
    z = mu.repeat_interleave(k, 0)
    y = torch.arange(k).repeat(len(x))
    return model.generate(z, y).numpy().reshape(len(x), k, *x.shape[1:])


def draw_grid(
    model: SSVAE, classes: list[str], cls: int, x_style: np.ndarray, out: Path, n: int = 64, seed: int = 0,
    channels: list[str] | None = None,
) -> None:
    """Write a PNG: left, `n` samples of class `cls`; right, real samples re-drawn as every class.
    Sensor windows are drawn as signals of three of `channels` (the data's own names)."""
    if model.cond_dim == 0:
        raise UserError("this run has no class input (a plain VAE or a supervised model): nothing to condition on")
    if not 0 <= cls < len(classes):
        raise UserError(f"--class {cls}: the model knows classes 0..{len(classes) - 1}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = class_samples(model, cls, n, seed)
    transfer = style_transfer(model, x_style)
    if samples.ndim == 3 and not model.sequence:
        fig = _image_figure(plt, samples, transfer, x_style, classes, cls)
    else:
        fig = _signal_figure(plt, model, classes, seed, channels)
    write_atomic(Path(out), lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _image_figure(plt, samples, transfer, x_style, classes, cls):
    side = int(np.ceil(np.sqrt(len(samples))))
    h, w = samples.shape[1:]
    left = np.ones((side * h, side * w)) * samples.max()
    for i, s in enumerate(samples):
        r, c = divmod(i, side)
        left[r * h : (r + 1) * h, c * w : (c + 1) * w] = s
    rows = [np.concatenate([x_style[i], *transfer[i]], axis=1) for i in range(len(x_style))]
    right = np.concatenate(rows, axis=0)
    fig, axes = plt.subplots(
        1, 2, figsize=(14, 6), gridspec_kw={"width_ratios": [1, (len(classes) + 1) / len(x_style)]}
    )
    axes[0].imshow(left, cmap="gray_r")
    axes[0].set_title(f"class {classes[cls]}: {len(samples)} styles (z ~ N(0, I))")
    axes[1].imshow(right, cmap="gray_r")
    axes[1].set_title("style transfer: a real test image (left column), its z decoded as every class")
    for ax in axes:
        ax.axis("off")
    return fig


def plotted_channels(channels: list[str] | None, n_channels: int) -> tuple[list[int], str]:
    """Which channels a signal figure draws: UCI-HAR's total acceleration x/y/z (the most readable) when
    present, else the first three; and how the title names them."""
    names = list(channels) if channels else [f"channel {i}" for i in range(n_channels)]
    if channels is None and n_channels == 9:  # a UCI-HAR run from before channel names were passed
        names = ["total_acc_x" if i == 6 else "total_acc_y" if i == 7 else "total_acc_z" if i == 8 else str(i)
                 for i in range(9)]
    wanted = ["total_acc_x", "total_acc_y", "total_acc_z"]
    idx = [names.index(c) for c in wanted] if all(c in names for c in wanted) else list(range(min(3, n_channels)))
    return idx, ", ".join(names[i] for i in idx)


def _signal_figure(plt, model, classes, seed, channels: list[str] | None = None, per_class: int = 3):
    k = len(classes)
    idx, title = plotted_channels(channels, model.cfg.sample_shape[-1])
    fig, axes = plt.subplots(k, per_class, figsize=(4 * per_class, 1.8 * k), sharex=True)
    for c in range(k):
        xs = class_samples(model, c, per_class, seed + c)
        for j in range(per_class):
            ax = axes[c, j]
            ax.plot(xs[j][:, idx], lw=0.8)
            if j == 0:
                ax.set_ylabel(classes[c], fontsize=7)
    axes[0, 0].set_title(f"decoded windows per class: {title}", fontsize=8, loc="left")
    return fig
