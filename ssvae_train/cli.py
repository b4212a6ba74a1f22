"""`ssvae-train`: fit, evaluate and sample from semi-supervised VAEs; fetch the data sets."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import cliconv
from ssvae_train.config import FitConfig
from ssvae_train.errors import UserError
from ssvae_train.options import with_options
from ssvae_train.ranks import is_first_rank, is_rank, leave

PROG = "ssvae-train"

app = cliconv.new_app("Train the semi-supervised VAE (dense, conv, LSTM) and its supervised/unsupervised equivalents.")
data_app = typer.Typer(
    help="Check your own data (check), or fetch the real data sets, MNIST and UCI-HAR, and verify their checksums "
    "(download).", no_args_is_help=True,
    context_settings=cliconv.CONTEXT,
)
app.add_typer(data_app, name="data")


@app.callback()
def _main(version: Annotated[bool, cliconv.version_option(PROG)] = False) -> None:
    """Train the semi-supervised VAE (dense, conv, LSTM) and its supervised/unsupervised equivalents."""


def user_errors_for(prog: str):
    """A decorator turning a UserError into one `PROG: error: ...` line on stderr and exit code 2."""

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except UserError as e:
                raise cliconv.fail(prog, str(e)) from None
            except KeyboardInterrupt:
                typer.echo("interrupted: the last finished epoch is saved (continue with --resume)", err=True)
                raise typer.Exit(130) from None

        return wrapper

    return decorate


user_errors = user_errors_for(PROG)


@app.command()
@user_errors
@with_options(FitConfig)
def fit(
    out: Path = typer.Option(..., "--out", help="Run directory: checkpoint.pt (weights, config, history) goes here."),
    cfg: FitConfig = None,  # every FitConfig field is an option of its own (ssvae_train/config.py)
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last finished epoch."),
    force: bool = typer.Option(False, help=cliconv.FORCE_HELP),
    quiet: bool = typer.Option(False, help="No progress output."),
) -> None:
    """Train a model; prints the checkpoint path, and on stderr a note when an earlier epoch read a point or more
    validation accuracy above the last."""
    if not resume:
        cfg.validate()
    _threads(threads)
    from ssvae_train.training.checkpoint import best_epoch_note, load_checkpoint
    from ssvae_train.training.trainer import fit as run_fit

    path = run_fit(cfg, out, resume=resume, force=force, progress=not quiet)
    # only the rank that wrote the checkpoint reads it back: torchrun's other ranks may finish before its last save
    if not quiet and is_first_rank() and (note := best_epoch_note(load_checkpoint(path), "last")):
        typer.echo(note, err=True)
    typer.echo(str(path))


@app.command()
@user_errors
def evaluate(
    run: Path = typer.Argument(..., help="Run directory (or checkpoint file) written by `fit`."),
    data_dir: str | None = typer.Option(None, help="Override the data directory recorded in the run."),
    out: Path | None = typer.Option(None, help="Also write the JSON to this file."),
    weights: str = typer.Option(
        "last", metavar="[last|best]",
        help="last (the last finished epoch) | best (the epoch with the best validation score: early stopping)."
    ),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)."),
) -> None:
    """Print JSON: test accuracy and log loss; anomaly ROC AUC and average precision if a class was held out."""
    _threads(threads)
    from ssvae_train.training.evaluate import evaluate_run

    text = json.dumps(evaluate_run(run, data_dir, weights), indent=2)
    if out is not None:
        from ssvae_train.files import write_text_atomic

        write_text_atomic(out, text + "\n")
    typer.echo(text)


@app.command()
@user_errors
def generate(
    run: Path = typer.Argument(..., help="Run directory of an `ssvae` model."),
    out: Path = typer.Option(Path("grid.png"), help="PNG to write."),
    cls: int = typer.Option(0, "--class", help="Class drawn in many styles (index, e.g. 2 for the digit 2)."),
    n: int = typer.Option(64, help="How many samples of --class."),
    styles: int = typer.Option(6, help="How many real test samples lend their style to every class."),
    seed: int = typer.Option(0, help="Seed of the latent draws."),
    data_dir: str | None = typer.Option(None, help="Override the data directory recorded in the run."),
) -> None:
    """Draw class-conditional samples: one class in many styles, and one style across all classes."""
    from ssvae_train.scoring.generate import draw_grid
    from ssvae_train.training.evaluate import load_run, on_raw_samples

    _, model, cfg, prep = load_run(run, data_dir)
    if cfg.m1_run is not None:  # M1+M2: M2 draws M1 codes, M1's decoder the samples (models/m1m2.py)
        model, prep = on_raw_samples(model, cfg)
    normal = prep.ds.x_test[prep.ds.y_test >= 0]
    draw_grid(model, prep.ds.classes, cls, normal[:styles], out, n=n, seed=seed, channels=prep.ds.channels)
    typer.echo(str(out))


@app.command()
@user_errors
def demo(
    out: Path = typer.Option(Path("runs/demo"), help="Folder for the runs, the grid and the exported bundle."),
    epochs: int = typer.Option(30, help="Epochs of each of the two trainings."),
    labels: str = typer.Option("100", help="Label budget shared by both models."),
    force: bool = typer.Option(False, help=cliconv.FORCE_HELP),
) -> None:
    """The embedded default end to end: train on scikit-learn's digits (no download), compare with the
    supervised equivalent, generate, export the bundle and score it with the edge runtime."""
    from ssvae_train.demo import run_demo

    run_demo(out, epochs=epochs, labels=labels, say=typer.echo, force=force)


@data_app.command("check")
@user_errors
def check(
    path: Path = typer.Argument(..., help="Your data: a .npz file (arrays), a folder of CSV recordings, or a data "
                                "set's own files (mnist, uci-har, hapt: the zip or its folder)."),
    dataset: str = typer.Option(
        "auto", metavar="[auto|arrays|recordings|mnist|uci-har|hapt]",
        help="auto (a .npz is arrays, a folder of CSVs is recordings, HAPT's RawData layout is hapt) | arrays | "
             "recordings | mnist | uci-har | hapt."
    ),
    window: int | None = typer.Option(None, help="recordings, hapt: samples per window, as for fit (default 128)."),
    hop: int | None = typer.Option(None, help="recordings, hapt: samples between window starts (default --window / "
                                   "2)."),
    labels: str = typer.Option("all", help="The label budget you mean to train with (checked per class)."),
    seed: int = typer.Option(0, help="The --seed (or --split-seed) you mean to train with (it draws the validation "
                                     "split)."),
    val_fraction: float = typer.Option(0.1, help="The --val-fraction you mean to train with."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of lines."),
) -> None:
    """Check your data before `fit`: rows, windows, labelled fraction per class, channels, rate, duration.

    Every problem found (NaN or inf, a recording whose columns differ, an unknown class name, a class
    with fewer labelled rows than the budget needs, a sample rate that disagrees, ...) is printed as one
    `problem:` line on stderr, and the exit code is 2; `fit` refuses the same problems."""
    from ssvae_train.data.check import check_data, report_lines, summary_json

    summary, problems = check_data(path, dataset, window, hop, labels, seed, val_fraction)
    typer.echo(json.dumps(summary_json(summary), indent=2) if as_json else "\n".join(report_lines(summary)))
    for line in problems:
        typer.echo(f"problem: {line}", err=True)
    if problems:
        raise typer.Exit(2)
    if not as_json:
        typer.echo("ok: no problem found")


@data_app.command("download")
@user_errors
def download(
    name: str = typer.Argument(..., metavar="[mnist|uci-har]", help="The data set to fetch."),
    to: Path = typer.Option(..., "--to", help="Folder to write the files into (created if needed)."),
    base_url: str | None = typer.Option(None, help="Fetch from this mirror instead of the upstream host."),
) -> None:
    """Download a data set from its upstream location and verify every file's checksum."""
    from ssvae_train.data.download import download as run_download

    for path in run_download(name, to, base_url=base_url):
        typer.echo(str(path))


def _threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def main() -> None:
    if not is_rank():
        cliconv.run(app, PROG)
        return
    # a torchrun rank ends without the interpreter's shutdown, whatever ends it (ssvae_train.ranks.leave)
    try:
        cliconv.run(app, PROG)
    except SystemExit as e:
        if e.code is not None and not isinstance(e.code, int):
            print(e.code, file=sys.stderr)  # as Python prints a non-integer exit code
        leave(e.code if isinstance(e.code, int) else int(e.code is not None))
    except KeyboardInterrupt:
        leave(130)
    except BaseException:
        traceback.print_exc()
        leave(1)
    leave(0)


if __name__ == "__main__":
    sys.exit(main())
