"""Command line of `ssvae_train.data.har_streams.build_streams`: UCI-HAR test windows back into sensor
streams that `ssvae-edge stream` can read (the demo stream and the rebuilt continuous runs; the module
docstring there says how).

Usage: python tools/har_streams.py --data-dir ../shared/data/uci-har --out runs/har-streams
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ssvae_train.data.har_streams import build_streams


def main(
    data_dir: Annotated[Path, typer.Option(
        "--data-dir", help="UCI-HAR zip, extracted folder, or a folder holding the zip.")
    ] = Path("../shared/data/uci-har"),
    out: Annotated[Path, typer.Option("--out", help="Folder for the streams.")] = Path("runs/har-streams"),
    demo_minutes: Annotated[float, typer.Option(
        "--demo-minutes", min=0.1, help="Length of the demo stream (5 min = 117 windows at 50 Hz).")] = 5.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the demo's activity order and segments.")] = 0,
    min_run_windows: Annotated[int, typer.Option(
        "--min-run-windows", min=1,
        help="Write runs of at least this many windows as CSV (every run is listed in runs.json).")] = 3,
    digits: Annotated[int, typer.Option(
        "--digits", min=1, max=9, help="Significant digits compared when chaining windows.")] = 4,
) -> None:
    """Rebuild UCI-HAR test streams (continuous runs + a demo stream) as CSV for ssvae-edge."""
    from ssvae_train.data.uci_har import load_uci_har
    from ssvae_train.errors import UserError

    try:
        ds = load_uci_har(data_dir)
    except UserError as e:
        typer.echo(f"har_streams: error: {e}", err=True)
        raise typer.Exit(2) from None
    report = build_streams(ds.x_test, ds.y_test, list(ds.classes), list(ds.channels or []), out,
                           demo_minutes=demo_minutes, seed=seed, min_run_windows=min_run_windows,
                           digits=digits, source=ds.source)
    s = report["stats"]
    d = report["demo"]
    typer.echo(f"{out}: demo {d['windows']} windows ({d['seconds']:.0f} s); {s['runs']} runs "
               f"({s['runs_of_2_or_more']} of 2+ windows, longest {s['windows_per_run']['max']}), "
               f"{s['files_written']} written as CSV")


if __name__ == "__main__":
    typer.run(main)
