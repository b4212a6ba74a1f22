#!/usr/bin/env python3
"""Training speed and memory: seconds per epoch and peak resident memory, per architecture.

    python tools/bench_train.py --data-root ../shared/data --threads 2 [--threads 1]

Each configuration runs in a fresh process (so peak memory is its own) for `--epochs` full epochs of
`ssvae-train fit` on its real data set, and `benchmarks/train.json` collects the numbers with the
machine they ran on. Nothing here is asserted: it is a measurement, not a test.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [
    ("mnist", "dense", "ssvae", "soft-label", "100"),
    ("mnist", "dense", "ssvae", "m2", "100"),
    ("mnist", "dense", "supervised", "soft-label", "100"),
    ("mnist", "conv", "ssvae", "soft-label", "100"),
    ("uci-har", "lstm", "ssvae", "soft-label", "all"),
]

CHILD = r"""
import json, resource, sys, time, torch
from ssvae_train.config import FitConfig
from ssvae_train.training.trainer import fit
from ssvae_train.training.checkpoint import load_checkpoint

torch.set_num_threads(int(sys.argv[7]))
cfg = FitConfig(dataset=sys.argv[1], data_dir=sys.argv[2], arch=sys.argv[3], model=sys.argv[4], objective=sys.argv[5],
                labels=sys.argv[6], epochs=int(sys.argv[9]), device="cpu")
fit(cfg, sys.argv[8], progress=False)
secs = sorted(h["seconds"] for h in load_checkpoint(sys.argv[8])["history"])
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds_per_epoch": secs[len(secs) // 2], "epoch_seconds": secs, "peak_rss_mb": rss_mb}))
"""


def main(
    data_root: Path = typer.Option(ROOT.parent / "shared" / "data", help="Folder holding mnist/ and uci-har/."),
    threads: list[int] = typer.Option([1, 2], help="torch threads (repeatable)."),
    only: str = typer.Option("", help="Only configurations whose arch matches."),
    epochs: int = typer.Option(1, help="Epochs per configuration; the median is reported."),
    out: Path = typer.Option(ROOT / "benchmarks" / "train.json", help="The JSON to write."),
) -> None:
    """Seconds per epoch and peak memory of each configuration, each in a fresh process."""
    rows = []
    load_start = os.getloadavg()
    for t in threads:
        for ds, arch, model, obj, labels in CONFIGS:
            if only and only != arch:
                continue
            data_dir = data_root / ("mnist" if ds == "mnist" else "uci-har")
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [
                    sys.executable,
                    "-c",
                    CHILD,
                    ds,
                    str(data_dir),
                    arch,
                    model,
                    obj,
                    labels,
                    str(t),
                    f"{tmp}/run",
                    str(epochs),
                ]
                env = {**os.environ, "OMP_NUM_THREADS": str(t)}
                t0 = time.time()
                stdout = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout
            r = json.loads(stdout.strip().splitlines()[-1])
            r.update(
                {
                    "dataset": ds,
                    "arch": arch,
                    "model": model,
                    "objective": obj,
                    "labels": labels,
                    "threads": t,
                    "wall_seconds_with_setup": round(time.time() - t0, 1),
                }
            )
            print(json.dumps(r), flush=True)
            rows.append(r)
    import torch

    # The target: a dense MNIST epoch (the full model, soft-label objective) within 5 s on 2 cores.
    key = ("dense", "ssvae", "soft-label", 2)
    dense = [r for r in rows if (r["arch"], r["model"], r["objective"], r["threads"]) == key]
    targets = [
        {
            "what": "dense MNIST ssvae (soft-label) epoch on 2 threads <= 5 s",
            "seconds_per_epoch": r["seconds_per_epoch"],
            "met": r["seconds_per_epoch"] <= 5.0,
        }
        for r in dense
    ]
    result = {
        "targets": targets,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": str(torch.__version__),
            "processor": platform.processor() or platform.machine(),
        },
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "results": rows,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "epochs_per_row": epochs,
        "note": "full epochs of `ssvae-train fit` per row (seconds_per_epoch = their median, the slower of two), "
        "in a fresh process; "
        "peak_rss_mb is the process maximum; "
        "a load average above the core count means other jobs shared the CPU during the measurement",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
