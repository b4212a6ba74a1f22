"""RESULTS.md's sections on label-aided anomaly detection (issue 16), from the cells of three experiments:

- `novelty-select`: the protocol that chose the exported default score on validation rows only (a second
  class held out; its training rows against validation rows), never on test;
- `mnist-novelty`, `har-novelty`: each class held out in turn, every score on the test set, the labelled
  model against the VAE of the same layers. Tables are per class, with inverted scores (AUROC < 0.5) marked.

Read by `report.py`; numpy and the standard library only.
"""

from __future__ import annotations

import numpy as np

from ssvae_train.experiments.stats import Comparison, Stat, fmt, md_table

SELECT = "novelty-select"
NOVELTY = {"mnist-novelty": ("MNIST", "held-out digit"), "har-novelty": ("UCI-HAR", "held-out activity")}
INVERTED = " ⚠"  # AUROC below 0.5: the score ranks the unseen class as *more* normal than the normal one


def _auc(s: Stat | None) -> str:
    return fmt(s, 3, n=False) + (INVERTED if s is not None and s.n and s.mean < 0.5 else "")


def selection(cells: list[dict]) -> dict[str, dict[str, Stat]]:
    """arch -> score -> validation ROC AUC over (outer class, seed) runs."""
    out: dict[str, dict[str, Stat]] = {}
    for c in cells:
        m = c.get("metrics", {})
        for score, v in m.get("val_anomaly", {}).items():
            if score != "default":
                out.setdefault(m["arch"], {}).setdefault(score, Stat()).values.append(v["roc_auc"])
    return out


def aggregate(cells: list[dict]) -> tuple[dict, dict[int, str], dict[str, str]]:
    """(arch, class, column) -> test ROC AUC and AP over seeds; class names; arch -> the exported default.

    Columns: `ssvae <score>` for every score of the labelled model, `vae` for the plain VAE.
    """
    agg: dict = {}
    names: dict[int, str] = {}
    default: dict[str, str] = {}
    for c in cells:
        m = c.get("metrics", {})
        if "anomaly" not in m or m.get("exclude_class") is None:
            continue
        k = int(m["exclude_class"])
        names[k] = str(m.get("anomaly_class") or k)
        for score, v in m["anomaly"].items():
            if score == "default":
                if m["model"] != "vae":
                    default[m["arch"]] = v
                continue
            col = "vae" if m["model"] == "vae" else f"ssvae {score}"
            g = agg.setdefault((m["arch"], k, col), {"auc": Stat(), "ap": Stat()})
            g["auc"].values.append(v["roc_auc"])
            g["ap"].values.append(v["average_precision"])
    return agg, names, default


def comparisons(dataset: str, agg: dict, names: dict[int, str], default: dict[str, str]) -> list[Comparison]:
    """Per arch and held-out class: the exported default score of the labelled model against the VAE."""
    out = []
    for arch, score in sorted(default.items()):
        for k in sorted(names):
            ours, vae = agg.get((arch, k, f"ssvae {score}")), agg.get((arch, k, "vae"))
            if ours and vae:
                out.append(Comparison(f"{dataset} {arch} {score} vs vae, held-out {names[k]}", ours["auc"], vae["auc"]))
    return out


def summary(dataset: str, agg: dict, names: dict[int, str], default: dict[str, str]) -> list[str]:
    """One line per arch: mean AUROC of the default and of the VAE, classes ahead, the worst class."""
    lines = []
    for arch, score in sorted(default.items()):
        ks = [k for k in sorted(names) if (arch, k, f"ssvae {score}") in agg and (arch, k, "vae") in agg]
        if not ks:
            continue
        ours = [agg[(arch, k, f"ssvae {score}")]["auc"].mean for k in ks]
        vae = [agg[(arch, k, "vae")]["auc"].mean for k in ks]
        seeds = sorted({agg[(arch, k, f"ssvae {score}")]["auc"].n for k in ks})
        worst = int(np.argmin(ours))
        ahead = sum(a > b for a, b in zip(ours, vae, strict=True))
        lines.append(
            f"{dataset} {arch} (`{score}`, seeds per class {'/'.join(map(str, seeds))}): mean AUROC "
            f"{np.mean(ours):.3f} vs vae {np.mean(vae):.3f}, ahead on {ahead} of "
            f"{len(ks)} classes by the mean; lowest {names[ks[worst]]} {ours[worst]:.3f}"
        )
    return lines


def selection_section(cells: list[dict], defaults: dict[str, str]) -> list[str]:
    """The validation-only choice of the default, per arch: every candidate's mean AUROC, the winner marked."""
    sel = selection(cells)
    if not sel:
        return ["Not measured yet.", ""]
    doc = [
        "For each class c, a model is trained with c **and** j = c+1 held out (`--val-anomaly-class`); its validation "
        "rows (normal, never trained on) are scored against j's training rows. No test row is scored. The candidate "
        "with the best mean ROC AUC over all c and seeds is the exported default for that kind of data "
        "(`ssvae_train/scoring/scores.py` `DEFAULT_SCORES`, "
        "chosen before any test number of the new scores was looked at).",
        "",
    ]
    for arch, scores in sorted(sel.items()):
        ranked = sorted(scores.items(), key=lambda kv: -kv[1].mean)
        best = ranked[0][0]
        chosen = defaults.get(arch)
        rows = [[f"**{s}**" if s == best else s, fmt(v, 3), f"{min(v.values):.3f}",
                 "best on validation" + (" = exported default" if s == chosen else "") if s == best
                 else ("exported default" if s == chosen else "")] for s, v in ranked]
        doc += [f"**{arch}** ({ranked[0][1].n} runs: classes x seeds):", "",
                *md_table(["score", "validation ROC AUC", "lowest run", ""], rows)]
    return doc


def novelty_section(cells: list[dict], exp: str) -> list[str]:
    """Per arch: the per-class table (default, write-up's pi, vae), then every score's mean over classes."""
    dataset, what = NOVELTY[exp]
    agg, names, default = aggregate(cells)
    if not agg:
        return ["Not measured yet.", ""]
    doc = []
    for arch, score in sorted(default.items()):
        ks = sorted(k for k in names if (arch, k, f"ssvae {score}") in agg)
        cols = [f"ssvae {score}", "ssvae pi", "vae"]
        rows = []
        for k in ks:
            ours, vae = agg.get((arch, k, cols[0])), agg.get((arch, k, "vae"))
            d = Comparison("", ours["auc"], vae["auc"]).describe(3) if ours and vae else "–"
            rows.append([f"{k} ({names[k]})" if names[k] != str(k) else str(k)]
                        + [_auc(agg.get((arch, k, c), {}).get("auc")) for c in cols] + [d]
                        + [fmt(agg.get((arch, k, c), {}).get("ap"), 3, n=False) for c in (cols[0], "vae")])
        means = [np.mean([agg[(arch, k, c)]["auc"].mean for k in ks if (arch, k, c) in agg] or [np.nan])
                 for c in cols]
        rows.append(["**mean**"] + [f"{v:.3f}" for v in means] + ["", "", ""])
        seeds = sorted({agg[(arch, k, cols[0])]["auc"].n for k in ks})
        inverted = [names[k] for k in ks for c in cols if (arch, k, c) in agg and agg[(arch, k, c)]["auc"].mean < 0.5]
        doc += [
            f"**{arch}**, test set, {what} = anomalous; seeds per class: {'/'.join(map(str, seeds))} (mean ± std). "
            f"`{score}` is the exported default (chosen on validation, § score selection), `pi` the write-up's "
            f"score, `vae` the plain VAE of the same layers (its negative ELBO). Difference: default minus vae, "
            "with the rule's outcome." + (f" Inverted (AUROC < 0.5,{INVERTED}): {', '.join(sorted(set(inverted)))}."
                                          if inverted else " No score is inverted on any class."),
            "",
            *md_table([what, *[f"AUROC {c}" for c in cols], "default − vae", f"AP ssvae {score}", "AP vae"], rows),
        ]
        every = sorted({c for (a, _, c) in agg if a == arch and c.startswith("ssvae ")})
        rows = []
        for c in every:
            vals = [agg[(arch, k, c)]["auc"].mean for k in ks if (arch, k, c) in agg]
            rows.append([c.removeprefix("ssvae ") + (" (default)" if c == cols[0] else ""), f"{np.mean(vals):.3f}",
                         f"{min(vals):.3f}", str(sum(v < 0.5 for v in vals))])
        rows.sort(key=lambda r: -float(r[1]))
        doc += [f"Every score of the labelled model ({arch}), mean test AUROC over the held-out classes — reported "
                "after the default was chosen, not used to choose it:", "",
                *md_table(["score", "mean AUROC", "lowest class", "classes inverted"], rows)]
    return doc
