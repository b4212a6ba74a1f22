#!/usr/bin/env python3
"""The best any alert setting could do on the test streams: a diagnostic bound, never an operating point.

    python tools/alerts_bound.py --bundle exported/har-lstm-novelty \\
        --stream runs/har-streams-s0/demo_stream.csv [--stream ...] [--bundle another-score-bundle ...]

`tools/eval_alerts.py` measures the operating point a bundle ships (calibrated on training-split streams).
When it misses a target, this asks whether *any* threshold and debounce could have met it with the same
scores: it tunes both on the test streams themselves — what a shipped setting must never do — and reports
the best it finds. If even that misses, the scores are what limits, not the calibration.

Searched: every threshold at the test streams' normal-window score quantiles (0.5 .. 1, plus one above
them all) x k-of-m debounces with m <= 8 (clear_k = 1, the runtime's `AlertDebouncer`), each optionally on
the score averaged over the last `s` windows (s = 1..4). Alerts are matched with `ssvae_edge.alert_metrics`,
the definitions `eval_alerts.py` uses. Reported per bundle: the setting with the most held-out segments
detected among those within the false-alert and delay targets, and the fewest false alerts among those
detecting the recall target. Writes `benchmarks/alerts-bound.md` and `.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge import alert_metrics as am
from ssvae_edge.labelled import ScoredStream, score_stream

DEBOUNCES = [(k, m) for m in range(1, 9) for k in range(1, m + 1)]
SMOOTHING = (1, 2, 3, 4)
BENCH = Path("benchmarks")


def smoothed(scores: np.ndarray, s: int) -> np.ndarray:
    """Mean of the last `s` scores (fewer at the start), what a device could compute as it streams."""
    n = len(scores)
    sums = np.convolve(scores, np.ones(s))[:n]  # sums of at most s scores: no drift from a running cumsum
    return sums / np.minimum(np.arange(1, n + 1), s)


def sweep(scored: list[ScoredStream], held_out: str, rate: float) -> list[dict]:
    """Every (smoothing, k, m, threshold): held-out segments detected, false alerts, median delay."""
    segs = [am.segments(list(d.labels)) for d in scored]
    normal = [d.held_out_fraction(held_out) == 0 for d in scored]
    out = []
    for s in SMOOTHING:
        scores = [smoothed(d.scores, s) for d in scored]
        grid = am.threshold_grid(np.concatenate([x[n] for x, n in zip(scores, normal, strict=True)]))
        for k, m in DEBOUNCES:
            per_thr: list[list[dict]] = [[] for _ in grid]
            for d, x, seg in zip(scored, scores, segs, strict=True):
                active = am.debounce_many(x[:, None] > grid[None, :], k, m, 1)
                for j in range(len(grid)):
                    per_thr[j].append(am.match_alerts(seg, d.starts, active[:, j], d.window, held_out, rate))
            for j, t in enumerate(grid):
                r = am.combine(per_thr[j], rate)
                out.append({"smooth": s, "k": k, "m": m, "threshold": float(t), "detected": r["detected"],
                            "segments": r["held_out_segments"], "recall": r["recall"],
                            "false_alerts": r["false_alerts"], "false_per_hour": r["false_alerts_per_hour"],
                            "median_delay_s": r["delay_seconds_median"]})
    return out


def false_by_activity(scored: list[ScoredStream], held_out: str) -> dict[str, int]:
    """The bundle's own alerts (its shipped operating point, as `StreamScorer` raised them): each false raise
    counted under the activity (or activities) its window covers."""
    out: dict[str, int] = {}
    for d in scored:
        starts = d.starts
        for i in am.raise_indices(d.alerts):
            acts = sorted(set(d.labels[starts[i]:starts[i] + d.window]))
            if held_out not in acts:
                key = " + ".join(acts)
                out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def best(rows: list[dict], max_false_per_hour: float, max_delay_s: float, min_recall: float) -> dict:
    """The settings that come closest to the targets, from the two sides."""
    def delay(r: dict) -> float:
        return r["median_delay_s"] if r["median_delay_s"] is not None else np.inf

    within = [r for r in rows if r["false_per_hour"] <= max_false_per_hour and delay(r) <= max_delay_s]
    recalled = [r for r in rows if (r["recall"] or 0) >= min_recall and delay(r) <= max_delay_s]
    return {
        "most_detected_within_false_and_delay": max(within, key=lambda r: (r["detected"], -delay(r)), default=None),
        "fewest_false_at_recall_and_delay": min(recalled, key=lambda r: (r["false_alerts"], delay(r)), default=None),
        "most_detected_within_false_any_delay": max(
            (r for r in rows if r["false_per_hour"] <= max_false_per_hour), key=lambda r: (r["detected"], -delay(r)),
            default=None),
        "settings_meeting_all_targets": sum(
            1 for r in within if (r["recall"] or 0) >= min_recall),
    }


def _line(r: dict | None) -> str:
    if r is None:
        return "none"
    d = "-" if r["median_delay_s"] is None else f"{r['median_delay_s']:.2f} s"
    return (f"{r['detected']}/{r['segments']} detected, {r['false_alerts']} false ({r['false_per_hour']:.1f}/h), "
            f"median delay {d} (k/m {r['k']}/{r['m']}, mean of last {r['smooth']}, threshold {r['threshold']:.4g})")


def main(
    bundle: Annotated[list[Path], typer.Option("--bundle", help="Bundle(s) with a held-out class; repeat.")],
    stream: Annotated[list[Path], typer.Option("--stream", help="Test stream CSV (tools/har_streams.py); repeat.")],
    max_false_per_hour: Annotated[float, typer.Option(help="False-alert target.")] = 1.0,
    max_delay_s: Annotated[float, typer.Option(help="Median delay target.")] = 5.0,
    min_recall: Annotated[float, typer.Option(help="Held-out segment recall target.")] = 0.9,
    out: Annotated[Path, typer.Option(help="Markdown report (JSON beside it).")] = BENCH / "alerts-bound.md",
) -> None:
    report = {"what": "diagnostic bound: threshold and debounce tuned on the test streams themselves (never a "
                      "shipped setting)", "targets": {"max_false_per_hour": max_false_per_hour,
                                                      "max_delay_s": max_delay_s, "min_recall": min_recall},
              "streams": [str(p) for p in stream], "bundles": {}}
    for b in bundle:
        bun = Bundle.load(b)
        m = bun.manifest
        held = m.excluded_class_name
        if not held:
            raise typer.BadParameter(f"{b}: the manifest names no held-out class (producer.excluded_class_name)")
        scored = [score_stream(bun, p) for p in stream]
        rows = sweep(scored, held, bun.sample_rate_hz)
        report["bundles"][str(b)] = {"score": m.score_method, "held_out": held,
                                     "run": m.producer.run if m.producer else None,
                                     "shipped_false_alerts_by_activity": false_by_activity(
                                         scored, held),
                                     **best(rows, max_false_per_hour, max_delay_s, min_recall),
                                     "settings_searched": len(rows)}
        typer.echo(f"{b} ({m.score_method}): {report['bundles'][str(b)]['settings_meeting_all_targets']} "
                   f"settings meet every target", err=True)
    lines = ["# Alerts: the best any setting could do on the test streams (a diagnostic bound)", "",
             "`tools/alerts_bound.py` tunes the threshold and the debounce **on the test streams themselves** — "
             "what a shipped operating point must never do — to ask whether the scores could meet issue 16's "
             f"targets at all (recall ≥ {min_recall:.0%}, ≤ {max_false_per_hour:g} false alert per hour, median "
             f"delay ≤ {max_delay_s:g} s). Searched: thresholds at the normal windows' score quantiles × k-of-m "
             f"debounces (m ≤ 8) × the score averaged over the last 1–4 windows. Streams: "
             + ", ".join(f"`{p}`" for p in stream) + ".", "",
             "| bundle (score) | settings meeting every target | most detected within the false-alert and delay "
             "targets | fewest false alerts at the recall and delay targets | most detected within the false-alert "
             "target, any delay |", "|---|---:|---|---|---|"]
    for b, r in report["bundles"].items():
        lines.append(f"| `{b}` ({r['score']}) | {r['settings_meeting_all_targets']} | "
                     f"{_line(r['most_detected_within_false_and_delay'])} | "
                     f"{_line(r['fewest_false_at_recall_and_delay'])} | "
                     f"{_line(r['most_detected_within_false_any_delay'])} |")
    lines += ["", "False alerts of each bundle's own operating point (the manifest's `alert`, as `ssvae-edge stream` "
              "raises them), by the activity the raising window covers: "
              + "; ".join(f"`{b}` {r['shipped_false_alerts_by_activity']}" for b, r in report["bundles"].items())
              + "."]
    lines += ["", "Each bundle is its run exported with its score: "
              + "; ".join(f"`ssvae-export {r['run']} --out {b} --score {r['score']}`"
                          for b, r in report["bundles"].items())
              + "."]
    cmd = "python tools/alerts_bound.py " + " ".join(f"--bundle {b}" for b in bundle) + " " + " ".join(
        f"--stream {p}" for p in stream)
    lines += ["", f"Raw numbers: `{out.with_suffix('.json').name}`. Regenerate: `{cmd}`.", ""]
    out.write_text("\n".join(lines))
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    typer.echo(str(out))


if __name__ == "__main__":
    typer.run(main)
