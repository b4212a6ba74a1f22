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

from ssvae_train.experiments.grid import REPO, RUNS, Cell
from ssvae_train.files import write_text_atomic


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def run_cell(cell: Cell, fit_only: bool = False) -> dict | None:
    """Train (or resume) a cell and evaluate it; with fit_only, train only and write no cell."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    t0 = time.time()
    if cell.generate is not None:
        fig = REPO / "results" / "figures" / f"generation-{cell.name}.png"
        fig.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            "ssvae-train",
            "generate",
            str(RUNS / cell.generate["run"]),
            "--class",
            cell.generate["class"],
            "--out",
            str(fig),
        ]
        subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
        result = {"figure": str(fig.relative_to(REPO)), "command": shlex.join(cmd)}
    else:
        cell.run_dir.parent.mkdir(parents=True, exist_ok=True)
        fit = ["ssvae-train", "fit", "--out", str(cell.run_dir.relative_to(REPO)), *cell.args, "--threads", "1"]
        resume = (cell.run_dir / "checkpoint.pt").exists()
        log = cell.run_dir.parent / f"{cell.name}.log"
        with open(log, "a") as fh:
            subprocess.run(fit + (["--resume"] if resume else []), check=True, env=env, cwd=REPO, stdout=fh, stderr=fh)
        if fit_only:
            return None
        ev = ["ssvae-train", "evaluate", str(cell.run_dir.relative_to(REPO)), "--threads", "1"]
        metrics = json.loads(subprocess.run(ev, check=True, env=env, cwd=REPO, capture_output=True, text=True).stdout)
        from ssvae_train.training.checkpoint import load_checkpoint  # torch: only a cell that trained needs it

        hist = load_checkpoint(cell.run_dir)["history"]
        result = {
            "command": shlex.join(fit),
            "evaluate_command": shlex.join(ev),
            "metrics": metrics,
            "seconds_per_epoch": sum(h["seconds"] for h in hist) / len(hist),
            "last_epoch": hist[-1],
        }
        if cell.also_best:
            ev_best = ev + ["--weights", "best"]
            out = subprocess.run(ev_best, check=True, env=env, cwd=REPO, capture_output=True, text=True).stdout
            result["metrics_best"] = json.loads(out)
            result["evaluate_best_command"] = shlex.join(ev_best)
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

