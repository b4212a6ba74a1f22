"""`ssvae-train data check PATH`: what a user runs first on their own data.

It reads the data exactly as `fit` would (same loader, same split and budget), then reports rows,
windows, labelled fraction per class, channels, sample rate and duration, and every problem found, one
line each. `fit` refuses the same problems (the first one, one line, exit 2), so a clean check means a
run can start.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssvae_train.data.budgets import make_split, parse_labels
from ssvae_train.data.dataset import DATASETS, DataSet
from ssvae_train.data.load import load_dataset
from ssvae_train.errors import UserError


def guess_dataset(path: Path) -> str:
    """`arrays` for a .npz file, `recordings` for a folder holding CSVs (or train/, test/), `hapt` for HAPT's
    raw-data layout (a zip or folder with RawData/)."""
    if path.is_file() and path.suffix == ".npz":
        return "arrays"
    if (path.is_dir() and any(path.rglob("RawData/labels.txt"))) or (path.suffix == ".zip" and "HAPT" in path.name):
        return "hapt"
    if path.is_dir() and (any(path.glob("*.csv")) or (path / "train").is_dir() or (path / "test").is_dir()):
        return "recordings"
    raise UserError(f"{path}: neither a .npz file nor a folder of .csv recordings (give --dataset)")


def check_data(
    path: str | Path,
    dataset: str = "auto",
    window: int | None = None,
    hop: int | None = None,
    labels: str = "all",
    seed: int = 0,
    val_fraction: float = 0.1,
) -> tuple[dict, list[str]]:
    """(summary, problems) for the data at `path`; nothing is raised for a problem in the data itself."""
    path = Path(path)
    if dataset == "auto":
        dataset = guess_dataset(path)
    if dataset not in DATASETS:
        raise UserError(f"--dataset {dataset!r}: choose auto or one of {', '.join(DATASETS)}")
    budget = parse_labels(labels)
    summary: dict = {"path": str(path), "dataset": dataset}
    if dataset == "recordings":
        from ssvae_train.data.recordings import scan_recordings

        scan = scan_recordings(path, window, hop)
        summary.update(scan.summary)
        ds, problems = scan.ds, list(scan.problems)
    elif dataset == "arrays":
        from ssvae_train.data.arrays import scan_arrays

        ds, problems = scan_arrays(path)
    else:
        ds, problems = load_dataset(dataset, None if dataset == "digits" else path, window, hop), []
    if ds is None:
        return summary, problems
    summary.update(describe(ds))
    try:
        split = make_split(ds.y_train, ds.n_classes, budget, seed, val_fraction, ds.groups_train, ds.classes)
    except UserError as e:
        problems.append(f"--labels {labels}: {e}" if not str(e).startswith("--labels") else str(e))
        return summary, problems
    summary["split"] = {"train": int(len(split.train)), "labelled": int(len(split.labelled)),
                        "val": int(len(split.val)), "val_labelled": int((ds.y_train[split.val] >= 0).sum()),
                        "labels": labels, "seed": seed}
    return summary, problems


def describe(ds: DataSet) -> dict:
    """Rows, labelled fraction per class, sample shape and, for sensors, channels, rate and duration."""
    n = len(ds.y_train)
    per_class = {
        name: {"labelled": int((ds.y_train == c).sum()), "fraction": round(float((ds.y_train == c).mean()), 4) if n
               else 0.0, "test": int((ds.y_test == c).sum())}
        for c, name in enumerate(ds.classes)
    }
    out = {
        "kind": ds.kind, "sample_shape": list(ds.sample_shape), "units": ds.units, **ds.row_counts(),
        "labelled_fraction": round(float((ds.y_train >= 0).mean()), 4) if n else 0.0, "per_class": per_class,
    }
    if ds.kind == "sensor":
        out.update({"channels": ds.channels, "sample_rate_hz": ds.sample_rate_hz, "window": ds.window,
                    "hop": ds.hop})
        if "duration_s" not in out and ds.sample_rate_hz:
            out["window_seconds"] = round(float(ds.window or 0) / ds.sample_rate_hz, 3)
    return out


def report_lines(summary: dict) -> list[str]:
    """The summary as short human lines (the CLI prints them; --json prints the dict)."""
    lines = [f"{summary['path']}: {summary['dataset']}"]
    if "recordings" in summary:
        r = summary["recordings"]
        dur = summary.get("duration_s")
        lines.append(f"recordings: {r['train']} train, {r['test']} test; {summary['samples']} samples"
                     + (f" ({dur / 3600:.2f} h at {summary['sample_rate_hz']:g} Hz)" if dur else ""))
    if "kind" in summary:
        lines.append(f"samples: {summary['kind']} {summary['sample_shape']} in {summary['units']}")
    if summary.get("channels"):
        lines.append(f"channels ({len(summary['channels'])}): {', '.join(summary['channels'])}")
    if summary.get("window"):
        lines.append(f"windows: {summary['window']} samples, hop {summary['hop']}, at {summary['sample_rate_hz']:g} Hz")
    if "train_rows" in summary:
        lines.append(f"training rows: {summary['train_rows']} ({summary['train_labelled']} labelled, "
                     f"{summary['labelled_fraction']:.1%}; {summary['train_unlabelled']} unlabelled); "
                     f"test rows: {summary['test_rows']}")
        skipped = {k: v for k, v in summary.items() if ("skipped" in k or "mixed" in k) and v}
        if skipped:
            lines.append("not used as labelled: " + ", ".join(f"{k} {v}" for k, v in skipped.items()))
    for name, c in summary.get("per_class", {}).items():
        lines.append(f"  class {name}: {c['labelled']} labelled ({c['fraction']:.1%} of the training rows), "
                     f"{c['test']} test")
    if "split" in summary:
        s = summary["split"]
        lines.append(f"split (--labels {s['labels']}, --seed {s['seed']}): {s['train']} train with {s['labelled']} "
                     f"labelled, {s['val']} validation with {s['val_labelled']} labelled")
    return lines


def summary_json(summary: dict) -> dict:
    """JSON-ready copy (numpy numbers to Python ones)."""
    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v.item() if isinstance(v, np.generic) else v

    return plain(summary)
