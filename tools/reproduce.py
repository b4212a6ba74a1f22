#!/usr/bin/env python3
"""Reproduce the write-up's experiments: named grids of cells, each cell one `ssvae-train` run.

    python tools/reproduce.py list mnist-labels
    python tools/reproduce.py run mnist-labels har-labels --jobs 2
    python tools/reproduce.py run mnist-anomaly --filter dense-ssvae
    python tools/report.py                       # RESULTS.md from the cells

Each cell trains with `ssvae-train fit` (resumable), evaluates with `ssvae-train evaluate` and writes
`results/cells/<experiment>/<cell>.json` as it finishes: an interrupted run resumes where it stopped,
and finished cells are never redone. Cells run as subprocesses with one torch thread each, `--jobs`
at a time (two 1-thread jobs beat one 2-thread job on a 2-core machine). The grids are
`ssvae_train.experiments.grid`, a cell's pipeline `ssvae_train.experiments.cell`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ssvae_train.experiments.cell import run_cells
from ssvae_train.experiments.grid import DATA, ORDER, Cell, experiments

app = typer.Typer(add_completion=False, help=__doc__)
Names = Annotated[list[str], typer.Argument(help="Experiments, e.g. mnist-labels har-labels.")]
Root = Annotated[Path, typer.Option("--data-root", help="Folder holding mnist/ and uci-har/.")]
Seeds = Annotated[str, typer.Option(help="Comma-separated seeds.")]
Filter = Annotated[str, typer.Option("--filter", help="Only cells whose name contains all of these (comma-separated).")]


def chosen(names: list[str], data_root: Path, seeds: str, filter_: str) -> list[Cell]:
    exps = experiments(data_root.resolve(), [int(s) for s in seeds.split(",")])
    unknown = [e for e in names if e not in exps]
    if unknown:
        typer.echo(f"error: unknown experiment(s) {', '.join(unknown)}; known: {', '.join(exps)}", err=True)
        raise typer.Exit(2)
    wanted = [w for w in filter_.split(",") if w]
    return [c for e in names for c in exps[e] if all(w in c.name for w in wanted)]


@app.command("list")
def list_(names: Names, data_root: Root = DATA, seeds: Seeds = "0,1,2", filter_: Filter = "") -> None:
    """Each cell of the experiments, done or todo."""
    for c in chosen(names, data_root, seeds, filter_):
        print(f"{'done' if c.out.exists() else 'todo'}  {c.experiment}/{c.name}")


@app.command()
def run(
    names: Names, data_root: Root = DATA, seeds: Seeds = "0,1,2", filter_: Filter = "",
    jobs: Annotated[int, typer.Option(help="Cells run at once (one thread each).")] = 2,
    fit_only: Annotated[bool, typer.Option(
        "--fit-only", help="Train the runs only (no evaluation, no cell files): evaluate later with the code of "
                           "that time.")] = False,
) -> None:
    """Run the cells not done yet."""
    cells = chosen(names, data_root, seeds, filter_)
    # --fit-only also retrains finished cells whose run folder is gone (runs/ is not kept between machines)
    todo = [c for c in cells if not c.out.exists() or (fit_only and c.generate is None and not c.run_dir.exists())]
    print(f"{len(cells) - len(todo)} of {len(cells)} cells already done; {len(todo)} to run, {jobs} at a time",
          flush=True)
    t0 = time.time()
    run_cells(todo, jobs, fit_only, lambda line: print(line, flush=True))
    print(f"finished in {(time.time() - t0) / 60:.1f} min", flush=True)


@app.command()
def order() -> None:
    """The order this session ran the cells in (lanes a and b ran side by side, one core each)."""
    for lane, step in ORDER:
        jobs = " --jobs 1" if lane in ("a", "b") else ""  # lanes a and b: one cell at a time each
        print(f"{lane}\t{step[2:] if step.startswith('$') else 'python tools/reproduce.py run ' + step + jobs}")


if __name__ == "__main__":
    app()
