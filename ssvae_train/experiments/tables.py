"""The markdown tables of RESULTS.md: accuracy per label budget with the gaps, the references quoted beside
our numbers, anomaly ROC AUC per held-out class, the mnist-best and early-stopping tables, the commands of
every cell, and the numbers behind each verdict."""

from __future__ import annotations

import numpy as np

from ssvae_train.experiments.aggregate import (
    ANOMALY_COLUMNS,
    MNIST_ARCHS,
    MNIST_BUDGETS,
    ROWS,
    SEMI,
    label_comparisons,
    row_of,
)
from ssvae_train.experiments.stats import Comparison, Stat, fmt, md_table

# References quoted beside our numbers (accuracy in %, or error where said).
KINGMA_M2_ERROR = {"100": (11.97, 1.71), "1000": (3.60, None)}  # error %, its std  # Kingma et al. 2014, Table 1
KINGMA_M1M2_ERROR_100 = 3.33
PYRO_M2_ACC = {"100": 93.19, "600": 94.37, "1000": 94.87}  # pyro's SS-VAE example
CLAIMED_GAPS = {  # the write-up: semi-supervised minus supervised accuracy, points
    ("dense", "100"): "+6.3",
    ("conv", "100"): "+13.9",
    ("dense", "1000"): "+10.1",
    ("conv", "1000"): "+2.7",
    ("dense", "all"): "> 0 (slightly ahead)",
    ("conv", "all"): "> 0 (slightly ahead)",
}
HAR_LSTM_REFERENCE = (91.0, 92.0)  # accuracy %, public LSTM baselines on the raw signals, full data


def labels_tables(
    agg: dict, archs: tuple[str, ...], budgets: tuple[str, ...], names: dict[str, str], semi: tuple[str, ...] = SEMI
) -> list[str]:
    rows = [(a, r) for a in archs for r in ROWS if any((a, r, b) in agg for b in budgets)]
    cols = ["arch", "model"] + [names.get(b, b) for b in budgets]
    out = ["Test accuracy (%), mean ± std over seeds (n = seeds):", ""]
    out += md_table(cols, [[a, r] + [fmt(agg.get((a, r, b), {}).get("acc")) for b in budgets] for a, r in rows])
    out += ["Test log loss, mean ± std over seeds:", ""]
    out += md_table(cols, [[a, r] + [fmt(agg.get((a, r, b), {}).get("loss"), 3) for b in budgets] for a, r in rows])
    out += [
        "Gap, semi-supervised minus supervised accuracy (points), with the pooled std s_p and the rule's outcome:",
        "",
    ]
    gaps = label_comparisons(agg, archs, budgets, semi)
    gap_rows = [
        [a, f"{r} − supervised"] + [gaps[(a, r, b)].describe() if (a, r, b) in gaps else "–" for b in budgets]
        for a in archs
        for r in semi
    ]
    out += md_table(cols, gap_rows)
    return out


def mnist_references(agg: dict) -> list[str]:
    def acc(arch: str, row: str, b: str) -> str:
        return fmt(agg.get((arch, row, b), {}).get("acc"), n=False)

    out = ["References (test accuracy %; Kingma et al. report error, shown as 100 − error):", ""]
    (e100, sd100), (e1000, _) = KINGMA_M2_ERROR["100"], KINGMA_M2_ERROR["1000"]
    rows = [
        [
            "Kingma et al. 2014, Table 1",
            "M2",
            f"{100 - e100:.2f} (error {e100} ± {sd100})",
            "–",
            f"{100 - e1000:.2f} (error {e1000:.2f})",
            "–",
        ],
        [
            "Kingma et al. 2014, Table 1",
            "M1+M2",
            f"{100 - KINGMA_M1M2_ERROR_100:.2f} (error {KINGMA_M1M2_ERROR_100})",
            "–",
            "–",
            "–",
        ],
        [
            "pyro SS-VAE example",
            "M2",
            f"{PYRO_M2_ACC['100']:.2f}",
            f"{PYRO_M2_ACC['600']:.2f}",
            f"{PYRO_M2_ACC['1000']:.2f}",
            "–",
        ],
    ]
    rows += [
        ["ours", f"{a} {r}", acc(a, r, "100"), "–", acc(a, r, "1000"), acc(a, r, "all")]
        for a in MNIST_ARCHS
        for r in SEMI
        if any((a, r, b) in agg for b in MNIST_BUDGETS)
    ]
    out += md_table(["source", "model", "100 labels", "600", "1000", "all"], rows)
    out += [
        "The write-up's claimed gaps (semi-supervised minus supervised, points) beside ours (ssvae-soft-label is the "
        "write-up's objective):",
        "",
    ]
    gaps = label_comparisons(agg, MNIST_ARCHS, MNIST_BUDGETS)
    rows = []
    for a in MNIST_ARCHS:
        rows.append([f"write-up, {a}"] + [CLAIMED_GAPS[(a, b)] for b in MNIST_BUDGETS])
        for r in SEMI:
            rows.append(
                [f"ours, {a} {r}"] + [f"{gaps[(a, r, b)].d:+.2f}" if (a, r, b) in gaps else "–" for b in MNIST_BUDGETS]
            )
    out += md_table(["gap", "100 labels", "1000", "all"], rows)
    return out


def har_references(agg: dict) -> list[str]:
    lo, hi = HAR_LSTM_REFERENCE
    rows = [["public LSTM baselines on the raw signals (full UCI-HAR)", f"about {lo:.0f}–{hi:.0f} %"]]
    rows += [[f"ours, lstm {r}", fmt(agg.get(("lstm", r, "all"), {}).get("acc"))] for r in ROWS]
    return ["References (accuracy with all labels):", "", *md_table(["source", "100 % labels"], rows)]


def anomaly_tables(agg: dict, names: dict[int, str], n_classes: int, what: str) -> list[str]:
    classes = sorted(names) if names else []
    digits = 3
    header = [what] + [f"AUROC {c}" for c in ANOMALY_COLUMNS] + [f"AP {c}" for c in ANOMALY_COLUMNS]
    rows = []
    for k in classes:
        rows.append(
            [f"{k} ({names[k]})" if names[k] != str(k) else str(k)]
            + [fmt(agg.get((k, c), {}).get(m), digits, n=False) for m in ("auc", "ap") for c in ANOMALY_COLUMNS]
        )
    mean_row = ["**mean**"]
    for m in ("auc", "ap"):
        for c in ANOMALY_COLUMNS:
            vals = [agg[(k, c)][m].mean for k in classes if (k, c) in agg]
            mean_row.append(
                f"{np.mean(vals):.{digits}f}" + (f" ({len(vals)} of {n_classes})" if len(vals) < n_classes else "")
                if vals
                else "–"
            )
    rows.append(mean_row)
    seeds = sorted({s.n for g in agg.values() for s in g.values()})
    return [
        f"ROC AUC and average precision of the anomaly score on the test set (held-out class = anomalous); "
        f"seeds per cell: {', '.join(map(str, seeds)) or '–'} (mean ± std where more than one):",
        "",
        *md_table(header, rows),
    ]


def best_table(candidates: dict[tuple[str, str, str, str], dict[str, Stat]]) -> list[str]:
    """Every semi-supervised MNIST configuration with 100 labels; the best is chosen on validation accuracy."""
    if not candidates:
        return []

    def score(key: tuple) -> float:
        g = candidates[key]
        return g["val"].mean if g["val"].n else g["acc"].mean

    best = max(candidates, key=score)
    rows = [
        [
            f"{'**' if k == best else ''}{k[0]}: {k[1]} {k[2]}, {k[3]} epochs{'**' if k == best else ''}",
            fmt(candidates[k]["err"]),
            fmt(candidates[k]["val"], n=False),
        ]
        for k in sorted(candidates, key=score, reverse=True)
    ]
    out = [
        "Semi-supervised MNIST models with 100 labels, test error (%) = 100 − accuracy; the best (bold) is "
        "picked on the validation accuracy, not the test set:",
        "",
    ]
    out += md_table(["experiment: model", "test error %", "validation accuracy %"], rows)
    pyro_err = 100 - PYRO_M2_ACC["100"]
    ref = [
        ["Kingma et al. 2014, Table 1: M2", "{} ± {}".format(*KINGMA_M2_ERROR["100"])],
        ["Kingma et al. 2014, Table 1: M1+M2", f"{KINGMA_M1M2_ERROR_100}"],
        ["pyro SS-VAE example: M2", f"{pyro_err:.2f}"],
        [f"ours (best): {best[1]} {best[2]}", fmt(candidates[best]["err"])],
    ]
    out += ["References (test error %, 100 labels):", "", *md_table(["source", "error %"], ref)]
    return out


def earlystop_tables(cells: list[dict]) -> list[str]:
    """mnist-earlystop: each model's test accuracy at its last epoch and at its best validation epoch."""
    runs: dict[str, dict[str, Stat]] = {}
    per_seed: list[list[str]] = []
    for c in sorted(cells, key=lambda c: c.get("cell", "")):
        m, b = c.get("metrics", {}), c.get("metrics_best", {})
        if "test_accuracy" not in m or "test_accuracy" not in b:
            continue
        row = row_of(m)
        g = runs.setdefault(row, {"last": Stat(), "best": Stat()})
        g["last"].values.append(100 * m["test_accuracy"])
        g["best"].values.append(100 * b["test_accuracy"])
        per_seed.append([row, str(m["seed"]), f"{100 * m['test_accuracy']:.2f}", f"{100 * b['test_accuracy']:.2f}",
                         str(b.get("weights_epoch", "?"))])
    if not runs:
        return []
    out = ["Test accuracy (%) with the last epoch's weights and with the best validation epoch's (early stopping; "
           "the epoch is picked on the validation split, never the test set):", ""]
    out += md_table(["model", "last epoch", "best validation epoch"],
                    [[r, fmt(g["last"]), fmt(g["best"])] for r, g in sorted(runs.items())])
    if "ssvae-soft-label" in runs and "supervised" in runs:
        out += ["Gap, ssvae-soft-label minus supervised (points), with the rule above:", ""]
        out += md_table(["weights", "gap"], [
            [w, Comparison("", runs["ssvae-soft-label"][w], runs["supervised"][w]).describe()] for w in ("last", "best")
        ])
    out += ["Per seed:", "", *md_table(["model", "seed", "last %", "best %", "best epoch"], per_seed)]
    return out


def commands_block(cells: list[dict]) -> list[str]:
    if not cells:
        return []
    rows = []
    for c in sorted(cells, key=lambda c: c.get("cell", "")):
        m = c.get("machine", {})
        spe = c.get("seconds_per_epoch")
        rows.append(
            [
                c.get("cell", "?"),
                f"`{c.get('command', '')}`",
                f"`{c['evaluate_command']}`" if c.get("evaluate_command") else "–",
                f"{c.get('wall_seconds', float('nan')):.0f}",
                f"{spe:.1f}" if spe is not None else "–",
                f"{m.get('platform', '?')}, {m.get('cpus', '?')} cpus",
                c.get("finished", "?"),
            ]
        )
    return [
        "<details><summary>Commands, wall time and machine for each cell</summary>",
        "",
        *md_table(["cell", "command", "evaluate command", "wall s", "s/epoch", "machine", "finished"], rows),
        "</details>",
        "",
    ]


def evidence(comps: list[Comparison], digits: int = 2) -> list[str]:
    if not comps:
        return []
    return [
        "<details><summary>the numbers behind it</summary>",
        "",
        *md_table(
            ["comparison", "ours", "equivalent", "difference"],
            [[c.what, fmt(c.ours, digits), fmt(c.other, digits), c.describe(digits)] for c in comps],
        ),
        "</details>",
        "",
    ]
