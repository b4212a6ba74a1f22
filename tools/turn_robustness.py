#!/usr/bin/env python3
"""What the angle round the waist costs a phone bundle: people's HAPT recordings turned about the phone's long
axis by each angle (`ssvae_train.data.hapt.turned_about_long_axis`), streamed whole through each bundle at its
defaults. Meant for validation people (never test): a measurement, not a choice.

    python tools/turn_robustness.py --data-dir "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip" \\
        --people user03,user19,user25,user30 --bundle exported/har-phone \\
        --bundle runs/hapt-bundles/full-turn-s1 --name turn-robustness-s1

Writes results/<name>.json and .md: window accuracy (windows wholly inside one activity segment) per bundle
and angle.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge.labelled import score_recordings
from ssvae_train.data.hapt import read_hapt_recordings, turned_about_long_axis, write_recordings_csv


def main(
    data_dir: Annotated[Path, typer.Option(help="The HAPT zip or its extracted folder.")],
    people: Annotated[str, typer.Option(help="Comma-separated people, e.g. a run's validation people.")],
    bundle: Annotated[list[Path], typer.Option(help="A bundle folder; repeatable.")],
    name: Annotated[str, typer.Option(help="Output: results/<name>.json and .md.")],
    angles: Annotated[str, typer.Option(help="Comma-separated turns in degrees.")] = "0,45,90,135,180",
) -> None:
    chosen = {p.strip() for p in people.split(",") if p.strip()}
    recs = [r for r in read_hapt_recordings(data_dir)[0] if r.group in chosen]
    if {r.group for r in recs} != chosen:
        raise typer.BadParameter(f"unknown people: {', '.join(sorted(chosen - {r.group for r in recs}))}",
                                 param_hint="--people")
    turns = [float(a) for a in angles.split(",")]
    bundles = [Bundle.load(b, providers="cpu", threads=1) for b in bundle]
    table: dict[str, dict[str, float]] = {str(b): {} for b in bundle}
    with tempfile.TemporaryDirectory() as tmp:
        for angle in turns:
            files = write_recordings_csv([replace(r, x=turned_about_long_axis(r.x, angle)) for r in recs],
                                         Path(tmp) / f"{angle:g}")
            for path, b in zip(bundle, bundles, strict=True):
                s = score_recordings(b, files)
                table[str(path)][f"{angle:g}"] = float(np.mean(s.truth == s.predicted))
                typer.echo(f"{path} turned {angle:g} degrees: {table[str(path)][f'{angle:g}']:.4f}", err=True)
    out = Path("results")
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"people": sorted(chosen), "recordings": [r.name for r in recs],
                                                   "accuracy": table}, indent=2) + "\n")
    head = "| bundle | " + " | ".join(f"{a:g}°" for a in turns) + " | mean |"
    lines = [f"# What the angle round the waist costs: {', '.join(sorted(chosen))}", "",
             f"Made by `python tools/turn_robustness.py --people {','.join(sorted(chosen))} "
             + " ".join(f"--bundle {b}" for b in bundle) + f" --angles {angles} --name {name}`: the people's "
             f"{len(recs)} recordings turned about the phone's long axis, streamed whole at each bundle's defaults; "
             "window accuracy on windows wholly inside one activity segment.", "",
             head, "|---|" + "---:|" * (len(turns) + 1)]
    for b, row in table.items():
        lines.append(f"| `{b}` | " + " | ".join(f"{row[f'{a:g}']:.2%}" for a in turns)
                     + f" | {np.mean(list(row.values())):.2%} |")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
