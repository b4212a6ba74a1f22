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
from ssvae_train.export.config import ExportConfig
from ssvae_train.options import with_options

PROG = "ssvae-export"
user_errors = user_errors_for(PROG)

app = cliconv.new_app("Export a trained ssvae run as an ONNX bundle for the edge runtime.", add_completion=False)


@app.command()
@user_errors
@with_options(ExportConfig)
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
    cfg: ExportConfig = None,  # every ExportConfig field is an option of its own (ssvae_train/export/config.py)
    requantize: Annotated[
        bool,
        typer.Option(
            help="RUN is a bundle: redo its int8 graphs from its own fp32 graphs, in place (the same code as "
            "--quantize int8; the data is rebuilt from the manifest's producer and checked; needs --data-dir)."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help=cliconv.FORCE_HELP)] = False,
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
        if out is not None or cfg.quantize is not None or cfg.member:
            raise UserError("--requantize works in place on the bundle RUN: drop --out, --quantize and --member")
        from ssvae_train.export.requantize import requantize_bundle

        requantize_bundle(run, cfg.data_dir, say=say)
        typer.echo(str(run))
        return
    if out is None:
        raise UserError("--out is required: the bundle folder to create")
    from ssvae_train.export.exporter import export_run

    manifest = export_run(run, out, cfg, force=force, say=say, progress=not quiet)
    for line in alert_warnings(manifest):  # loud even with --quiet: shipped as is
        typer.echo(line, err=True)
    typer.echo(str(out))


def alert_warnings(manifest: dict) -> list[str]:
    """The manifest's alert warnings as the export prints them, each naming its operating point and whether the
    stream alerts at it by default (the alert gate's, else the wearer baseline's, else the plain score's), so that
    a warning about a point the stream does not use cannot read as one about the bundle's alerts."""
    alert = manifest.get("alert") or {}
    wearer = alert.get("wearer_baseline") or {}
    gate = wearer.get("gate") or {}
    points = [("the plain score's point", alert, "alert.warnings", "--no-wearer-baseline" if wearer else None),
              ("the wearer baseline's point", wearer, "alert.wearer_baseline.warnings",
               "--no-alert-gate" if gate else None),
              ("the alert gate's point", gate, "alert.wearer_baseline.gate.warnings", None)]
    out = []
    for name, point, key, option in points:
        use = f"not the stream's default, used by `ssvae-edge stream {option}`" if option else "the stream's default"
        out += [f"WARNING: {name} ({use}): {line} (manifest {key})" for line in point.get("warnings", [])]
    return out


def main() -> None:
    cliconv.run(app, PROG)


if __name__ == "__main__":
    sys.exit(main())
