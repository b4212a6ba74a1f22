#!/usr/bin/env python3
"""The alert trade-off of a novelty bundle on the wearer-adjusted score (`alert.wearer_baseline`): for each
false-alert target, the point fitted on the validation people's recordings (`wearer_baseline_fit.fit`, as the
export fits it), what it gives there, then on the test people's recordings streamed by the runtime with it.

    python tools/wearer_tradeoff.py --bundle exported/har-phone-novelty --training runs/hapt-csv/train-s0 \\
        --validation runs/hapt-csv/val-s0 --recordings runs/hapt-csv/test

(the folders as in `tools/fit_wearer_baseline.py`'s docstring.) Nothing is chosen here: the shipped point is the
one fitted at the bundle's target (0.5 per hour). Where the fit writes an alert gate (`ssvae_edge.alert_gate`), the
runtime alerts at the gate's point, and the table gives that point (the `gate` column names its classes).
Writes benchmarks/<--name>.json and .md (with `--recordings`,
by default alert-tradeoff-wearer).

Without `--recordings` no test recording is read: the table gives the validation people's figures, the
wearer-adjusted point's beside the plain score's fitted the same way (both in-sample: each point is fitted on
those people), e.g. for a run held out to judge alert designs on more validation people
(results/hapt-bundles.md, twentieth round); `--name` is then required, so that no test benchmark is replaced:

    Z="../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"
    python tools/hapt_recordings.py --data-dir "$Z" --out runs/hapt-csv/val-nv \
        --people user05,user06,user07,user11,user17,user19,user21,user26,user28,user29
    python tools/hapt_recordings.py --data-dir "$Z" --out runs/hapt-csv/train-nv \
        --people user01,user03,user08,user14,user15,user16,user22,user23,user25,user27,user30
    python tools/wearer_tradeoff.py --bundle runs/hapt-bundles/novelty-tr-ds-v0.45-s0 \
        --training runs/hapt-csv/train-nv --validation runs/hapt-csv/val-nv --name alert-tradeoff-testbed
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import Bundle
from ssvae_edge.labelled import score_recordings
from ssvae_train.export.alert_cross_check import debounce_rule_of
from ssvae_train.export.labelled_recordings import labelled_streams, read_labels_of, read_recordings
from ssvae_train.export.wearer_baseline_fit import fit, write_with_baseline

TARGETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
NAME = "alert-tradeoff-wearer"


def sec(x: float | None) -> str:
    """A median delay for the tables ("-" when nothing was detected)."""
    return "-" if x is None else f"{x:.1f} s"


def main(
    bundle: Annotated[Path, typer.Option(help="The novelty bundle.")],
    training: Annotated[Path, typer.Option(help="CSV recordings of the people it trained on.")],
    validation: Annotated[Path, typer.Option(help="Labelled CSV recordings of its validation people.")],
    recordings: Annotated[Path | None, typer.Option(
        help="Labelled CSV recordings of the test people; without it, validation figures only.")] = None,
    name: Annotated[str | None, typer.Option(
        help=f"Output name: benchmarks/<name>.json and .md (with --recordings, default {NAME}; without, required)."
    )] = None,
) -> None:
    """Per false-alert target, the wearer-baseline point fitted on the validation people, and with --recordings
    what it gives on the test people; without --recordings the validation figures beside the plain score's."""
    if recordings is None and name is None:
        raise typer.BadParameter("give --name without --recordings (the default name is the test benchmark's)",
                                 param_hint="--name")
    m = Bundle.load(bundle, providers="cpu", threads=1).manifest
    train_files = sorted(training.glob("*.csv"))
    train_x = read_recordings(train_files, m)
    train_labels = read_labels_of(train_files, train_x)
    streams = labelled_streams(sorted(validation.glob("*.csv")), m)
    if recordings is None:
        return validation_only(bundle, train_x, train_labels, streams, m.excluded_class_name, name,
                               debounce_rule_of(m))
    name = name or NAME
    test_files = sorted(recordings.glob("*.csv"))
    rows = []
    for target in TARGETS:
        section, _ = fit(bundle, train_x, streams, target, train_labels, m.excluded_class_name,
                         debounce_rule=debounce_rule_of(m))
        with tempfile.TemporaryDirectory() as tmp:
            write_with_baseline(bundle, Path(tmp) / "b", section)
            test = score_recordings(Bundle.load(Path(tmp) / "b", providers="cpu", threads=1), test_files).alerts
        point = section.gate or section  # the point the runtime alerts at
        rows.append({"target": target, "prior_windows": point.prior_windows, "k": point.k, "m": point.m,
                     "threshold": point.threshold,
                     "gate": list(section.gate.classes) if section.gate is not None else None,
                     "validation": {"detected": point.detected, "held_out_segments": point.held_out_segments,
                                    "false_alerts_per_hour": point.false_alerts_per_hour,
                                    "median_delay_s": point.median_delay_s},
                     "test": {k: test[k] for k in ("detected", "held_out_segments", "false_alerts",
                                                   "false_alerts_per_hour", "delay_seconds_median",
                                                   "unlabelled_raises")}})
        typer.echo(f"target {target:g}: {json.dumps(rows[-1])}", err=True)
    Path("benchmarks").mkdir(exist_ok=True)
    Path(f"benchmarks/{name}.json").write_text(json.dumps({"bundle": str(bundle), "rows": rows}, indent=2) + "\n")
    lines = [f"# Alert trade-off of {bundle}, wearer-adjusted score", "",
             "Made by `python tools/wearer_tradeoff.py` (docstring). Per false-alert target: the wearer-baseline "
             "point fitted on the validation people's whole recordings, then the test people's recordings streamed "
             "with it. Nothing chosen here (the shipped point is the 0.5 row).", "",
             "| target /h | gate | prior weight | k of m | validation: caught | delay | false/h | test: caught | "
             "delay | false (per h) | unlabelled raises |", "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        v, t = r["validation"], r["test"]
        lines.append(f"| {r['target']:g} | {', '.join(r['gate']) if r['gate'] else '-'} | {r['prior_windows']} | "
                     f"{r['k']} of {r['m']} | {v['detected']}/"
                     f"{v['held_out_segments']} | {sec(v['median_delay_s'])} | {v['false_alerts_per_hour']:.2f} | "
                     f"{t['detected']}/{t['held_out_segments']} | {sec(t['delay_seconds_median'])} | "
                     f"{t['false_alerts']} ({t['false_alerts_per_hour']:.2f}) | {t['unlabelled_raises']} |")
    Path(f"benchmarks/{name}.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


def validation_only(bundle: Path, train_x, train_labels, streams, held_out: str | None, name: str,
                    debounce_rule: str) -> None:
    """The trade-off on the validation people alone: per target the wearer-adjusted point and the plain score's,
    each fitted on those people by the exporter's rule (the bundle's `--alert-debounce`)."""
    rows = []
    for target in TARGETS:
        s, wins = fit(bundle, train_x, streams, target, train_labels, held_out, debounce_rule=debounce_rule)
        rows.append({"target": target, "prior_windows": s.prior_windows, "k": s.k, "m": s.m, "baseline_wins": wins,
                     "wearer_baseline": {"detected": s.detected, "held_out_segments": s.held_out_segments,
                                         "false_alerts_per_hour": s.false_alerts_per_hour,
                                         "median_delay_s": s.median_delay_s},
                     "plain_score": dict(s.plain_score)})
        typer.echo(f"target {target:g}: {json.dumps(rows[-1])}", err=True)
    hours = sum(int(streams.normal_mask(lab).sum()) for lab in streams.labels) / streams.rate_hz / 3600
    Path("benchmarks").mkdir(exist_ok=True)
    record = {"bundle": str(bundle), "normal_hours": hours, "validation": streams.sources, "rows": rows}
    Path(f"benchmarks/{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# Alert trade-off of {bundle} on its validation people", "",
             "Made by `python tools/wearer_tradeoff.py` without `--recordings` (docstring). Per false-alert target: "
             "the point fitted on the validation people's whole recordings "
             f"({len(streams.x)} recordings, {hours:.2f} h of labelled normal time), on the wearer-adjusted score "
             "and on the plain score; in-sample figures (each point is fitted on these people). The export keeps the "
             "baseline only where it catches more than the plain score. No test recording was read.", "",
             "| target /h | wearer baseline: prior weight | k of m | caught | delay | false/h | plain score: k of m | "
             "caught | delay | false/h | the export keeps |", "|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---|"]

    for r in rows:
        w, p = r["wearer_baseline"], r["plain_score"]
        lines.append(f"| {r['target']:g} | {r['prior_windows']} | {r['k']} of {r['m']} | "
                     f"{w['detected']}/{w['held_out_segments']} | "
                     f"{sec(w['median_delay_s'])} | {w['false_alerts_per_hour']:.2f} | {p['k']} of {p['m']} | "
                     f"{p['detected']}/{p['held_out_segments']} | {sec(p['median_delay_s'])} | "
                     f"{p['false_alerts_per_hour']:.2f} | "
                     f"{'the baseline' if r['baseline_wins'] else 'the plain score'} |")
    Path(f"benchmarks/{name}.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
