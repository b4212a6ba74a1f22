"""`ssvae-train`: fit, evaluate and sample from semi-supervised VAEs; fetch the data sets."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import cliconv
from ssvae_train.errors import UserError

PROG = "ssvae-train"

app = typer.Typer(
    help="Train the semi-supervised VAE (dense, conv, LSTM) and its supervised/unsupervised equivalents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=cliconv.CONTEXT,
)
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
def fit(
    out: Path = typer.Option(..., "--out", help="Run directory: checkpoint.pt (weights, config, history) goes here."),
    dataset: str = typer.Option(
        "digits", metavar="[digits|mnist|uci-har|arrays|recordings]",
        help="digits (embedded, no download) | mnist | uci-har | arrays (your .npz: x_train, y_train "
        "with -1 = unlabelled, ...) | recordings (your folder of CSV recordings). README: 'Your own data'."
    ),
    data_dir: str | None = typer.Option(
        None, help="Folder with the data set's original files (mnist, uci-har), the .npz file (arrays) or the "
        "folder of CSV recordings (recordings)."
    ),
    arch: str = typer.Option(
        "dense", metavar="[dense|conv|lstm|convlstm]",
        help="Trunk/decoder family: dense | conv (images) | lstm | convlstm (sensor windows; convlstm: "
        "strided convolutions before one LSTM, transposed convolutions in the decoder)."
    ),
    model: str = typer.Option(
        "ssvae", metavar="[ssvae|supervised|vae]",
        help="ssvae (the full model) | supervised (trunk + pi) | vae (no labels)."),
    objective: str = typer.Option(
        "soft-label", metavar="[soft-label|m2]",
        help="soft-label (the write-up's loss: the decoder gets the classifier's soft labels for unlabelled rows; "
        "`seed`, its old name, is accepted) | m2 (Kingma et al. 2014)."),
    labels: str = typer.Option(
        "all", help="Label budget: a count balanced over classes (100), a fraction (0.05) or all (= given: every "
        "label there is; rows of your own data labelled -1 or blank stay unlabelled whatever the budget)."
    ),
    window: int | None = typer.Option(
        None, help="recordings: samples per window (default 128); a window is labelled when all its samples agree."
    ),
    hop: int | None = typer.Option(None, help="recordings: samples between window starts (default --window / 2)."),
    epochs: int = typer.Option(20, help="Epochs; one epoch sweeps the unlabelled rows once."),
    seed: int = typer.Option(0, help="Seed of the split, the label draw, the shuffles and the noise."),
    batch_size: int = typer.Option(128, help="Rows per step (the labelled batch is at most this)."),
    labelled_batch: int | None = typer.Option(
        None, help="Labelled rows per step beside the unlabelled batch (default: --batch-size, at most all)."
    ),
    lr: float = typer.Option(1e-3, help="Adam learning rate."),
    lr_schedule: str = typer.Option(
        "constant", metavar="[constant|cosine]",
        help="constant | cosine (annealed per epoch from --lr towards 0 at the last epoch)."),
    alpha: float | None = typer.Option(
        None, help="Weight of the label cross-entropy (default: 0.1 x values per sample)."
    ),
    kl_warmup: int = typer.Option(0, help="Epochs over which the KL weight ramps up from 0 (0: no warm-up)."),
    kl_weight: float = typer.Option(
        1.0, help="Weight of the KL term against the summed reconstruction (the write-up's per-feature means: "
        "values per sample / latent dim)."
    ),
    latent_dim: int = typer.Option(16, help="Size of z."),
    hidden: int | None = typer.Option(None, help="Width of the trunk (default 128; 64 for lstm and convlstm)."),
    augment: str = typer.Option(
        "none", help="Sensor augmentations of every training row: none, or a comma list of jitter, scale, rotate "
        "(ssvae_train/augment.py says how strong)."
    ),
    val_fraction: float = typer.Option(0.1, help="Fraction of the training set held out for validation."),
    val_split: str = typer.Option(
        "random", metavar="[random|blocks]",
        help="random (stratified by class) | blocks (whole contiguous blocks of the stored rows, 1/20 each: for "
        "windowed data stored recording by recording, e.g. the UCI-HAR subset, validation then holds whole "
        "sessions that overlap training windows only at their edges). Recordings (--dataset recordings) split "
        "by file anyway."
    ),
    exclude_class: int | None = typer.Option(None, help="Hold class K out of training (anomaly protocol)."),
    val_anomaly_class: int | None = typer.Option(
        None, help="With --exclude-class: hold class J out too; its training rows become validation anomalies, "
        "on which the anomaly score is chosen without the test set (score selection, RESULTS.md)."
    ),
    m1_run: str | None = typer.Option(
        None, help="M1+M2 (Kingma et al.): train on the latent means of this `vae` run (same data, seed and split)."
    ),
    m1_sample: bool = typer.Option(
        False, help="With --m1-run: draw the training rows from M1's q(z|x) every epoch, not its means."
    ),
    device: str = typer.Option(
        "auto", metavar="[auto|cpu|cuda]",
        help="auto (CUDA when present, else CPU) | cpu | cuda."),
    precision: str = typer.Option(
        "fp32", metavar="[fp32|bf16]",
        help="fp32 | bf16 (autocast mixed precision, for GPUs)."),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)."),
    resume: bool = typer.Option(False, help="Continue the run in --out from its last finished epoch."),
    force: bool = typer.Option(False, help=cliconv.FORCE_HELP),
    quiet: bool = typer.Option(False, help="No progress output."),
) -> None:
    """Train a model; prints the checkpoint path."""
    from ssvae_train.config import FitConfig

    cfg = FitConfig(
        dataset=dataset,
        data_dir=data_dir,
        arch=arch,
        model=model,
        objective=objective,
        labels=labels,
        epochs=epochs,
        seed=seed,
        batch_size=batch_size,
        labelled_batch=labelled_batch,
        lr=lr,
        lr_schedule=lr_schedule,
        alpha=alpha,
        kl_warmup=kl_warmup,
        kl_weight=kl_weight,
        latent_dim=latent_dim,
        hidden=hidden,
        val_fraction=val_fraction,
        val_split=val_split,
        exclude_class=exclude_class,
        val_anomaly_class=val_anomaly_class,
        m1_run=m1_run,
        m1_sample=m1_sample,
        device=device,
        precision=precision,
        augment=augment,
        window=window,
        hop=hop,
    )
    if not resume:
        cfg.validate()
    _threads(threads)
    from ssvae_train.trainer import fit as run_fit

    typer.echo(str(run_fit(cfg, out, resume=resume, force=force, progress=not quiet)))


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
    from ssvae_train.evaluate import evaluate_run

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
    from ssvae_train.evaluate import load_run
    from ssvae_train.generate import draw_grid

    _, model, _, prep = load_run(run, data_dir)
    if prep.ds.kind == "features":
        raise UserError("this run models M1's latent means (--m1-run), not samples: draw from a run on the data")
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
    path: Path = typer.Argument(..., help="Your data: a .npz file (arrays) or a folder of CSV recordings."),
    dataset: str = typer.Option(
        "auto", metavar="[auto|arrays|recordings|mnist|uci-har]",
        help="auto (a .npz is arrays, a folder of CSVs is recordings) | arrays | recordings | mnist | uci-har."
    ),
    window: int | None = typer.Option(None, help="recordings: samples per window, as for fit (default 128)."),
    hop: int | None = typer.Option(None, help="recordings: samples between window starts (default --window / 2)."),
    labels: str = typer.Option("all", help="The label budget you mean to train with (checked per class)."),
    seed: int = typer.Option(0, help="The --seed you mean to train with (it draws the validation split)."),
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
    cliconv.run(app, PROG)


if __name__ == "__main__":
    sys.exit(main())
