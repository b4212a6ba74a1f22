"""`ssvae_edge.recalibrate`: a bundle's thresholds re-fitted on normal recordings meet their target there,
the copy is a valid bundle with the same graphs, and bad requests are refused. numpy + onnxruntime only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from edge_fixtures import make_bundle

from ssvae_edge import Bundle, InputError, StreamScorer
from ssvae_edge.recalibrate import fit_threshold, recalibrate

RATE = 50


def _normal(minutes: float, seed: int, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((int(minutes * 60 * RATE), 9)) * scale).astype(np.float32)


def test_refit_threshold_meets_the_target_on_the_normal_recordings(tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "b", alert={"k": 2, "m": 3, "clear_k": 1, "hop": 64, "threshold": 2.0})
    # the device's people move more than the training people: scores (mean squares) around 1.7 instead of 1
    recs = [_normal(10, s, scale=1.3) for s in range(4)]
    new = recalibrate(src, recs, tmp_path / "r", target=0.0)
    b = Bundle.load(tmp_path / "r")
    assert b.threshold == new["threshold"] == new["alert"]["threshold"] > 1.3**2
    old = json.loads((src / "manifest.json").read_text())
    assert new["graphs"] == old["graphs"] and new["alert"]["recalibrated"]["previous_threshold"] == 2.0
    # replayed by the runtime itself: no alert on those recordings at the new threshold and debounce
    for r in recs:
        scorer = StreamScorer(b)
        list(scorer.feed(r))
        assert scorer.flush()["alerts"] == 0
    assert (scorer.alerts.k, scorer.alerts.m) == (2, 3)


def test_a_looser_target_gives_a_lower_threshold() -> None:
    rng = np.random.default_rng(0)
    scores = [rng.standard_normal(3000) for _ in range(3)]
    hours = 3 * 3000 * 64 / RATE / 3600
    strict, rate0 = fit_threshold(scores, 1, 1, 1, hours, 0.0)
    loose, rate5 = fit_threshold(scores, 1, 1, 1, hours, 5.0)
    assert loose < strict and rate0 == 0.0 and 0 < rate5 <= 5.0


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    src = make_bundle(tmp_path / "b")
    with pytest.raises(InputError, match="at least"):
        recalibrate(src, [_normal(5, 0)], tmp_path / "r")
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="already exists"):
        recalibrate(src, [_normal(31, 0)], tmp_path / "taken")
    with pytest.raises(InputError, match="sensor bundles"):
        recalibrate(make_bundle(tmp_path / "img", channels=None), [_normal(31, 0)], tmp_path / "r2")
    assert not (tmp_path / "r").exists() and not (tmp_path / "r2").exists()
