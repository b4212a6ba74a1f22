"""RESULTS.md (`ssvae_train.experiments.report`, run by tools/report.py) on synthetic cells shaped like the real
ones: numbers, verdicts, gaps in the grid, figures."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ssvae_train.experiments import report

REPORT = Path(__file__).resolve().parent.parent / "tools" / "report.py"

MACHINE = {"platform": "Linux-test-x86_64", "processor": "x86_64", "cpus": 2, "python": "3.11.7"}


def _write(cells: Path, experiment: str, name: str, body: dict) -> None:
    path = cells / experiment / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {
        "experiment": experiment,
        "cell": name,
        "wall_seconds": 12.5,
        "machine": MACHINE,
        "finished": "2026-01-01T00:00:00Z",
    }
    path.write_text(json.dumps({**body, **base}, indent=2))


def label_cell(
    cells: Path,
    arch: str,
    model: str,
    objective: str,
    labels: str,
    seed: int,
    acc: float,
    loss: float,
    experiment: str = "mnist-labels",
    n_labelled: int = 100,
) -> None:
    name = f"{arch}-{model}-{objective if model == 'ssvae' else 'ce'}-{labels}-s{seed}"
    run = f"runs/{experiment}/{name}"
    _write(
        cells,
        experiment,
        name,
        {
            "command": f"ssvae-train fit --out {run} --arch {arch} --model {model} --labels {labels} --seed {seed}",
            "evaluate_command": f"ssvae-train evaluate {run} --threads 1",
            "metrics": {
                "run": run,
                "dataset": "mnist",
                "arch": arch,
                "model": model,
                "objective": objective,
                "labels": labels,
                "n_labelled": n_labelled,
                "seed": seed,
                "epochs": 20,
                "exclude_class": None,
                "n_test": 10000,
                "test_accuracy": acc,
                "test_log_loss": loss,
            },
            "seconds_per_epoch": 1.5,
            "last_epoch": {"epoch": 20, "loss": 1.0, "seconds": 1.5, "val_accuracy": acc, "val_log_loss": loss},
        },
    )


def anomaly_cell(cells: Path, model: str, k: int, aucs: dict[str, float]) -> None:
    name = f"dense-{model}-out{k}-s0"
    run = f"runs/mnist-anomaly/{name}"
    metrics = {
        "run": run,
        "dataset": "mnist",
        "arch": "dense",
        "model": model,
        "objective": "seed",
        "labels": "all",
        "n_labelled": 50000,
        "seed": 0,
        "epochs": 10,
        "exclude_class": k,
        "n_test": 10000,
        "anomaly": {m: {"roc_auc": v, "average_precision": v / 2} for m, v in aucs.items()},
        "anomaly_class": str(k),
    }
    if model == "ssvae":
        metrics.update({"test_accuracy": 0.97, "test_log_loss": 0.1})
    _write(
        cells,
        "mnist-anomaly",
        name,
        {
            "command": f"ssvae-train fit --out {run} --model {model} --exclude-class {k}",
            "evaluate_command": f"ssvae-train evaluate {run} --threads 1",
            "metrics": metrics,
            "seconds_per_epoch": 2.0,
            "last_epoch": {"epoch": 10, "seconds": 2.0},
        },
    )


def build(tmp_path: Path, supervised_accs: tuple[float, ...]) -> str:
    cells = tmp_path / "results" / "cells"
    for s, (acc, loss) in enumerate([(0.70, 1.0), (0.72, 1.2), (0.74, 1.4)]):
        label_cell(cells, "dense", "ssvae", "seed", "100", s, acc, loss)
    for s, acc in enumerate(supervised_accs):
        label_cell(cells, "dense", "supervised", "seed", "100", s, acc, 2.0)
    label_cell(cells, "dense", "ssvae", "seed", "1000", 0, 0.90, 0.4, n_labelled=1000)
    anomaly_cell(cells, "ssvae", 0, {"min": 0.90, "pi": 0.80})
    anomaly_cell(cells, "vae", 0, {"vae": 0.85})
    anomaly_cell(cells, "ssvae", 1, {"min": 0.70, "pi": 0.60})
    anomaly_cell(cells, "vae", 1, {"vae": 0.65})
    fig = tmp_path / "results" / "figures" / "generation-dense-class2.png"
    fig.parent.mkdir(parents=True)
    fig.write_bytes(b"\x89PNG\r\n\x1a\n")
    _write(
        cells,
        "generation",
        "dense-class2",
        {"figure": "results/figures/generation-dense-class2.png", "command": "ssvae-train generate runs/x --class 2"},
    )
    out = tmp_path / "RESULTS.md"
    args = ["--cells", str(cells), "--out", str(out), "--figures", str(tmp_path / "results" / "figures")]
    subprocess.run([sys.executable, str(REPORT), *args], check=True, capture_output=True)
    return out.read_text()


def claim(text: str, number: int) -> str:
    return next(line for line in text.splitlines() if line.startswith(f"{number}. "))


def verdict(line: str) -> tuple[str, list[float]]:
    """A claim's verdict: its outcome (the bold words) and the numbers in the parenthesis after it."""
    m = re.search(r"verdict: \*\*([a-z ]+?)(?: \((\d+) of (\d+) cells\))?\*\*(?: \(([^)]*)\))?", line)
    assert m, line
    nums = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", (m.group(4) or "") if not m.group(2) else m.group(0))]
    return m.group(1), nums


def rows(text: str) -> list[list[str]]:
    """Every markdown table row, as its stripped cells."""
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in text.splitlines() if ln.startswith("| ")]


def gap(cell: str) -> tuple[float, float, int, int, str]:
    """'+10.00 (s_p 2.00, n 3/3): won' -> (10.0, 2.0, 3, 3, 'won')."""
    m = re.fullmatch(r"([+-]?\d+\.\d+) \(s_p (\d+\.\d+), n (\d+)/(\d+)\): (\w+)", cell)
    assert m, cell
    return float(m[1]), float(m[2]), int(m[3]), int(m[4]), m[5]


def gaps(text: str) -> list[tuple[float, float, int, int, str]]:
    return [gap(c) for r in rows(text) for c in r if re.fullmatch(r"[+-]?\d+\.\d+ \(s_p .*", c)]


@pytest.fixture
def text(tmp_path: Path) -> str:
    return build(tmp_path, (0.60, 0.62, 0.64))


def test_tables_hold_mean_and_sample_std(text: str):
    # accuracy 70/72/74 % -> 72.00 ± 2.00; log loss 1.0/1.2/1.4 -> 1.200 ± 0.200; one seed shows no ±
    table = rows(text)
    assert ["dense", "ssvae-soft-label", "72.00 ± 2.00 (n=3)", "90.00 (n=1)", "–"] in table
    assert ["dense", "supervised", "62.00 ± 2.00 (n=3)", "–", "–"] in table
    assert ["dense", "ssvae-soft-label", "1.200 ± 0.200 (n=3)", "0.400 (n=1)", "–"] in table
    # gap +10 points, pooled std 2
    assert (10.0, 2.0, 3, 3, "won") in gaps(text)
    # mnist-best: error = 100 - accuracy of the 100-label semi-supervised model
    assert "28.00 ± 2.00 (n=3)" in text


def test_anomaly_table_and_mean(text: str):
    table = rows(text)
    assert ["0", "0.900", "0.800", "0.850", "0.450", "0.400", "0.425"] in [r[:7] for r in table]
    assert ["**mean**", "0.800 (2 of 10)", "0.700 (2 of 10)", "0.750 (2 of 10)"] in [r[:4] for r in table]
    # min beats vae on both digits, pi on none, but every cell is one seed: no spread, nothing is won or lost
    outcome, nums = verdict(claim(text, 3))
    assert (outcome, nums[:2]) == ("indicative only", [4, 1])
    assert "+0.050 (1 seed, n 1/1): indicative" in text
    assert "MNIST, ssvae min: mean AUROC 0.800 vs vae 0.750, higher on 2 of 2 held-out classes" in claim(text, 3)


def test_verdict_flips_with_the_numbers(tmp_path: Path, text: str):
    outcome, nums = verdict(claim(text, 1))
    assert (outcome, nums[:2]) == ("holds", [1, 1])
    assert "*provisional*: 1 of 12 comparisons measurable" in claim(text, 1)
    flipped = build(tmp_path / "flipped", (0.80, 0.82, 0.84))
    outcome, nums = verdict(claim(flipped, 1))
    assert (outcome, nums[:3]) == ("does not hold", [0, 1, 1])
    assert (-10.0, 2.0, 3, 3, "lost") in gaps(flipped)
    # within one pooled std: a tie, which is not a win
    tie = build(tmp_path / "tie", (0.705, 0.725, 0.745))
    outcome, nums = verdict(claim(tie, 1))
    assert (outcome, nums[:4]) == ("does not hold", [0, 1, 0, 1])


def test_missing_experiments_are_not_measured(text: str):
    assert re.search(r"verdict: \*\*not measured yet \(0 of \d+ cells\)\*\*", claim(text, 2))
    assert re.search(r"## har-anomaly\n\nnot measured yet \(0 of \d+ cells\)", text)
    assert "mnist-best itself: not measured yet (0 of" in text


def test_figures_commands_and_header(tmp_path: Path, text: str):
    figures = tmp_path / "results" / "figures"
    for name in ("budget-mnist-dense.png", "auroc-mnist.png"):
        assert (figures / name).stat().st_size > 1000
        assert f"(results/figures/{name})" in text
    assert not (figures / "budget-har-lstm.png").exists()  # no HAR cells, no HAR plot
    assert "verdict: **see figures**" in claim(text, 4)
    assert "![dense-class2](results/figures/generation-dense-class2.png)" in text
    assert "`ssvae-train evaluate runs/mnist-labels/dense-ssvae-seed-100-s0 --threads 1`" in text
    assert "Linux-test-x86_64, 2 cpus" in text
    assert "python tools/report.py" in text.splitlines()[2]


def test_hand_written_notes_are_included(tmp_path: Path, text: str):
    assert "## What was tried" not in text  # no notes file: no section
    notes = tmp_path / "with-notes" / "results" / "notes.md"
    notes.parent.mkdir(parents=True)
    notes.write_text("Tried alpha 1, 10 and 300 before concluding.\n")
    with_notes = build(tmp_path / "with-notes", (0.60, 0.62, 0.64))
    section = with_notes.split("## What was tried, and what we conclude", 1)[1].split("\n## ", 1)[0]
    assert "Tried alpha 1, 10 and 300 before concluding." in section


def test_earlystop_section_compares_last_and_best_weights(tmp_path: Path):
    cells = tmp_path / "cells"
    # (model, objective, seed, last-epoch accuracy, best-epoch accuracy)
    for model, obj, seed, last, best in [
        ("ssvae", "seed", 0, 0.70, 0.76), ("ssvae", "seed", 1, 0.71, 0.75),
        ("supervised", "seed", 0, 0.72, 0.72), ("supervised", "seed", 1, 0.73, 0.73),
    ]:
        label_cell(cells, "dense", model, obj, "100", seed, last, 1.0, experiment="mnist-earlystop")
        path = next((cells / "mnist-earlystop").glob(f"dense-{model}-*-s{seed}.json"))
        body = json.loads(path.read_text())
        body["metrics_best"] = {**body["metrics"], "test_accuracy": best, "weights": "best", "weights_epoch": 3}
        path.write_text(json.dumps(body))
    text = report.build(cells, tmp_path / "RESULTS.md", tmp_path / "figures", "python tools/report.py")
    section = text.split("## mnist-earlystop")[1].split("\n## ")[0]
    assert "| ssvae-soft-label | 70.50 ± 0.71 (n=2) | 75.50 ± 0.71 (n=2) |" in section
    assert "| last | -2.00 (s_p 0.71, n 2/2): lost |" in section  # behind with its last weights
    assert "| best | +3.00 (s_p 0.71, n 2/2): won |" in section  # ahead when stopped early
