"""`ssvae-export`: cut a trained run into the ONNX bundle of docs/bundle-format.md (classifier, anomaly, decoder +
manifest.json), validated against PyTorch before anything is written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import cliconv
from ssvae_train.cli import user_errors_for
from ssvae_train.errors import UserError
from ssvae_train.scoring.scores import PARTS

PROG = "ssvae-export"
user_errors = user_errors_for(PROG)

app = typer.Typer(
    help="Export a trained ssvae run as an ONNX bundle for the edge runtime.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
    context_settings=cliconv.CONTEXT,
)


@app.command()
@user_errors
def export(
    run: Annotated[
        Path,
        typer.Argument(
            help="Run directory (or its checkpoint.pt) written by `ssvae-train fit`; with --requantize, a bundle."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Bundle folder to create, e.g. exported/har-lstm. It must not exist yet (see --force). "
            "Required unless --requantize.",
        ),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(
            metavar="[auto|" + "|".join(PARTS) + "|a+b...]",
            help="Anomaly score in anomaly.onnx: pi (-ELBO, decoder fed the classifier's probabilities) | min "
            "(lowest -ELBO over the classes) | maha_h, maha_z (Mahalanobis distance to the nearest class in the "
            "trunk's features / the latent mean) | energy | msp (the classifier's confidence) | a+b (their mean, "
            "each standardised on validation rows) | auto (for a run with --exclude-class: the score that best tells "
            "validation rows from the held-out class's training rows; training split only). Default: the one "
            "chosen for the data's kind with other classes held out, never the test set "
            "(ssvae_train/scoring/scores.py). "
            "A vae run has one score."
        ),
    ] = None,
    alert_quantile: Annotated[
        float,
        typer.Option(
            help="Images and vectors: the alert threshold is this quantile of the anomaly scores of the run's "
            "validation rows (normal data). Sensor bundles use --alert-false-per-hour instead."
        ),
    ] = 0.99,
    alert_false_per_hour: Annotated[
        float,
        typer.Option(
            help="Sensor bundles: the target rate of false alerts per hour of normal activity. The threshold and "
            "the k-of-m debounce (manifest 'alert', used by ssvae-edge stream by default) are fitted on "
            "streams of validation windows and the held-out class's training windows, never test "
            "(ssvae_train/export/alert_point.py). Negative: the --alert-quantile threshold and the runtime's "
            "default debounce instead."
        ),
    ] = 0.5,
    quantize: Annotated[
        str | None,
        typer.Option(
            metavar="[int8]",
            help="int8: also write <graph>.int8.onnx with onnxruntime's static quantization (QDQ, calibrated "
            "on training rows: a sample's output does not depend on its batch), listed under graphs_int8 with "
            "fp32/int8 accuracy and ROC AUC in the manifest's quantization."
        ),
    ] = None,
    requantize: Annotated[
        bool,
        typer.Option(
            help="RUN is a bundle: redo its int8 graphs from its own fp32 graphs, in place (the same code as "
            "--quantize int8; the data is rebuilt from the manifest's producer and checked; needs --data-dir)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help=cliconv.FORCE_HELP)] = False,
    data_dir: Annotated[
        str | None,
        typer.Option(help="Where the run's data set lives now (default: the path recorded in the run)."),
    ] = None,
    weights: Annotated[
        str,
        typer.Option(
            metavar="[last|best]",
            help="last (the run's last finished epoch) | best (its best validation epoch: early stopping).",
        ),
    ] = "last",
    latent_prior: Annotated[
        str,
        typer.Option(
            metavar="[class|standard]",
            help="class (decoder.onnx moves z ~ N(0, I) to where class y lies in latent space, fitted on the "
            "training rows: generated samples look like the class asked) | standard (z is decoded as given).",
        ),
    ] = "class",
    threads: Annotated[int, typer.Option(help="torch CPU threads (0: torch's default).")] = 0,
    quiet: Annotated[bool, typer.Option(help="No progress notes on stderr.")] = False,
    version: Annotated[bool, cliconv.version_option(PROG)] = False,
) -> None:
    """Export RUN's graphs, check them (onnx checker, onnxruntime vs PyTorch on 256 test samples, reference
    evaluator), calibrate the anomaly threshold, and write the bundle; prints the bundle's path."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)

    def say(line: str) -> None:
        if not quiet:
            typer.echo(line, err=True)

    if requantize:
        if out is not None or quantize is not None:
            raise UserError("--requantize works in place on the bundle RUN: drop --out and --quantize")
        from ssvae_train.export.requantize import requantize_bundle

        requantize_bundle(run, data_dir, say=say)
        typer.echo(str(run))
        return
    if out is None:
        raise UserError("--out is required: the bundle folder to create")
    from ssvae_train.export.exporter import export_run

    manifest = export_run(
        run,
        out,
        score=score,
        alert_quantile=alert_quantile,
        alert_false_per_hour=alert_false_per_hour if alert_false_per_hour >= 0 else None,
        quantize=quantize,
        force=force,
        data_dir=data_dir,
        weights=weights,
        latent_prior=latent_prior,
        say=say,
        progress=not quiet,
    )
    for line in (manifest.get("alert") or {}).get("warnings", []):  # loud even with --quiet: shipped as is
        typer.echo(f"WARNING: {line} (manifest alert.warnings)", err=True)
    typer.echo(str(out))


def main() -> None:
    cliconv.run(app, PROG)


if __name__ == "__main__":
    sys.exit(main())
