#!/usr/bin/env python3
"""Does re-fitting the alert threshold on the device's own people fix the false alerts of new people?

    python tools/recalibration_check.py --data-dir ../shared/data/uci-har [--bundle exported/har-lstm-novelty]

The UCI-HAR test windows are stored person by person, so their first half and second half are mostly
different people. The first half's normal windows (the held-out activity removed) become 20 normal
recordings of 10 minutes, on which `ssvae_edge.recalibrate` re-fits the bundle's thresholds (people A).
The second half becomes three 10-minute test streams with every activity (people B, `tools/har_streams.py`),
on which the bundle is measured before and after at its defaults, as `tools/eval_alerts.py` measures it
(`ssvae_edge.labelled.operating_point`). Writes benchmarks/alerts-recalibration.md and .json; the streams
and the re-fitted bundle go under runs/.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge.contract import Manifest
from ssvae_edge.labelled import operating_point, score_stream
from ssvae_edge.recalibrate import recalibrate
from ssvae_train.data.har_streams import build_streams
from ssvae_train.data.segment_streams import segment_order
from ssvae_train.data.uci_har import load_uci_har
from ssvae_train.files import write_text_atomic

ROOT = Path(__file__).resolve().parent.parent

KEYS = ("threshold", "k", "m", "detected", "held_out_segments", "false_alerts", "false_alerts_per_hour",
        "delay_seconds_median", "window_tpr", "window_fpr")


def main(
    data_dir: Path = typer.Option(Path("../shared/data/uci-har"), help="UCI-HAR zip or folder."),
    bundle: Path = typer.Option(Path("exported/har-lstm-novelty"), help="A bundle with a held-out class."),
    target: float = typer.Option(0.5, help="False alerts per hour to re-fit for."),
    out: Path = typer.Option(Path("benchmarks"), help="Folder for the reports."),
) -> None:
    """Re-fit the alert threshold on people A, measure the bundle on people B before and after."""
    ds = load_uci_har(data_dir)
    held = Manifest.load(bundle).producer.excluded_class
    x, y = ds.x_test, ds.y_test
    half = len(y) // 2
    xa, ya = x[:half][y[:half] != held], y[:half][y[:half] != held]
    classes = np.unique(ya)
    ya = np.searchsorted(classes, ya)
    recordings = [xa[segment_order(ya, len(classes), 234, seed)].reshape(-1, x.shape[2]) for seed in range(20)]
    refit = ROOT / "runs" / f"{bundle.name}-recalibrated"
    manifest = recalibrate(bundle, recordings, refit, target, force=True)
    streams = []
    for seed in range(3):
        folder = ROOT / "runs" / f"har-streams-B-s{seed}"
        build_streams(x[half:], y[half:], list(ds.classes), list(ds.channels), folder,
                      demo_minutes=10, seed=seed)
        streams.append(folder / "demo_stream.csv")
    rows = {}
    for name, path in (("as exported", bundle), ("re-fitted on people A", refit)):
        b = Bundle.load(path, providers="cpu", threads=1)  # at its defaults, as `ssvae-edge stream` runs it
        scored = [score_stream(b, s) for s in streams]
        rows[name] = operating_point(scored, b.manifest.excluded_class_name, b.sample_rate_hz, b.threshold,
                                     scored[0].debounce, replay=False)
    write_text_atomic(out / "alerts-recalibration.json", json.dumps(rows, indent=2) + "\n")
    r = manifest["alert"]["recalibrated"]
    lines = [
        "# Alert threshold re-fitted on the device's people", "",
        f"`python tools/recalibration_check.py --data-dir {data_dir} --bundle {bundle}`. People A: the first "
        f"{half} UCI-HAR test windows, normal activity only ({len(xa)} windows), as 20 recordings ({r['on']}); "
        f"people B: the other {len(y) - half} as three 10-minute streams with every activity "
        f"({rows['as exported']['normal_hours'] * 60:.0f} min of normal activity). Target "
        f"{target:g} false alerts per hour.", "",
        "| bundle | threshold | k/m | held-out segments alerted | false alerts | false / h | median delay s | "
        "window TPR | window FPR |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, d in rows.items():
        delay = "–" if d["delay_seconds_median"] is None else f"{d['delay_seconds_median']:.2f}"
        lines.append(f"| {name} | {d['threshold']:.4g} | {d['k']}/{d['m']} | "
                     f"{d['detected']}/{d['held_out_segments']} | {d['false_alerts']} | "
                     f"{d['false_alerts_per_hour']:.2f} | {delay} | {d['window_tpr']:.3f} | {d['window_fpr']:.3f} |")
    lines += ["", f"Re-fitted on people A: {r['false_alerts_per_hour']['fp32']:.2f} false alerts per hour there "
              f"(threshold {r['previous_threshold']:.4g} -> {manifest['threshold']:.4g}). Raw numbers: "
              "`alerts-recalibration.json` (alerts matched by `ssvae_edge.labelled.operating_point`, the "
              "definitions of `tools/eval_alerts.py`).", ""]
    write_text_atomic(out / "alerts-recalibration.md", "\n".join(lines))
    print(f"wrote {out / 'alerts-recalibration.md'}")


if __name__ == "__main__":
    typer.run(main)
