#!/usr/bin/env python3
"""Turn the experiment cells (`results/cells/<experiment>/<cell>.json`) into RESULTS.md and its figures.

    python tools/report.py [--cells results/cells] [--out RESULTS.md] [--figures results/figures]

The sections are `ssvae_train.experiments.report.SECTIONS`, one function each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ssvae_train.experiments.grid import REPO
from ssvae_train.experiments.report import build

DEFAULTS = {"cells": REPO / "results" / "cells", "out": REPO / "RESULTS.md", "figures": REPO / "results" / "figures"}


def main(
    cells: Annotated[Path, typer.Option(help="The cells folder.")] = DEFAULTS["cells"],
    out: Annotated[Path, typer.Option(help="The report to write.")] = DEFAULTS["out"],
    figures: Annotated[Path, typer.Option(help="Where the figures go.")] = DEFAULTS["figures"],
) -> None:
    """Write RESULTS.md and its figures from the cells."""
    given = {"cells": cells, "out": out, "figures": figures}
    extra = [f"--{k} {v}" for k, v in given.items() if Path(v).resolve() != DEFAULTS[k]]
    build(cells, out, figures, " ".join(["python tools/report.py", *extra]))
    print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
