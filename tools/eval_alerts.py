#!/usr/bin/env python3
"""Streaming anomaly alerts, measured against a held-out activity.

    python tools/har_streams.py --data-dir ../shared/data/uci-har --out /tmp/novelty --demo-minutes 20
    python tools/eval_alerts.py --bundle exported/har-lstm-novelty --run runs/har-lstm-novelty \\
        --stream /tmp/novelty/demo_stream.csv [--stream another.csv ...] [--hop 128]

The bundle was trained with one activity held out (the manifest's `producer.excluded_class`). Each stream
(a CSV from `tools/har_streams.py`: `time`, the channels, `label` = the true activity of every sample) is
scored by the runtime's `StreamScorer` (hop: the manifest's unless `--hop`), and its alerts are matched
against the held-out activity's segments. Several streams are scored one by one (each with a fresh
scorer) and their counts added up.

Definitions (samples are counted from 0 in each stream; a window starting at sample s covers [s, s + W)):

* segment: a maximal run of samples with the same label, [a, b). A held-out segment counts when at
  least one scored window overlaps it.
* alert raise: a scored window at which the runtime's alert state goes from clear to raised.
* detection: a held-out segment [a, b) is detected when an alert is raised at a window that overlaps it
  (s < b and s + W > a). An alert that was already active when the segment began (raised earlier, by
  another window) does not count: it is a raise that detects.
* delay: for a detected segment, (s + W) - a for the first such raise, in samples (and seconds at the
  manifest's rate): the number of samples after the segment's start that must have arrived before the
  alert is known (the raising window is complete at its last sample). It can be shorter than W when the
  raising window started before the segment.
* false alert: a raise at a window that overlaps no held-out segment (every one of its samples is
  normal activity). Every raise is either true (overlaps a held-out segment) or false.
* false alerts per hour = false alerts / (normal samples / sample rate / 3600), with normal samples = all
  samples of the stream(s) whose label is not the held-out activity.
* per-window ROC AUC (scikit-learn): the anomaly score of windows entirely inside held-out segments
  (positives) against windows entirely inside normal segments (negatives); windows that straddle both
  are left out (and counted).

Rows: `default` = the manifest threshold and the bundle's debounce (its calibrated `alert` operating point,
else the runtime's k=3 of m=5, clear below 1), exactly what `StreamScorer` gives; `sweep` = (k, m) in
(1,1), (2,3), (3,5), (4,6) (clear_k = 1) x the alert threshold re-calibrated at quantiles 0.95, 0.99,
0.999 of the anomaly graph's scores on the run's normal validation rows (needs `--run`; without it the
sweep uses the manifest threshold only). The sweep replays the runtime's own `AlertDebouncer` over the
stream's scores (the replay of the default row is checked to give the scorer's alerts exactly).

The streams are read and scored by `ssvae_edge.labelled` (`score_stream`, `operating_point`), the thresholds
re-fitted by `ssvae_train.export.measure.thresholds_on_validation`; this script reports.

Writes `benchmarks/alerts.json` and `benchmarks/alerts.md`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge.alert_metrics import DEFINITIONS, raise_indices, segments
from ssvae_edge.alerts import DEFAULT_CLEAR_K
from ssvae_edge.contract import file_sha256
from ssvae_edge.errors import EdgeError
from ssvae_edge.labelled import ScoredStream, operating_point, replay_matches_runtime, score_stream
from ssvae_train.errors import UserError
from ssvae_train.files import write_text_atomic

KM_SWEEP = ((1, 1), (2, 3), (3, 5), (4, 6))
QUANTILES = (0.95, 0.99, 0.999)
QUICK_MAX_SAMPLES = 30_000


# ---- timelines -----------------------------------------------------------------------------------------
def draw_timelines(scored: list[ScoredStream], held_out: str, threshold: float, rate: float, folder: Path,
                   stem: str) -> list[str]:
    """One PNG per stream: true activity and the classifier's (top), the score against the threshold with
    alerts marked (bottom), on one time axis in minutes. Returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, s in enumerate(scored):
        names = sorted({*s.labels, *s.classes} - {held_out}) + [held_out]
        row_of = {n: j for j, n in enumerate(names)}
        t = np.arange(len(s.labels)) / rate / 60
        mid = (s.starts + s.window / 2) / rate / 60
        scores = s.scores
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True,
                                          gridspec_kw={"height_ratios": [1, 1.3]})
        true_rows = np.array([row_of[lab] for lab in s.labels])
        top.plot(t, true_rows, color="0.35", lw=2.5, label="true activity")
        top.scatter(mid, [row_of[c] for c in s.classes], s=4, color="tab:blue", zorder=3, label="classified as")
        for g in segments(list(s.labels)):
            if g.label == held_out:
                for ax in (top, bottom):
                    ax.axvspan(g.start / rate / 60, g.end / rate / 60, color="tab:red", alpha=0.12, lw=0)
        top.set_yticks(range(len(names)), [f"{n} (held out)" if n == held_out else n for n in names], fontsize=7)
        top.legend(loc="upper right", fontsize=7)
        bottom.plot(mid, scores, lw=0.8, color="tab:gray", label="anomaly score")
        bottom.axhline(threshold, color="tab:orange", lw=1, ls="--", label=f"threshold {threshold:.4g}")
        raises = [int(j) for j in raise_indices(s.alerts)]
        bottom.scatter(mid[raises], scores[raises], marker="v", s=60, color="tab:red", zorder=3,
                       label=f"alert raised ({len(raises)})")
        lo, hi = np.quantile(scores, [0.01, 0.995])
        bottom.set_ylim(lo - 0.1 * (hi - lo), max(hi, threshold) + 0.3 * (hi - lo))
        bottom.set_xlabel("minutes")
        bottom.set_ylabel("score")
        bottom.legend(loc="upper right", fontsize=7)
        top.set_title(f"{s.path.name}: {held_out} held out (shaded); alerts at the bundle's defaults", fontsize=9)
        fig.tight_layout()
        path = folder / f"{stem}-stream{i}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(str(path))
    return files


# ---- report -------------------------------------------------------------------------------------------
def _f(v: Any, fmt: str) -> str:
    return "–" if v is None else format(v, fmt)


def markdown(report: dict[str, Any]) -> str:
    h = report["held_out"]
    streams = "; ".join(f"`{s['path']}` ({s['samples']:,} samples, {s['seconds'] / 60:.1f} min, "
                        f"{s['held_out_segments']} held-out segments)" for s in report["streams"])
    auc = report["window_auc"]
    lines = [
        "# Streaming anomaly alerts", "",
        f"`tools/eval_alerts.py` on `{report['bundle']}` (held-out activity: **{h['name']}**"
        + (f", data-set class {h['index']}" if h["index"] is not None else ", given by --held-out") + "); "
        f"hop {report['hop']}, window {report['window']}, {report['sample_rate_hz']:g} Hz. Streams: {streams}.",
        "",
        f"Per-window ROC AUC, held-out vs normal windows: **{_f(auc['roc_auc'], '.3f')}** "
        f"({auc['positives']} held-out, {auc['negatives']} normal, {auc['straddling_excluded']} straddling windows "
        "left out).", "",
        "| row | quantile | threshold | k/m | clear | recall | detected | delay median (samples / s) | "
        "false alerts | false / h | window TPR | window FPR |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [report["default"], *report["sweep"]]:
        delay = ("–" if r["delay_samples_median"] is None
                 else f"{r['delay_samples_median']:.0f} / {r['delay_seconds_median']:.2f}")
        lines.append("| " + " | ".join([
            r["row"], _f(r["quantile"], "g"), f"{r['threshold']:.5g}", f"{r['k']}/{r['m']}", str(r["clear_k"]),
            _f(r["recall"], ".2f"), f"{r['detected']}/{r['held_out_segments']}", delay, str(r["false_alerts"]),
            _f(r["false_alerts_per_hour"], ".2f"), _f(r["window_tpr"], ".3f"), _f(r["window_fpr"], ".3f"),
        ]) + " |")
    t = report["thresholds"]
    lines += ["", f"Normal activity scored: {report['default']['normal_hours'] * 60:.1f} min. "
              f"Manifest threshold {t['manifest']:.6g} ({json.dumps(t['manifest_calibration'])})."
              + ("" if t["recalibrated"] else " No --run: the sweep uses the manifest threshold only.")]
    if t["recalibrated"]:
        v = t["validation"]
        lines.append(f"Re-calibrated on {v['n_val']} normal validation rows of `{v['run']}` with the bundle's "
                     "anomaly graph: " + ", ".join(f"q{q} → {thr:.6g}" for q, thr in t["recalibrated"].items()) + ".")
    if report.get("figures"):
        lines += ["", "Timelines: " + ", ".join(f"`{f}`" for f in report["figures"]) + "."]
    op = report.get("operating_point")
    if op:
        lines += ["", f"Operating point from the manifest (`alert`, calibrated on {op['normal_hours']:.1f} h of "
                  f"streams of training-split windows, never test): {op['k']} of {op['m']} windows, threshold "
                  f"{op['threshold']:.6g}; expected {op['expected_false_alerts_per_hour']:.2f} false alerts/h, "
                  f"{_f(op.get('window_detection_rate'), '.1%')} of held-out windows above the threshold, "
                  f"{op['detected']}/{op['held_out_segments']} calibration held-out segments alerted."]
    lines += ["", "## Definitions", ""] + [f"- **{k}**: {v}." for k, v in report["definitions"].items()]
    lines += ["", f"Raw numbers: `{report['json']}`. Regenerate: `{report['command']}`.", ""]
    return "\n".join(lines)


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"eval_alerts: error: {' '.join(str(msg).split())}", err=True)
    return typer.Exit(2)


# ---- main ---------------------------------------------------------------------------------------------
def main(
    bundle: Annotated[Path, typer.Option(
        "--bundle", help="Bundle trained with one activity held out (manifest producer.excluded_class).")] = Path(
        "exported/har-lstm-novelty"),
    stream: Annotated[list[Path] | None, typer.Option(
        "--stream", help="Stream CSV from tools/har_streams.py (with a label column); repeat for several.")] = None,
    run: Annotated[Path | None, typer.Option(
        "--run", help="The bundle's training run: re-calibrates the threshold per quantile on its validation rows.")
    ] = None,
    data_dir: Annotated[str | None, typer.Option(
        "--data-dir", help="Data set location for --run, when its recorded data_dir does not resolve here.")] = None,
    hop: Annotated[int | None, typer.Option("--hop", min=1, help="Stream hop (default: the manifest's).")] = None,
    held_out: Annotated[str | None, typer.Option(
        "--held-out", help="Stream label to treat as the held-out activity (default: the manifest's "
                           "producer.excluded_class_name).")] = None,
    max_samples: Annotated[int | None, typer.Option(
        "--max-samples", min=1, help=f"Read at most this many samples per stream ({QUICK_MAX_SAMPLES} with --quick).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for alerts.json and alerts.md.")] = Path("benchmarks"),
    name: Annotated[str, typer.Option("--name", help="File stem of the outputs.")] = "alerts",
    quick: Annotated[bool, typer.Option("--quick", help="Short streams (tests).")] = False,
    figures: Annotated[Path | None, typer.Option(
        "--figures", help="Folder for one timeline PNG per stream (true and predicted activity, score and "
                          "threshold, alerts), e.g. results/figures.")] = None,
) -> None:
    """Score a novelty bundle's stream alerts against the held-out activity; write alerts.json/.md."""
    t0 = time.time()
    if not stream:
        raise _fail("give at least one --stream (a demo stream CSV from tools/har_streams.py)")
    if quick and max_samples is None:
        max_samples = QUICK_MAX_SAMPLES
    try:
        b = Bundle.load(bundle, providers="cpu", threads=1)
        if not b.has("anomaly") or b.threshold is None:
            raise EdgeError(f"{bundle}: no anomaly graph with a threshold: nothing to alert on")
        producer = b.manifest.producer.to_json() if b.manifest.producer else {}
        # The held-out activity is not among the bundle's classes (its classifier never saw it): take its
        # name from the producer record, which uses the data set's numbering and names.
        if held_out is not None:
            h_index, h_name = producer.get("excluded_class") if held_out == producer.get(
                "excluded_class_name") else None, held_out
        elif producer.get("excluded_class_name"):
            h_index, h_name = producer.get("excluded_class"), str(producer["excluded_class_name"])
        else:
            raise EdgeError(f"{bundle}: the manifest names no held-out class (producer.excluded_class_name); "
                            "use a novelty bundle or --held-out NAME")
        rate = float(b.sample_rate_hz or 50.0)
        scored = []
        for p in stream:
            scored.append(score_stream(b, p, max_samples, hop=hop))
            typer.echo(f"eval_alerts: {p}: {len(scored[-1].labels):,} samples, {len(scored[-1].events)} windows, "
                       f"{scored[-1].summary['alerts']} alert(s) at the defaults", err=True)
        recal = val = None
        if run is not None:
            from ssvae_train.export.measure import thresholds_on_validation

            recal, val = thresholds_on_validation(b, run, data_dir, QUANTILES)
    except (EdgeError, UserError, OSError) as e:
        raise _fail(str(e)) from None
    window, hop_used = scored[0].window, scored[0].hop
    segs = [segments(list(s.labels)) for s in scored]

    # per-window AUC (scikit-learn) on the windows wholly held out against those wholly normal
    all_scores = np.concatenate([s.scores for s in scored])
    all_frac = np.concatenate([s.held_out_fraction(h_name) for s in scored])
    pos, neg = all_frac == 1.0, all_frac == 0.0
    auc = None
    if pos.any() and neg.any():
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(pos[pos | neg], all_scores[pos | neg]))
    window_auc = {"roc_auc": auc, "positives": int(pos.sum()), "negatives": int(neg.sum()),
                  "straddling_excluded": int((~pos & ~neg).sum())}

    manifest_thr = float(b.threshold)
    k0, m0, c0 = scored[0].debounce  # the bundle's defaults: its calibrated `alert`, else the runtime's
    cal = b.manifest.threshold_calibration.to_json() if b.manifest.threshold_calibration else {}
    default = {"row": "default", "quantile": cal.get("quantile"),
               **operating_point(scored, h_name, rate, manifest_thr, (k0, m0, c0), replay=False)}
    grid = list(recal.items()) if recal else [(cal.get("quantile"), manifest_thr)]
    sweep = []
    for q, thr in grid:
        for k, m in KM_SWEEP:
            ck = min(DEFAULT_CLEAR_K, k)
            sweep.append({"row": "sweep", "quantile": q, **operating_point(scored, h_name, rate, thr, (k, m, ck))})

    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    cmd = " ".join(["python tools/eval_alerts.py", f"--bundle {bundle}"] + [f"--stream {p}" for p in stream]
                   + ([f"--run {run}"] if run else []) + ([f"--hop {hop}"] if hop else [])
                   + ([f"--figures {figures}"] if figures else []) + (["--quick"] if quick else [])
                   + ([f"--max-samples {max_samples}"] if max_samples and not quick else []))
    report: dict[str, Any] = {
        "tool": "tools/eval_alerts.py", "command": cmd, "json": str(json_path),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)), "quick": quick,
        "bundle": str(bundle), "run": str(run) if run else None,
        "held_out": {"index": h_index, "name": h_name,
                     "source": "--held-out" if held_out is not None else "manifest producer.excluded_class"},
        "hop": hop_used, "window": window, "sample_rate_hz": rate,
        "streams": [{
            "path": str(s.path), "sha256": file_sha256(s.path),
            "samples": len(s.labels), "seconds": len(s.labels) / rate,
            "truncated_to": max_samples if max_samples and len(s.labels) >= max_samples else None,
            "windows": len(s.events), "skipped_windows": s.summary["skipped"],
            "segments": len(sg), "held_out_segments": sum(g.label == h_name for g in sg),
            "held_out_samples": int(sum(g.end - g.start for g in sg if g.label == h_name)),
            "alerts_raised_by_runtime": s.summary["alerts"],
        } for s, sg in zip(scored, segs, strict=True)],
        "debounce_defaults": {"k": k0, "m": m0, "clear_k": c0,
                              "source": "manifest 'alert'" if b.manifest.alert_debounce else "runtime defaults"},
        "operating_point": b.manifest.alert.to_json() if b.manifest.alert else None,
        "thresholds": {"manifest": manifest_thr, "manifest_calibration": cal,
                       "recalibrated": {str(q): v for q, v in recal.items()} if recal else None,
                       "validation": val, "sweep_quantiles": list(QUANTILES) if recal else None},
        "window_auc": window_auc,
        "replay_matches_runtime": replay_matches_runtime(scored, manifest_thr),
        "definitions": DEFINITIONS,
        "default": default,
        "sweep": sweep,
        "seconds": round(time.time() - t0, 1),
    }
    if figures is not None:
        report["figures"] = draw_timelines(scored, h_name, manifest_thr, rate, figures, name)
    write_text_atomic(json_path, json.dumps(report, indent=2) + "\n")
    write_text_atomic(md_path, markdown(report))
    d = default
    typer.echo(f"eval_alerts: {h_name} held out; default row: recall {_f(d['recall'], '.2f')} "
               f"({d['detected']}/{d['held_out_segments']}), median delay {_f(d['delay_samples_median'], '.0f')} "
               f"samples, {d['false_alerts']} false alerts ({_f(d['false_alerts_per_hour'], '.2f')}/h); "
               f"window AUC {_f(auc, '.3f')}; wrote {json_path} and {md_path}", err=True)


if __name__ == "__main__":
    typer.run(main)
