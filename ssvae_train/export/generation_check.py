"""Does a bundle's decoder draw the class it is asked for? Checked the way a user would, on the bundle alone.

For every class, `n` codes z ~ N(0, I) go through `decoder.onnx` with that class, and the bundle's own
`classifier.onnx` labels the results: the agreement is the fraction labelled as asked. For sensor
windows the generated windows are also compared with real windows of the same class, per channel:
how much each channel moves over a window (its standard deviation over time, averaged over windows),
and where the power of its spectrum lies (the mean frequency of the power spectrum, after removing
each window's mean). Only onnxruntime runs here (through `ssvae_edge.Bundle`), so the figures describe
exactly what ships.
"""

from __future__ import annotations

import numpy as np

from ssvae_edge import Bundle


def generated(bundle: Bundle, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` samples per class (z ~ N(0, I), one seed for all): samples [K * n, *shape] and classes [K * n]."""
    k = len(bundle.classes)
    xs = [bundle.generate(c, n, seed=seed + c) for c in range(k)]
    return np.concatenate(xs), np.repeat(np.arange(k), n)


def movement(x: np.ndarray) -> np.ndarray:
    """Per channel: the standard deviation over time of each window, averaged over windows. [C]"""
    return x.std(axis=1).mean(axis=0)


def mean_frequency(x: np.ndarray, rate_hz: float) -> np.ndarray:
    """Per channel: the power-weighted mean frequency (Hz) of the windows' spectra, means removed. [C]"""
    centred = x - x.mean(axis=1, keepdims=True)
    power = np.abs(np.fft.rfft(centred, axis=1)) ** 2  # [N, F, C]
    freqs = np.fft.rfftfreq(x.shape[1], d=1.0 / rate_hz)[None, :, None]
    return ((power * freqs).sum(1) / np.maximum(power.sum(1), 1e-12)).mean(0)


def in_bundle_frame(bundle: Bundle, x_real: np.ndarray | None) -> np.ndarray | None:
    """Real windows in the frame the bundle's decoder draws in (manifest `frame`): as worn unless its graphs turn
    their windows, so that generated and real windows are compared alike."""
    frame = bundle.manifest.frame
    if frame is None or x_real is None:
        return x_real
    import torch

    from ssvae_train.models.frame import canonical_turn, frame_triples

    triples = frame_triples(frame.name, list(bundle.channels or []))
    return canonical_turn(torch.from_numpy(np.asarray(x_real, np.float32)), triples).numpy()


def check_generation(
    bundle: Bundle, n: int, x_real: np.ndarray | None = None, y_real: np.ndarray | None = None, seed: int = 0
) -> dict:
    """Agreement per class and overall; for sensors also movement and mean frequency, generated vs real (the real
    windows in the decoder's frame)."""
    x, y = generated(bundle, n, seed)
    x_real = in_bundle_frame(bundle, x_real)
    pred = bundle.classify(x).argmax(1)
    classes = list(bundle.classes)
    out: dict = {
        "n_per_class": n,
        "seed": seed,
        "agreement": float(np.mean(pred == y)),
        "per_class": {},
        "confusion": [[int(np.sum((y == a) & (pred == b))) for b in range(len(classes))] for a in range(len(classes))],
    }
    sensor = x.ndim == 3 and bundle.channels is not None
    for c, name in enumerate(classes):
        row: dict = {"agreement": float(np.mean(pred[y == c] == c))}
        if sensor and x_real is not None and y_real is not None and np.any(y_real == c):
            real = x_real[y_real == c]
            g_move, r_move = movement(x[y == c]), movement(real)
            rate = bundle.sample_rate_hz or 1.0
            row.update({
                "movement_generated": g_move.round(5).tolist(),
                "movement_real": r_move.round(5).tolist(),
                "movement_ratio": (g_move / np.maximum(r_move, 1e-12)).round(4).tolist(),
                "mean_frequency_generated_hz": mean_frequency(x[y == c], rate).round(4).tolist(),
                "mean_frequency_real_hz": mean_frequency(real, rate).round(4).tolist(),
            })
        out["per_class"][name] = row
    if sensor:
        out["channels"] = list(bundle.channels)
    return out


def draw_sensor_comparison(bundle: Bundle, x_real: np.ndarray, y_real: np.ndarray, out, seed: int = 0) -> None:
    """PNG: per activity (rows), one real and one generated window, each as its 3-axis sensors (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssvae_train.data.triples import xyz_triples
    from ssvae_train.files import write_atomic

    channels = list(bundle.channels or [])
    groups = xyz_triples(channels) or [tuple(range(len(channels)))]
    x_real = in_bundle_frame(bundle, x_real)
    classes = list(bundle.classes)
    rng = np.random.default_rng(seed)
    t = np.arange(x_real.shape[1]) / (bundle.sample_rate_hz or 1.0)
    cols = [("real", g) for g in groups] + [("generated", g) for g in groups]
    fig, axes = plt.subplots(len(classes), len(cols), figsize=(2.6 * len(cols), 1.7 * len(classes)), sharex=True,
                             squeeze=False)
    for c, name in enumerate(classes):
        real = x_real[rng.choice(np.flatnonzero(y_real == c))] if np.any(y_real == c) else None
        gen = bundle.generate(c, 1, seed=seed + c)[0]
        for j, (kind, g) in enumerate(cols):
            ax = axes[c, j]
            w = real if kind == "real" else gen
            if w is not None:
                for i in g:
                    ax.plot(t, w[:, i], lw=0.8, label=channels[i] if channels else str(i))
            ax.tick_params(labelsize=6)
            if c == 0:
                sensor = channels[g[0]].rsplit("_", 1)[0] if channels else "channels"
                ax.set_title(f"{kind}: {sensor}", fontsize=7)
                ax.legend(fontsize=5, loc="upper right")
            if j == 0:
                ax.set_ylabel(name, fontsize=7)
            if c == len(classes) - 1:
                ax.set_xlabel("s", fontsize=6)
    fig.suptitle(f"{bundle.path.name}: a real test window and a generated one (z ~ N(0, I)) per activity; "
                 f"units {bundle.manifest.units}", fontsize=8)
    fig.tight_layout()
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def draw_image_grid(bundle: Bundle, out, per_class: int = 10, seed: int = 0) -> None:
    """PNG: per class (rows), `per_class` images drawn by the bundle's decoder (z ~ N(0, I), the same codes
    `check_generation` draws first), white gaps between tiles; a tile the bundle's own classifier reads as
    another class is framed in red with that class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssvae_train.files import write_atomic

    x, y = generated(bundle, per_class, seed)
    pred = bundle.classify(x).argmax(1)
    classes = list(bundle.classes)
    fig, axes = plt.subplots(len(classes), per_class, figsize=(0.75 * per_class, 0.8 * len(classes)), squeeze=False,
                             gridspec_kw={"wspace": 0.08, "hspace": 0.08})
    top = float(np.max(x)) or 1.0
    for i, (img, want, got) in enumerate(zip(x, y, pred, strict=True)):
        ax = axes[want, i % per_class]
        ax.imshow(img, cmap="gray_r", vmin=0.0, vmax=top)
        ax.set_xticks([])
        ax.set_yticks([])
        wrong = got != want
        for side in ax.spines.values():
            side.set_color("red" if wrong else "0.8")
            side.set_linewidth(2.0 if wrong else 0.5)
        if wrong:
            ax.text(0.97, 0.03, classes[got], color="red", fontsize=6, ha="right", va="bottom", transform=ax.transAxes)
        if i % per_class == 0:
            ax.set_ylabel(classes[want], fontsize=8, rotation=0, labelpad=10, va="center")
    agree = float(np.mean(pred == y))
    fig.suptitle(f"{bundle.path.name}: decoder.onnx, z ~ N(0, I), one row per class asked; red = the bundle's "
                 f"classifier reads another class (agreement {agree:.2f})", fontsize=7)
    write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
