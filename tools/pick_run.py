#!/usr/bin/env python3
"""Print the run with the highest last-epoch validation accuracy among the runs given (the rule every
committed bundle is chosen by; results/mnist-bundles.md), after a table of all of them on stderr.

    python tools/pick_run.py runs/mnist-best/conv-m2-lr3e-3-100-s{0,1,2}
"""

from __future__ import annotations

from pathlib import Path

import typer

from ssvae_train.training.checkpoint import load_checkpoint


def main(runs: list[Path] = typer.Argument(..., help="Run folders (each with checkpoint.pt).")) -> None:
    """The run with the highest last-epoch validation accuracy."""
    val = {}
    for run in runs:
        last = load_checkpoint(run)["history"][-1]
        val[run] = float(last["val_accuracy"])
        typer.echo(f"{run}: epoch {last['epoch']}, validation accuracy {val[run]:.4f}", err=True)
    print(max(runs, key=lambda r: val[r]))


if __name__ == "__main__":
    typer.run(main)
