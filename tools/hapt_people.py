#!/usr/bin/env python3
"""How many people the HAPT recipe needs: bundles of runs trained on fewer people, streamed over the same
validation people's recordings (never test), at their defaults and with the graph alone.

    python tools/hapt_people.py --recordings runs/hapt-csv/val-s0 --name hapt-people-s0 \\
        --bundle runs/hapt-bundles/full-norot-v0.45-s0 --bundle runs/hapt-bundles/full-norot-v0.3-s0 \\
        --bundle runs/hapt-bundles/full-norot-s0-sway

Each bundle's number of training people is that of its run's split (the manifest's seed and validation
fraction over HAPT's training people, as `ssvae-train fit` drew it). The rule that uses these figures is in
results/hapt-bundles.md (fourteenth round). Writes results/<name>.json and .md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge.labelled import score_recordings
from ssvae_train.data.budgets import make_split
from ssvae_train.data.dataset import DataSet
from ssvae_train.data.hapt import load_hapt

GRAPH_ONLY = {"smoothing": 1, "sequence": False, "mounting": "worn", "posture": False}


def training_people(bundle: Bundle, data: DataSet) -> list[str]:
    """The people the bundle's run trained on: HAPT's training people less its validation people."""
    p = bundle.manifest.producer.to_json()
    split = make_split(data.y_train, data.n_classes, None, p["seed"], p["val_fraction"], data.groups_train)
    return sorted(data.group_names[g] for g in np.unique(data.groups_train[split.train]))


def accuracy(bundle: Bundle, files: list[Path], **options) -> float:
    s = score_recordings(bundle, files, **options)
    return float((s.truth == s.predicted).mean())


def main(
    bundle: Annotated[list[Path], typer.Option(help="A bundle folder; give several.")],
    recordings: Annotated[Path, typer.Option(help="The validation people's CSV recordings (hapt_recordings.py).")],
    name: Annotated[str, typer.Option(help="Output name: results/<name>.json and .md.")],
    data_dir: Annotated[Path, typer.Option(help="The HAPT zip or folder (for each run's split).")] = Path(
        "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"),
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("results"),
) -> None:
    files = sorted(recordings.glob("*.csv"))
    if not files:
        raise typer.BadParameter(f"no .csv recordings in {recordings}", param_hint="--recordings")
    data, rows = load_hapt(data_dir), []
    for path in bundle:
        b = Bundle.load(path, providers="cpu", threads=1)
        trained = training_people(b, data)
        seen = sorted({f.stem.split("_")[-1] for f in files} & set(trained))
        if seen:
            raise typer.BadParameter(f"{path} trained on {', '.join(seen)}, whose recordings are in {recordings}",
                                     param_hint="--recordings")
        row = {"bundle": str(path), "training_people": len(trained),
               "defaults": accuracy(b, files), "graph_only": accuracy(b, files, **GRAPH_ONLY)}
        rows.append(row)
        typer.echo(f"{path}: {row}", err=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"recordings": [f.stem for f in files], "rows": rows}, indent=1))
    lines = [f"# {name}: window accuracy on {recordings} ({len(files)} recordings), by training people", "",
             "Made by `python tools/hapt_people.py` (its docstring has the command). Windows wholly inside one "
             "activity segment; `defaults` streams at the bundle's defaults, `graph_only` with the class "
             "smoothing, sequence filter, mounting estimate and posture model off.", "",
             "| bundle | training people | defaults | graph only |", "|---|---:|---:|---:|"]
    lines += [f"| `{r['bundle']}` | {r['training_people']} | {100 * r['defaults']:.2f} % | "
              f"{100 * r['graph_only']:.2f} % |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    typer.run(main)
