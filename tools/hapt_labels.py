#!/usr/bin/env python3
"""Few labels on HAPT: the semi-supervised model against its supervised equivalent (same trunk, same labels,
same steps), each run exported and streamed over the test people's whole recordings at its defaults.

    python tools/hapt_recordings.py --data-dir "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip" \\
        --out runs/hapt-csv/test --people test
    python tools/hapt_labels.py --runs runs/hapt --recordings runs/hapt-csv/test

Runs are `ss-l<fraction>-s<seed>` and `sup-l<fraction>-s<seed>` from `tools/hapt_runs.sh` (with `--recipe norot`:
`ss-norot-l…`, `sup-norot-l…`, the shipped recipe: `--name hapt-labels-norot`; `--recipe cons-norot --sup-recipe
norot` sets the runs with the consistency term against the same supervised runs); each is exported
(fp32, last weights, or with `--weights best` its best validation epoch's) to runs/hapt-bundles/<run> unless
already there (a bundle there of other weights is refused: give each its own --bundles). Writes
benchmarks/hapt-labels.json and .md: window accuracy and macro F1 per run, then mean ± std (n = the seeds
found) per budget and model, and the verdict rule: a win needs the gap of the means to exceed both models' seed
spreads (std).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from sklearn.metrics import accuracy_score, f1_score

from ssvae_edge import Bundle
from ssvae_edge.labelled import score_recordings
from ssvae_train.errors import UserError
from ssvae_train.experiments.hapt_labels_section import summary_table, verdicts
from ssvae_train.export.config import POSTURE_FEATURES, ExportConfig
from ssvae_train.export.exporter import export_run
from ssvae_train.names import WEIGHTS
from ssvae_train.training.checkpoint import load_checkpoint

NAME = re.compile(r"^(ss|sup)(?:-([a-z-]+))?-l([0-9.]+)-s(\d+)$")  # model, recipe tag (optional), budget, seed


def main(
    runs: Annotated[Path, typer.Option(help="Folder holding the ss-l*/sup-l* runs.")] = Path("runs/hapt"),
    recordings: Annotated[Path, typer.Option(help="Labelled test recordings (CSV).")] = Path("runs/hapt-csv/test"),
    bundles: Annotated[Path, typer.Option(help="Where the runs are exported.")] = Path("runs/hapt-bundles"),
    recipe: Annotated[str, typer.Option(
        help="Recipe tag of the runs compared: '' for ss-l*/sup-l* (the first round, rotations on), 'norot' for "
             "ss-norot-l*/sup-norot-l* (the shipped recipe).")] = "",
    sup_recipe: Annotated[str | None, typer.Option(
        help="Recipe tag of the supervised runs, when it differs from --recipe (the semi-supervised runs' own "
             "terms, e.g. the consistency term, do not change the supervised equivalent).")] = None,
    name: Annotated[str, typer.Option(help="Output: benchmarks/<name>.json and .md.")] = "hapt-labels",
    posture_features: Annotated[str, typer.Option(
        help=f"The export's --posture-features ({' | '.join(POSTURE_FEATURES)}) for runs not yet exported: "
             "long-axis+sway for the any-angle recipe (--recipe turn).")] = "auto",
    weights: Annotated[str, typer.Option(
        help=f"The export's --weights ({' | '.join(WEIGHTS)}) for runs not yet exported: best = each run's best "
             "validation epoch (early stopping, both models alike).")] = "last",
    seeds: Annotated[str | None, typer.Option(
        help="Only these seeds, comma-separated (e.g. 0,1,2: the issue's three); default every seed found.")] = None,
) -> None:
    for hint, value in (("--posture-features", {"posture_features": posture_features}),
                        ("--weights", {"weights": weights})):
        try:  # a bad value stops here, not at the first export
            ExportConfig(**value).validate()
        except UserError as e:
            raise typer.BadParameter(str(e), param_hint=hint) from None
    try:
        wanted_seeds = None if seeds is None else {int(x) for x in seeds.split(",") if x.strip()}
    except ValueError:
        raise typer.BadParameter(f"{seeds!r}: expected seeds such as 0,1,2", param_hint="--seeds") from None
    files = sorted(recordings.glob("*.csv"))
    if not files:
        raise typer.BadParameter(f"no .csv in {recordings}", param_hint="--recordings")
    chosen = []
    for run in sorted(runs.iterdir()):
        m = NAME.match(run.name)
        wanted = recipe if m is None or m[1] == "ss" or sup_recipe is None else sup_recipe
        if not m or (m[2] or "") != wanted or not (run / "checkpoint.pt").is_file():
            continue
        if wanted_seeds is None or int(m[4]) in wanted_seeds:
            chosen.append((run, m))
    if not chosen:
        raise typer.BadParameter(f"no run of recipe {recipe!r} (and those seeds) in {runs}: nothing written",
                                 param_hint="--runs")
    for run, _ in chosen:  # before any export: a folder of other weights would mix two protocols in one table
        manifest = bundles / run.name / "manifest.json"
        held = (json.loads(manifest.read_text()).get("producer", {}).get("weights") or "last") \
            if manifest.is_file() else weights
        if held != weights:
            raise typer.BadParameter(f"{manifest.parent} holds {held} weights, not {weights}: give --bundles a "
                                     "folder of its own", param_hint="--bundles")
    rows = []
    for run, m in chosen:
        ckpt = load_checkpoint(run)
        if len(ckpt["history"]) < ckpt["fit_config"]["epochs"]:  # still training (or killed): not a result yet
            typer.echo(f"{run.name}: {len(ckpt['history'])}/{ckpt['fit_config']['epochs']} epochs, left out", err=True)
            continue
        out = bundles / run.name
        if not (out / "manifest.json").is_file():
            typer.echo(f"exporting {run} -> {out}", err=True)
            export_run(run, out, ExportConfig(posture_features=posture_features, weights=weights),
                       say=lambda line: typer.echo(line, err=True) if line.startswith("note:") else None)
        b = Bundle.load(out, providers="cpu", threads=1)
        s = score_recordings(b, files)
        rows.append({"run": run.name, "model": m[1], "labels": float(m[3]), "seed": int(m[4]),
                     "n_labelled": b.manifest.producer.n_labelled,
                     "weights": b.manifest.producer.weights, "weights_epoch": b.manifest.producer.weights_epoch,
                     "smoothing_windows": b.manifest.smoothing_windows,
                     "sequence_filter": b.manifest.sequence is not None, "mounting": b.manifest.mounting is not None,
                     "windows": int(len(s.truth)),
                     "accuracy": float(accuracy_score(s.truth, s.predicted)),
                     "macro_f1": float(f1_score(s.truth, s.predicted, average="macro"))})
        typer.echo(f"{run.name}: {rows[-1]['accuracy']:.4f}", err=True)
    if not rows:
        typer.echo("no finished run to measure: nothing written", err=True)
        raise typer.Exit(2)
    table = {}
    for r in rows:
        table.setdefault((r["labels"], r["model"]), []).append(r["accuracy"])
    summary = [{"labels": lab, "model": mod, "n": len(v), "mean": float(np.mean(v)), "std": float(np.std(v, ddof=1))
                if len(v) > 1 else None, "accuracies": v} for (lab, mod), v in sorted(table.items())]
    Path("benchmarks").mkdir(exist_ok=True)
    Path(f"benchmarks/{name}.json").write_text(json.dumps({"runs": rows, "summary": summary}, indent=2) + "\n")
    lines = ["# HAPT with few labels: semi-supervised vs supervised, test people's recordings streamed whole", "",
             f"Made by `python tools/hapt_labels.py --recipe '{recipe}'"
             + (f" --sup-recipe '{sup_recipe}'" if sup_recipe is not None else "")
             + "".join(f" --{flag} {value}" for flag, value, default in (
                 ("runs", runs, Path("runs/hapt")), ("recordings", recordings, Path("runs/hapt-csv/test")),
                 ("bundles", bundles, Path("runs/hapt-bundles")), ("posture-features", posture_features, "auto"),
                 ("weights", weights, "last"), ("seeds", seeds, None))
                 if value != default)
             + f" --name {name}` (its docstring has the "
             "commands). Window accuracy on the windows "
             "lying wholly inside one activity segment, each run's bundle at its defaults; mean ± std over seeds "
             "(sample std, n seeds).", "", *summary_table(summary)]
    lines += ["", "Verdicts (a win needs the gap of the means to exceed both models' std):", "", *verdicts(summary)]
    Path(f"benchmarks/{name}.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
