#!/usr/bin/env python3
"""The trade-off curve of a novelty bundle's alerts on labelled recordings: for every threshold, held-out segments
caught against false alerts per hour of labelled normal time, each design at its own manifest point's prior weight
and debounce (the gate's, `alert.wearer_baseline.gate`; the ungated wearer baseline's; the plain score's), from the
runtime's own scores and classes. Nothing is fitted or chosen here: a curve's upper edge at a rate says the most
segments any threshold could catch there, on these recordings, and the median delay at the lowest threshold that
catches them; the shipped threshold's point is given beside it.

    python tools/alert_curve.py --bundle exported/har-phone-novelty --recordings runs/hapt-csv/test \\
        --name alert-curve-test

`--debounce K/M` (repeatable; results/hapt-bundles.md, AL) draws the design the stream uses (the gate's, else the
wearer baseline's, else the plain score's) at each debounce given, at that design's prior weight and classes,
instead of every design at its own debounce: whether any threshold and debounce of these graphs reaches a target.

(the folder as `tools/hapt_recordings.py` writes it). Writes benchmarks/<name>.json and .md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge import alert_metrics as am
from ssvae_edge.alert_gate import gated
from ssvae_edge.wearer_baseline import adjusted_scores
from ssvae_train.export.alert_point import HELD_OUT, UNLABELLED_TIME
from ssvae_train.export.labelled_recordings import labelled_streams
from ssvae_train.export.wearer_baseline_fit import stream_whole

RATES = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0)


def designs(bundle: Bundle) -> dict[str, dict]:
    """Each alert design the manifest holds: its point (prior weight, debounce, threshold) and gate."""
    m = bundle.manifest
    wb = m.wearer_baseline
    out = {"plain score": {"prior_windows": None, "k": m.alert.k, "m": m.alert.m, "threshold": bundle.threshold,
                           "gate": None}}
    if wb is not None:
        out["wearer baseline"] = {"prior_windows": wb.prior_windows, "k": wb.k, "m": wb.m, "threshold": wb.threshold,
                                  "gate": None}
        if wb.gate is not None:
            g = wb.gate
            out["wearer baseline, gated"] = {"prior_windows": g.prior_windows, "k": g.k, "m": g.m,
                                             "threshold": g.threshold, "gate": list(g.classes)}
    return out


def at_debounces(points: dict[str, dict], debounces: list[str]) -> dict[str, dict]:
    """The design the stream uses (the last of `designs`) at each debounce "K/M" instead of its own."""
    name, p = list(points.items())[-1]
    out = {}
    for text in debounces:
        try:
            k, m = (int(v) for v in text.split("/"))
        except ValueError:
            raise typer.BadParameter(f"{text!r}: K/M, e.g. 3/4", param_hint="--debounce") from None
        if not 1 <= k <= m:
            raise typer.BadParameter(f"{text!r}: needs 1 <= K <= M", param_hint="--debounce")
        out[f"{name}, {k} of {m}"] = {**p, "k": k, "m": m}
    return out


def delay_at(scores: list, streamed: list, streams, threshold: float, k: int, m: int) -> float | None:
    """The median delay (s) of the segments caught at one threshold and debounce (the runtime's matching)."""
    results = [am.match_alerts(am.segments(list(lab)), st, am.debounce(a > threshold, k, m, 1), streams.window,
                               HELD_OUT, streams.rate_hz, UNLABELLED_TIME)
               for a, (st, _, _), lab in zip(scores, streamed, streams.labels, strict=True)]
    return am.combine(results, streams.rate_hz)["delay_seconds_median"]


def main(
    bundle: Annotated[Path, typer.Option(help="The novelty bundle (fp32 graphs).")],
    recordings: Annotated[Path, typer.Option(help="Folder of labelled CSV recordings.")],
    name: Annotated[str, typer.Option(help="Output: benchmarks/<name>.json and .md.")],
    debounce: Annotated[list[str] | None, typer.Option(
        help="K/M, repeatable: the design the stream uses at these debounces instead of every design at its own.")
    ] = None,
) -> None:
    """Per design, caught segments against false alerts per hour over every threshold, on the recordings."""
    b = Bundle.load(bundle, providers="cpu", threads=1)
    m = b.manifest
    if m.alert is None or m.excluded_class_name is None:
        raise typer.BadParameter("a novelty bundle with an alert point is needed", param_hint="--bundle")
    points = designs(b) if not debounce else at_debounces(designs(b), debounce)
    streams = labelled_streams(sorted(recordings.glob("*.csv")), m)
    streamed = [stream_whole(b, x, streams.hop) for x in streams.x]
    hours = sum(int(streams.normal_mask(lab).sum()) for lab in streams.labels) / streams.rate_hz / 3600
    wb = m.wearer_baseline
    rows = {}
    for design, p in points.items():
        scores = []
        for _, s, c in streamed:
            a = s if p["prior_windows"] is None else adjusted_scores(s, c, wb.prior, p["prior_windows"],
                                                                     wb.memory_windows)
            scores.append(a if p["gate"] is None else gated(a, c, p["gate"]))
        normal = np.concatenate([a[am.window_fraction_held_out(st, streams.window, lab == HELD_OUT) == 0]
                                 for a, (st, _, _), lab in zip(scores, streamed, streams.labels, strict=True)])
        grid = np.unique(np.append(am.threshold_grid(normal), p["threshold"]))
        caught, false = 0, 0
        for a, (st, _, _), lab in zip(scores, streamed, streams.labels, strict=True):
            c, f = am.tally_many(am.debounce_many(a[:, None] > grid[None, :], p["k"], p["m"], 1), st, lab,
                                 streams.window, HELD_OUT, UNLABELLED_TIME)
            caught, false = caught + c, false + f
        rate = false / hours
        at = int(np.searchsorted(grid, p["threshold"]))
        edge = {str(r): int(caught[rate <= r].max()) if (rate <= r).any() else 0 for r in RATES}
        delays, by_index = {}, {}  # rates whose edge sits at the same threshold share its delay
        for r in RATES:  # the lowest threshold catching the edge's segments at this rate: its median delay
            hit = np.flatnonzero((rate <= r) & (caught == edge[str(r)]))
            if len(hit) and edge[str(r)] and int(hit[0]) not in by_index:
                by_index[int(hit[0])] = delay_at(scores, streamed, streams, float(grid[hit[0]]), p["k"], p["m"])
            delays[str(r)] = by_index[int(hit[0])] if len(hit) and edge[str(r)] else None
        rows[design] = {**p, "shipped": {"caught": int(caught[at]), "false_alerts": int(false[at]),
                                         "false_alerts_per_hour": float(rate[at])}, "upper_edge": edge,
                        "upper_edge_median_delay_s": delays}
        typer.echo(f"{design}: {json.dumps(rows[design])}", err=True)
    n_held = sum(int(seg.label == HELD_OUT) for lab in streams.labels for seg in am.segments(list(lab)))
    Path("benchmarks").mkdir(exist_ok=True)
    record = {"bundle": str(bundle), "recordings": str(recordings), "normal_hours": hours,
              "held_out_segments": n_held, "designs": rows}
    Path(f"benchmarks/{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# Alert trade-off curves of {bundle} on {recordings}", "",
             "Made by `python tools/alert_curve.py` (docstring). Each design at its manifest point's prior weight and "
             f"debounce, every threshold: the most of the {n_held} held-out segments any threshold catches at a "
             f"false-alert rate no higher than each column, over {hours:.2f} h of labelled normal time (so 0/h is "
             "no false alert at all), with the median delay at the lowest threshold catching them; then the shipped "
             "threshold's own point. Nothing fitted or chosen here.", "",
             "| design | k of m | " + " | ".join(f"≤ {r:g}/h" for r in RATES) + " | shipped threshold |",
             "|---|---|" + "---:|" * (len(RATES) + 1)]
    for design, r in rows.items():
        s = r["shipped"]
        cells = [f"{r['upper_edge'][str(x)]}" + (f" ({d:.2f} s)" if (d := r["upper_edge_median_delay_s"][str(x)])
                                                   is not None else "") for x in RATES]
        lines.append(f"| {design} | {r['k']} of {r['m']} | " + " | ".join(cells)
                     + f" | {s['caught']}, {s['false_alerts']} false ({s['false_alerts_per_hour']:.2f}/h) |")
    Path(f"benchmarks/{name}.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
