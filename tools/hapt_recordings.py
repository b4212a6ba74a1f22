#!/usr/bin/env python3
"""HAPT's recordings as the CSV files `ssvae-edge stream` reads (time, acc_x..gyro_z in g and rad/s, label).

    python tools/hapt_recordings.py --data-dir "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip" \\
        --out runs/hapt-csv/test --people test

`--people test` writes the UCI-HAR test people's recordings (what benchmarks/hapt-*.md stream), `train` the
others, `all` every one; `--only exp05_user02` one recording (the phone demo).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_train.data.hapt import read_hapt_recordings, turned_about_long_axis, write_recordings_csv
from ssvae_train.export.mounting_fit import FLIP


def main(
    data_dir: Annotated[Path, typer.Option(help="The HAPT zip or its extracted folder.")],
    out: Annotated[Path, typer.Option(help="Folder for the CSV files (one per recording).")],
    people: Annotated[str, typer.Option(
        help="test | train | all, or comma-separated people (e.g. user17,user26,user28: a run's validation people)")
    ] = "test",
    only: Annotated[str | None, typer.Option(help="Write this one recording (e.g. exp05_user02).")] = None,
    turn_around: Annotated[bool, typer.Option(
        help="Write each recording as a phone clipped on turned around would have recorded it (180 degrees "
             "about its long x axis: y and z of acc and gyro negated), to measure a bundle's mounting estimate."
    )] = False,
    turn: Annotated[float | None, typer.Option(
        help="Write each recording as a phone clipped on turned by this many degrees about its long x axis would "
             "have recorded it (the y-z parts of acc and gyro rotated alike), to measure what the angle round the "
             "waist costs a bundle.")] = None,
) -> None:
    if turn_around and turn is not None:
        raise typer.BadParameter("--turn-around is --turn 180 with exact signs: give one of them", param_hint="--turn")
    recs, _ = read_hapt_recordings(data_dir)
    if people in ("test", "train", "all"):
        recs = [r for r in recs if people == "all" or r.test == (people == "test")]
    else:
        chosen = {p.strip() for p in people.split(",") if p.strip()}
        unknown = sorted(chosen - {r.group for r in recs})
        if unknown:
            raise typer.BadParameter(f"choose test, train, all or people of the data; unknown: {', '.join(unknown)}",
                                     param_hint="--people")
        recs = [r for r in recs if r.group in chosen]
    if only is not None:
        recs = [r for r in recs if r.name == only]
        if not recs:
            raise typer.BadParameter(f"no recording named {only}", param_hint="--only")
    if turn_around:
        recs = [replace(r, x=(r.x * np.asarray(FLIP, np.float32)).astype(np.float32)) for r in recs]
    if turn is not None:
        recs = [replace(r, x=turned_about_long_axis(r.x, turn)) for r in recs]
    for p in write_recordings_csv(recs, out):
        typer.echo(str(p))


if __name__ == "__main__":
    typer.run(main)
