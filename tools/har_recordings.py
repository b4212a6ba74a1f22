"""Write UCI-HAR as sensor recordings (one CSV per rebuilt recording), the layout `--dataset recordings` reads.

Chained windows are joined back into recordings (ssvae_train/data/har_recordings.py); the test windows
go to `test/` (so the recordings path tests on exactly the built-in loader's test windows) and a
stratified `--keep-labels` fraction of the training windows keeps its labels, the rest left blank.

Usage: python tools/har_recordings.py --data-dir ../shared/data/uci-har --out runs/har-rec --keep-labels 0.1
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ssvae_train.data.har_recordings import write_har_recordings
from ssvae_train.data.uci_har import load_uci_har
from ssvae_train.errors import UserError


def main(
    data_dir: Annotated[Path, typer.Option(
        "--data-dir", help="UCI-HAR zip, extracted folder, or a folder holding the zip.")
    ] = Path("../shared/data/uci-har"),
    out: Annotated[Path, typer.Option("--out", help="Folder for train/, test/ and dataset.json.")] = Path(
        "runs/har-recordings"),
    keep_labels: Annotated[float, typer.Option(
        "--keep-labels", min=0.0, max=1.0, help="Fraction of the training windows that keep their label "
        "(stratified by class; 0.1 blanks 90 %). Test labels all stay.")] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the choice of kept labels.")] = 0,
) -> None:
    """Write UCI-HAR as CSV recordings with most training labels blank."""
    try:
        report = write_har_recordings(load_uci_har(data_dir), out, keep_labels, seed)
    except UserError as e:
        typer.echo(f"har_recordings: error: {e}", err=True)
        raise typer.Exit(2) from None
    tr, te = report["train"], report["test"]
    typer.echo(f"{out}: train {tr['recordings']} recordings, {tr['windows']} windows ({tr['labelled_windows']} "
               f"labelled); test {te['recordings']} recordings, {te['windows']} windows")


if __name__ == "__main__":
    typer.run(main)
