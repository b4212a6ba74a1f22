#!/usr/bin/env python3
"""Give a novelty bundle an alert operating point on the wearer-adjusted score (manifest `alert.wearer_baseline`,
`ssvae_train/export/wearer_baseline_fit.py`), fitted on recordings only: the training people's (class priors)
and the validation people's, labelled (the point). Never test. The copy is written only where the adjusted
score's point detects more of the validation people's held-out segments than the plain score's.

    Z="../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"
    python tools/hapt_recordings.py --data-dir "$Z" --out runs/hapt-csv/val-nv3 \
        --people user05,user07,user11,user17,user21,user26,user28
    python tools/hapt_recordings.py --data-dir "$Z" --out runs/hapt-csv/train-nv3 --people \
        user01,user03,user06,user08,user14,user15,user16,user19,user22,user23,user25,user27,user29,user30
    python tools/fit_wearer_baseline.py --bundle exported/har-phone-novelty --training runs/hapt-csv/train-nv3 \
        --validation runs/hapt-csv/val-nv3 --out runs/hapt-bundles/har-phone-novelty-wb

(users 05 07 11 17 21 26 28 are the validation people of `exported/har-phone-novelty`, its manifest's
`alert.streams.people`; the training folder holds the other training people.) Prints the comparison on the
validation people; exit 1 when the wearer baseline does not win (nothing written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import Bundle
from ssvae_edge.errors import BundleError, InputError
from ssvae_train.errors import UserError
from ssvae_train.export.alert_cross_check import debounce_rule_of
from ssvae_train.export.labelled_recordings import labelled_streams, read_labels_of, read_recordings
from ssvae_train.export.wearer_baseline_fit import fit, write_with_baseline


def main(
    bundle: Annotated[Path, typer.Option(help="A sensor bundle with a held-out class and an alert point.")],
    training: Annotated[Path, typer.Option(help="CSV recordings of the people the bundle trained on.")],
    validation: Annotated[Path, typer.Option(help="Labelled CSV recordings of its validation people.")],
    out: Annotated[Path, typer.Option(help="Where the bundle with the wearer baseline is written.")],
    force: Annotated[bool, typer.Option(help="Replace an existing bundle at --out.")] = False,
) -> None:
    try:
        run(bundle, training, validation, out, force)
    except (BundleError, InputError, UserError, ValueError) as e:  # one line, exit 2, nothing written
        typer.echo(f"fit_wearer_baseline: error: {e}", err=True)
        raise typer.Exit(2) from None


def run(bundle: Path, training: Path, validation: Path, out: Path, force: bool) -> None:
    b = Bundle.load(bundle, providers="cpu", threads=1)
    m = b.manifest
    held = m.excluded_class_name
    if held is None or m.alert is None:
        raise typer.BadParameter("needs a bundle trained with a class held out and an alert point",
                                 param_hint="--bundle")
    if out.exists() and not force:
        raise typer.BadParameter(f"{out} exists: pass --force to replace it", param_hint="--out")
    val_people = set((m.alert.streams or {}).get("people") or [])
    train_files = sorted(training.glob("*.csv"))
    clash = [f.name for f in train_files if any(f.stem.endswith("_" + p) for p in val_people)]
    if clash:
        raise typer.BadParameter(f"{', '.join(clash)}: recordings of the validation people", param_hint="--training")
    val_files = sorted(validation.glob("*.csv"))
    if not train_files or not val_files:
        raise typer.BadParameter("no .csv recordings found in --training or --validation")
    streams = labelled_streams(val_files, m)
    target = float(m.alert.target_false_alerts_per_hour or 0.5)
    train_x = read_recordings(train_files, m)
    section, wins = fit(bundle, train_x, streams, target, read_labels_of(train_files, train_x), held,
                        debounce_rule=debounce_rule_of(m), max_delay=m.alert.target_median_delay_s)
    report = {"wins": wins, "plain_score": section.plain_score,
              "wearer_baseline": {k: getattr(section, k) for k in ("prior_windows", "k", "m", "threshold",
                                  "threshold_int8", "false_alerts_per_hour", "detected", "held_out_segments",
                                  "median_delay_s", "unlabelled_raises")},
              "candidates": section.candidates}
    typer.echo(json.dumps(report, indent=2, default=float))
    if not wins:
        typer.echo("the wearer baseline does not detect more validation segments: nothing written", err=True)
        raise typer.Exit(1)
    write_with_baseline(bundle, out, section)
    typer.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    typer.run(main)
