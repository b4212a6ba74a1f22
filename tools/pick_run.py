#!/usr/bin/env python3
"""Print the run with the highest last-epoch validation accuracy among the runs given (the rule every
committed bundle is chosen by; results/mnist-bundles.md), after a table of all of them on stderr.

    python tools/pick_run.py runs/mnist-best/conv-m2-lr3e-3-100-s{0,1,2}
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: import the repo's packages
    sys.path.insert(0, str(ROOT))

from ssvae_train.training.checkpoint import load_checkpoint  # noqa: E402


def main(runs: list[str]) -> int:
    if not runs:
        print("pick_run.py: error: give at least one run folder", file=sys.stderr)
        return 2
    val = {}
    for run in runs:
        last = load_checkpoint(run)["history"][-1]
        val[run] = float(last["val_accuracy"])
        print(f"{run}: epoch {last['epoch']}, validation accuracy {val[run]:.4f}", file=sys.stderr)
    print(max(runs, key=lambda r: val[r]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
