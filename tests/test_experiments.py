"""The pipeline every experiment cell runs (`ssvae_train.experiments.cell.fit_and_evaluate`), on the embedded
digits: fit, evaluate, what the checkpoint says; a second call resumes the run instead of retraining it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")


def test_fit_then_evaluate_records_commands_metrics_and_data(tmp_path: Path) -> None:
    from ssvae_train.experiments.cell import fit_and_evaluate

    run, log = tmp_path / "run", tmp_path / "run.log"
    args = ["--dataset", "digits", "--epochs", "1", "--labels", "50", "--hidden", "16", "--latent-dim", "4"]
    r = fit_and_evaluate(run, args, log)
    assert r["command"].startswith(f"ssvae-train fit --out {run} --dataset digits") and "--resume" not in r["command"]
    assert r["evaluate_command"] == f"ssvae-train evaluate {run} --threads 1"
    assert 0.0 <= r["metrics"]["test_accuracy"] <= 1.0 and r["last_epoch"]["epoch"] == 1
    assert r["data_counts"]["labelled"] == 50 and r["data_line"] and r["data_line"][0].startswith("data:")
    again = fit_and_evaluate(run, [*args[:3], "2", *args[4:]], log)  # two epochs: the run resumes at epoch 2
    assert again["last_epoch"]["epoch"] == 2 and log.read_text().count("epoch 1/") == 1  # epoch 1 ran once
    assert fit_and_evaluate(run, args, log, fit_only=True) is None
    json.dumps(again)  # a cell is plain JSON
