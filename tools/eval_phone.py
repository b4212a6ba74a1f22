#!/usr/bin/env python3
"""The phone bundles measured on whole test recordings, streamed exactly as `ssvae-edge stream` streams them
(the bundle's defaults: hop, class smoothing, alert operating point), against their labels.

    python tools/hapt_recordings.py --data-dir "../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip" \\
        --out runs/hapt-csv/test --people test
    python tools/eval_phone.py --bundle exported/har-phone --recordings runs/hapt-csv/test --name har-phone

Classifier: window accuracy, macro F1 (scikit-learn) and the confusion matrix on the windows lying wholly
inside one activity segment (`ssvae_edge.labelled`). A bundle trained with a class held out (the manifest's
`producer.excluded_class_name`) is also scored for alerts: held-out segments caught, median delay, false
alerts per hour of labelled normal time (the other activities and the transitions), and raises inside
unlabelled stretches apart (`ssvae_edge.alert_metrics.DEFINITIONS`). Writes benchmarks/<name>.json and .md,
and a timeline figure per bundle (results/figures/<name>-timeline.png).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from ssvae_edge import Bundle
from ssvae_edge.contract import file_sha256
from ssvae_edge.labelled import Scored, score_recordings
from ssvae_edge.stream import StreamScorer


def evaluate(bundle: Bundle, files: list[Path], precision: str,
             counted: list[str] | None = None, wearer_baseline: bool | None = None,
             gate: bool | None = None) -> tuple[dict, Scored]:
    """The report of one precision (scikit-learn metrics on the windows wholly inside one segment of a
    `counted` class; default: every bundle class)."""
    s = score_recordings(bundle, files, counted, wearer_baseline=wearer_baseline, gate=gate)
    classes = list(bundle.classes)
    counted = classes if counted is None else counted
    out = {
        "precision": precision, "recordings": len(files), "windows": int(len(s.truth)),
        "accuracy": float(accuracy_score(s.truth, s.predicted)),
        "macro_f1": float(f1_score(s.truth, s.predicted, labels=counted, average="macro")),
        "classes": classes, "counted": counted,
        "confusion": confusion_matrix(s.truth, s.predicted, labels=classes).tolist(),
        "smoothing_windows": bundle.manifest.smoothing_windows,
        "sequence_filter": bundle.manifest.sequence is not None,
        "mounting_estimate": bundle.manifest.mounting is not None,
        "posture_model": bundle.manifest.posture is not None,
        "wearer_baseline_in_manifest": bundle.manifest.wearer_baseline is not None,
        "per_recording": s.per_recording,
    }
    out["wearer_baseline"] = out["wearer_baseline_in_manifest"] and wearer_baseline is not False
    g = bundle.manifest.wearer_baseline.gate if out["wearer_baseline"] else None
    out["alert_gate_in_manifest"] = g is not None
    out["alert_gate"] = list(g.classes) if g is not None and gate is not False else None
    if s.alerts is not None:
        out["alerts"] = s.alerts
    return out, s


def markdown(name: str, bundle_path: Path, r32: dict, r8: dict | None) -> str:
    counted = r32.get("counted", r32["classes"])
    option = "" if counted == r32["classes"] else f" --counted {','.join(counted)}"
    if r32.get("wearer_baseline") is False and r32.get("wearer_baseline_in_manifest"):
        option += " --no-wearer-baseline"
    elif r32.get("alert_gate_in_manifest") and r32.get("alert_gate") is None:
        option += " --no-alert-gate"
    gate = r32.get("alert_gate")
    lines = [f"# {name}: whole recordings streamed by the runtime", "",
             f"Made by `python tools/eval_phone.py --bundle {bundle_path} --recordings DIR --name {name}{option}` on "
             f"{r32['recordings']} recordings, at the bundle's defaults (hop, class smoothing "
             f"{r32['smoothing_windows']} window(s), sequence filter "
             f"{'on' if r32.get('sequence_filter') else 'off'}, mounting estimate "
             f"{'on' if r32.get('mounting_estimate') else 'off'}, posture model "
             f"{'on' if r32.get('posture_model') else 'off'}, alert operating point"
             f"{' on the wearer-adjusted score' if r32.get('wearer_baseline') else ''}"
             f"{', only windows called ' + ' or '.join(gate) + ' raising it' if gate else ''}). Windows scored for "
             f"accuracy: those lying wholly inside one segment of {len(counted)} classes"
             f"{'' if counted == r32['classes'] else ' (' + ', '.join(counted) + ')'}.", "",
             "| precision | windows | accuracy | macro F1 |", "|---|---:|---:|---:|"]
    for r in (r32, r8):
        if r:
            lines.append(f"| {r['precision']} | {r['windows']} | {r['accuracy']:.2%} | {r['macro_f1']:.4f} |")
    lines += ["", "Confusion (fp32; rows: truth, columns: the stream's class):", "",
              "| | " + " | ".join(c[:8] for c in r32["classes"]) + " |",
              "|---|" + "---:|" * len(r32["classes"])]
    for c, row in zip(r32["classes"], r32["confusion"], strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    for r in (r32, r8):
        if r and "alerts" in r:
            a = r["alerts"]
            delay = f"{a['delay_seconds_median']:.2f} s" if a["delay_seconds_median"] is not None else "-"
            lines += ["", f"Alerts ({r['precision']}, held out: {a['held_out']}): {a['detected']}/"
                      f"{a['held_out_segments']} segments caught ({(a['recall'] or 0):.0%}), median delay {delay}, "
                      f"{a['false_alerts']} false alerts in {a['normal_hours']:.2f} h of labelled normal time "
                      f"({a['false_alerts_per_hour']:.2f}/h); {a['unlabelled_raises']} raises inside "
                      f"{a['unlabelled_hours']:.2f} h of unlabelled time (reported apart)."]
    lines += ["", "Per recording (fp32):", "", "| recording | windows | accuracy | alerts |", "|---|---:|---:|---|"]
    for row in r32["per_recording"]:
        al = (f"{row['detected']}/{row['held_out_segments']} caught, {row['false_alerts']} false, "
              f"{row['unlabelled_raises']} in unlabelled" if "detected" in row else "")
        lines.append(f"| {row['recording']} | {row['windows_in_one_segment']} | {row['accuracy']:.2%} | {al} |")
    return "\n".join(lines) + "\n"


def timeline_figure(path: Path, bundle: Bundle, timelines: dict, recording: str,
                    wearer_baseline: bool | None = None, gate: bool | None = None) -> None:
    """The recording's labels, the stream's classes and (anomaly graph) its scores, threshold and alerts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, events = timelines[recording]
    rate = bundle.sample_rate_hz
    names = list(dict.fromkeys([*bundle.classes, *sorted({v for v in labels if v} - set(bundle.classes))]))
    fig, axes = plt.subplots(2 if "score" in events[0] and events[0]["score"] is not None else 1, 1,
                             figsize=(12, 4.5), sharex=True, squeeze=False)
    ax = axes[0][0]
    y_true = [names.index(v) if v else np.nan for v in labels]
    ax.plot(np.arange(len(labels)) / rate, y_true, color="0.6", lw=4, label="label")
    mid = np.array([e["start"] + bundle.window / 2 for e in events]) / rate
    ax.scatter(mid, [names.index(e["class"]) for e in events], s=6, color="C0", label="stream class")
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title(f"{bundle.path.name}: {recording}", fontsize=9)
    if axes.shape[0] == 2:
        ax2 = axes[1][0]
        # what the alerts compare with the threshold: the wearer-adjusted score when the bundle has a baseline
        adjusted = "wearer_score" in events[0]
        threshold = StreamScorer(bundle, wearer_baseline=wearer_baseline, gate=gate).threshold
        ax2.plot(mid, [e["wearer_score" if adjusted else "score"] for e in events], lw=0.8, color="C1",
                 label="anomaly score" + (" minus the wearer's baseline" if adjusted else ""))
        ax2.axhline(threshold, color="k", ls="--", lw=0.8, label="threshold")
        on = [m for m, e in zip(mid, events, strict=True) if e["alert"]]
        ax2.scatter(on, [threshold] * len(on), color="C3", s=8, label="alert active")
        held = bundle.manifest.excluded_class_name
        if held:
            t = np.arange(len(labels)) / rate
            ax2.fill_between(t, 0, 1, where=labels == held, transform=ax2.get_xaxis_transform(), color="C3",
                             alpha=0.15, label=f"{held} (held out)")
        ax2.set_yscale("symlog")
        ax2.legend(loc="upper right", fontsize=7)
    axes[-1][0].set_xlabel("seconds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(
    bundle: Annotated[Path, typer.Option(help="The bundle folder.")],
    recordings: Annotated[Path, typer.Option(help="Folder of labelled CSV recordings (tools/hapt_recordings.py).")],
    name: Annotated[str, typer.Option(help="Output name: benchmarks/<name>.json and .md.")],
    timeline: Annotated[str | None, typer.Option(help="Recording drawn as a timeline (default: the first).")] = None,
    counted: Annotated[str | None, typer.Option(
        help="Comma-separated classes whose windows accuracy is counted on (default: every bundle class); the "
             "HAPT target counts the six activities of a bundle that also has the transitions as classes.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for <name>.json and .md.")] = Path("benchmarks"),
    figure: Annotated[bool, typer.Option(help="Draw results/figures/<name>-timeline.png.")] = True,
    wearer_baseline: Annotated[bool | None, typer.Option(
        "--wearer-baseline/--no-wearer-baseline",
        help="Alerts against the wearer's baseline (default: as the bundle's manifest says) or on the plain score.")
    ] = None,
    gate: Annotated[bool | None, typer.Option(
        "--alert-gate/--no-alert-gate",
        help="With the wearer baseline, alerts only from the gate's classes (default: as the manifest says).")
    ] = None,
) -> None:
    files = sorted(recordings.glob("*.csv"))
    if not files:
        raise typer.BadParameter(f"no .csv in {recordings}", param_hint="--recordings")
    b32 = Bundle.load(bundle, providers="cpu", threads=1)
    wanted = None if counted is None else [c.strip() for c in counted.split(",") if c.strip()]
    unknown = sorted(set(wanted or ()) - set(b32.classes))
    if unknown:
        raise typer.BadParameter(f"not classes of this bundle: {', '.join(unknown)}", param_hint="--counted")
    r32, scored = evaluate(b32, files, "fp32", wanted, wearer_baseline, gate)
    r8 = evaluate(Bundle.load(bundle, providers="cpu", threads=1, precision="int8"), files, "int8", wanted,
                  wearer_baseline, gate)[0] if b32.manifest.graphs_int8 else None
    if figure:
        timeline_figure(Path("results/figures") / f"{name}-timeline.png", b32, scored.streams,
                        timeline or files[0].stem, wearer_baseline, gate)
    out.mkdir(parents=True, exist_ok=True)
    # the manifest's sha256 pins the graphs measured, so a re-exported bundle is not judged on these numbers
    record = {"bundle": str(bundle), "manifest_sha256": file_sha256(bundle / "manifest.json"), "fp32": r32, "int8": r8}
    (out / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(name, bundle, r32, r8))
    typer.echo(markdown(name, bundle, r32, r8))


if __name__ == "__main__":
    typer.run(main)
