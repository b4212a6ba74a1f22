"""One cell of an experiment, end to end: fit (resumable) -> evaluate -> the cell file
(`results/cells/<experiment>/<cell>.json`), written atomically when the cell is finished."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ssvae_train.experiments.grid import REPO, RUNS, Cell
from ssvae_train.files import write_text_atomic


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}  # one torch thread per cell


def fit_and_evaluate(run_dir: Path, fit_args: list[str], log: Path, restart: bool = False,
                     also_best: bool = False, fit_only: bool = False) -> dict | None:
    """The pipeline every cell runs: `ssvae-train fit` into `run_dir` (resumed where a checkpoint is, unless
    `restart`; its output appended to `log`), then `ssvae-train evaluate` (and with `also_best` at the best
    validation epoch too). Returns the commands, the metrics and what the checkpoint says of the training
    (None with `fit_only`); raises CalledProcessError when a command fails. Paths inside the checkout are
    recorded relative to it."""
    from ssvae_train.training.checkpoint import load_checkpoint  # torch: only a cell that trains needs it

    where = str(run_dir.relative_to(REPO)) if run_dir.is_relative_to(REPO) else str(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    fit = ["ssvae-train", "fit", "--out", where, *fit_args, "--threads", "1"]
    again = ["--force"] if restart else ["--resume"] if (run_dir / "checkpoint.pt").exists() else []
    start = log.stat().st_size if log.exists() else 0
    t0 = time.time()
    with open(log, "a") as fh:
        subprocess.run(fit + again, check=True, env=ENV, cwd=REPO, stdout=fh, stderr=fh)
    fit_seconds = time.time() - t0
    if fit_only:
        return None
    ev = ["ssvae-train", "evaluate", where, "--threads", "1"]
    metrics = json.loads(subprocess.run(ev, check=True, env=ENV, cwd=REPO, capture_output=True, text=True).stdout)
    ckpt = load_checkpoint(run_dir)
    hist = ckpt["history"]
    with open(log) as fh:
        fh.seek(start)
        data_line = [ln.rstrip("\n") for ln in fh if ln.startswith("data:")]
    result = {
        "command": shlex.join(fit),
        "evaluate_command": shlex.join(ev),
        "metrics": metrics,
        "seconds_per_epoch": sum(h["seconds"] for h in hist) / len(hist),
        "last_epoch": hist[-1],
        "fit_seconds": round(fit_seconds, 1),
        "data_counts": ckpt["data"].get("counts"),
        "data_line": data_line,
    }
    if also_best:
        ev_best = ev + ["--weights", "best"]
        out = subprocess.run(ev_best, check=True, env=ENV, cwd=REPO, capture_output=True, text=True).stdout
        result["metrics_best"] = json.loads(out)
        result["evaluate_best_command"] = shlex.join(ev_best)
    return result


def run_cell(cell: Cell, fit_only: bool = False) -> dict | None:
    """Train (or resume) a cell and evaluate it, then write its file; with fit_only, train only and write no
    cell. A generation cell draws its figure instead."""
    t0 = time.time()
    if cell.generate is not None:
        fig = REPO / "results" / "figures" / f"generation-{cell.name}.png"
        fig.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["ssvae-train", "generate", str(RUNS / cell.generate["run"]), "--class", cell.generate["class"],
               "--out", str(fig)]
        subprocess.run(cmd, check=True, env=ENV, capture_output=True, text=True)
        result = {"figure": str(fig.relative_to(REPO)), "command": shlex.join(cmd)}
    else:
        log = cell.run_dir.parent / f"{cell.name}.log"
        result = fit_and_evaluate(cell.run_dir, cell.args, log, also_best=cell.also_best, fit_only=fit_only)
        if result is None:
            return None
    result.update(
        {
            "experiment": cell.experiment,
            "cell": cell.name,
            "wall_seconds": round(time.time() - t0, 1),
            "machine": machine(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    )
    write_text_atomic(cell.out, json.dumps(result, indent=2) + "\n")
    return result



def run_cells(todo: list[Cell], jobs: int, fit_only: bool, say: Callable[[str], None]) -> None:
    """Run cells `jobs` at a time (one thread each), saying one line per cell with the time left; cells stacked
    on another run (M1+M2: --m1-run) start only once every other cell has finished."""
    done, epoch_cost = 0, []

    def one(c: Cell) -> None:
        nonlocal done
        try:
            r = run_cell(c, fit_only)
        except subprocess.CalledProcessError as e:
            say(f"FAILED {c.experiment}/{c.name}: {shlex.join(map(str, e.cmd))} exited {e.returncode}")
            return
        done += 1
        if r is None:
            say(f"[{done}/{len(todo)}] {c.experiment}/{c.name}: trained")
            return
        epoch_cost.append(r["wall_seconds"] / max(1, c.epochs))
        left = sum(x.epochs for x in todo[done:]) * (sum(epoch_cost) / len(epoch_cost)) / jobs
        say(f"[{done}/{len(todo)}] {c.experiment}/{c.name}: {headline(r)} ({r['wall_seconds']:.0f}s; "
            f"~{left / 60:.0f} min left)")

    stacked = [c for c in todo if "--m1-run" in c.args]
    for phase in ([c for c in todo if c not in stacked], stacked):
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, phase))


def headline(r: dict) -> str:
    """A finished cell in a few words: the default anomaly score's ROC AUC, the test accuracy, or the figure."""
    m = r.get("metrics", {})
    for key in ("anomaly", "val_anomaly"):
        if key in m:  # the exported default's ROC AUC (all scores are in the cell)
            a = m[key]
            shown = [a["default"]] if "default" in a else list(a)
            return " ".join(f"{key}[{k}]={a[k]['roc_auc']:.3f}" for k in shown)
    if "test_accuracy" in m:
        return f"acc={m['test_accuracy']:.4f}"
    return r.get("figure", "")

