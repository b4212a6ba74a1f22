"""RESULTS.md's figures (matplotlib, Agg): accuracy against labelled samples, and ROC AUC per held-out class."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssvae_train.experiments.aggregate import ANOMALY_COLUMNS, ROWS


def plot_budget(
    agg: dict,
    arch: str,
    budgets: tuple[str, ...],
    names: dict[str, str],
    title: str,
    path: Path,
    refs: dict[str, dict[float, float]] | None = None,
    band: tuple[float, float, str] | None = None,
) -> bool:
    """Accuracy vs number of labelled samples (log x), one line per model, error bars = std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    present = [b for b in budgets if any((arch, r, b) in agg for r in ROWS)]
    if not present:
        return False
    xs = {
        b: float(np.mean([v for r in ROWS if (arch, r, b) in agg for v in agg[(arch, r, b)]["n"].values]))
        for b in present
    }
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for r, marker in zip(ROWS, "osD", strict=True):
        pts = [(xs[b], agg[(arch, r, b)]["acc"]) for b in present if (arch, r, b) in agg]
        if pts:
            ax.errorbar(
                [p[0] for p in pts],
                [p[1].mean for p in pts],
                yerr=[p[1].std for p in pts],
                marker=marker,
                capsize=3,
                label=f"{r} (n={'/'.join(str(p[1].n) for p in pts)})",
            )
    for (label, points), marker in zip((refs or {}).items(), "x+*", strict=False):
        ax.plot(
            list(points),
            list(points.values()),
            linestyle="none",
            marker=marker,
            color="grey",
            markersize=8,
            label=label,
        )
    if band is not None:
        ax.axhspan(band[0], band[1], color="grey", alpha=0.25, label=band[2])
    ax.set_xscale("log")
    ticks = {xs[b]: f"{names.get(b, b)}\n({xs[b]:.0f})" for b in present}
    ticks.update({x: f"{x:.0f}" for points in (refs or {}).values() for x in points if x not in ticks})
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.minorticks_off()
    ax.set_xlabel("labelled training samples")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)
    return True


def plot_auroc(agg: dict, names: dict[int, str], title: str, path: Path,
               columns: tuple[str, ...] = ANOMALY_COLUMNS) -> bool:
    """Per held-out class, ROC AUC of each column (ssvae min, ssvae pi, vae by default) side by side, plus the mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not agg:
        return False
    classes = sorted(names)
    labels = [names[k] for k in classes] + ["mean"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(labels) + 2), 4), dpi=100)
    width = 0.8 / len(columns)
    for i, col in enumerate(columns):
        means = [agg[(k, col)]["auc"].mean if (k, col) in agg else np.nan for k in classes]
        stds = [agg[(k, col)]["auc"].std if (k, col) in agg else 0.0 for k in classes]
        measured = [m for m in means if not np.isnan(m)]
        means.append(float(np.mean(measured)) if measured else np.nan)
        stds.append(0.0)
        x = np.arange(len(labels)) + (i - (len(columns) - 1) / 2) * width
        ax.bar(x, means, width, yerr=stds if any(stds) else None, capsize=2, label=col)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(np.arange(len(labels)))
    ax.set_xticklabels(
        labels, rotation=30 if max(map(len, labels)) > 3 else 0, ha="right" if max(map(len, labels)) > 3 else "center"
    )
    ax.set_ylim(0, 1.15)
    ax.set_xlabel("held-out (anomalous) class")
    ax.set_ylabel("ROC AUC")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=4, loc="upper center")
    _save(fig, path)
    return True


def _save(fig, path: Path) -> None:
    """Write a figure (its folder made) and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
