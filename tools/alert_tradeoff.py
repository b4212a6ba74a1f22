#!/usr/bin/env python3
"""The alert trade-off of a novelty bundle: for each false-alert target, the operating point fitted on the
validation people's whole recordings (as `ssvae-export` fits it), what it gives there, then on the test
people's whole recordings streamed by the runtime with that point.

    python tools/alert_tradeoff.py --bundle exported/har-phone-novelty --run runs/hapt/novelty-ds-s0 \\
        --recordings runs/hapt-csv/test

Nothing is chosen here: the shipped point is the export's (target 0.5 per hour); the other targets show what
recall costs in false alerts, validation first, test after. These are the plain score's points (a bundle's
`alert.wearer_baseline` is turned off here). Writes benchmarks/alert-tradeoff.json and .md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ssvae_edge import Bundle
from ssvae_edge.labelled import score_recordings
from ssvae_train.export import alert_point as AP
from ssvae_train.export.loading import load_for_export

TARGETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


def main(
    bundle: Annotated[Path, typer.Option(help="The novelty bundle.")],
    run: Annotated[Path, typer.Option(help="The run it was exported from (its validation people).")],
    recordings: Annotated[Path, typer.Option(help="The test people's labelled recordings (CSV).")],
) -> None:
    files = sorted(recordings.glob("*.csv"))
    b = Bundle.load(bundle, providers="cpu", threads=1)
    prep = load_for_export(run, None).prep
    streams = AP.calibration_streams(prep, b.hop)
    rows = []
    for target in TARGETS:
        point = AP.operating_point(b.sessions["anomaly"], streams, target)
        # the plain score's points: a wearer baseline in the manifest stays off, or the threshold would apply to it
        test = score_recordings(b, files, alert_k=point["k"], alert_m=point["m"], threshold=point["threshold"],
                                wearer_baseline=False).alerts
        rows.append({"target": target, "k": point["k"], "m": point["m"], "threshold": point["threshold"],
                     "validation": {k: point[k] for k in ("detected", "held_out_segments", "segment_recall",
                                                          "median_delay_s", "false_alerts", "normal_hours",
                                                          "false_alerts_per_hour", "unlabelled_raises")},
                     "test": test})
        typer.echo(f"target {target}: validation {point['detected']}/{point['held_out_segments']}, test "
                   f"{test['detected']}/{test['held_out_segments']}", err=True)
    Path("benchmarks/alert-tradeoff.json").write_text(json.dumps({"bundle": str(bundle), "run": str(run),
                                                                  "rows": rows}, indent=2) + "\n")

    def cell(r: dict, recall: str, delay: str, fph: str) -> str:
        d = f"{r[delay]:.1f} s" if r[delay] is not None else "-"
        return (f"{r['detected']}/{r['held_out_segments']} ({(r[recall] or 0):.0%}) | {d} | {r['false_alerts']} "
                f"({r[fph]:.2f}/h) | {r['unlabelled_raises']}")

    lines = [f"# Alert trade-off of {bundle}", "", "Made by `python tools/alert_tradeoff.py` (docstring). Per "
             "false-alert target: the operating point fitted on the validation people's whole recordings, then "
             "the test people's recordings streamed with it. Columns: held-out segments caught, median delay, "
             "false alerts in labelled normal time (per hour), raises inside unlabelled time.", "",
             "| target /h | k of m | validation: caught | delay | false | unlabelled | test: caught | delay | "
             "false | unlabelled |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['target']:g} | {r['k']} of {r['m']} | "
                     + cell(r["validation"], "segment_recall", "median_delay_s", "false_alerts_per_hour") + " | "
                     + cell(r["test"], "recall", "delay_seconds_median", "false_alerts_per_hour") + " |")
    Path("benchmarks/alert-tradeoff.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
