"""The alert point's cross-check (`ssvae_train/export/alert_cross_check.py`): fitted on half of the validation
people, counted on the other half, both ways, and what the export says when the point does not hold."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ssvae_train.export.alert_cross_check import cross_check, people_halves
from ssvae_train.export.alert_point import HELD_OUT, Streams


def test_the_halves_are_whole_people_sorted_and_alternate():
    assert people_halves(["b", "a", "c", "a", "d"]) == ([1, 2, 3], [0, 4])  # a, c | b, d
    assert people_halves(["a", "a"]) is None


def streams_of(noise_by_person: dict[str, float]) -> tuple[Streams, list]:
    """One stream per person, 40 windows of 64 samples (hop 64): 30 windows of normal time scoring 0 but for a
    burst of 3 at that person's noise, then a held-out segment of 10 windows scoring 5."""
    xs, labels, scored, groups = [], [], [], []
    for person, noise in noise_by_person.items():
        lab = np.array(["WALKING"] * 30 * 64 + [HELD_OUT] * 10 * 64, dtype=object)
        s = np.concatenate([np.zeros(30), np.full(10, 5.0)])
        s[10:13] = noise
        xs.append(np.zeros((len(lab), 1), np.float32))
        labels.append(lab)
        scored.append((np.arange(40) * 64, s))
        groups.append(person)
    return Streams(xs, labels, 64, 64, 50.0, {}, unlabelled="", groups=tuple(groups)), scored


def test_a_point_fitted_on_quiet_people_warns_on_noisy_ones():
    """Fitted on each half (the threshold just above its own normal scores, 1 of 1 window), counted on the other:
    the quiet half's threshold (1) raises on the noisy half's normal time, the noisy half's (3) does not on the
    quiet half; every held-out segment is caught both ways."""
    streams, scored = streams_of({"a": 1.0, "b": 3.0, "c": 1.0, "d": 3.0})  # halves a, c | b, d

    def fit(idx):
        top = max(scored[i][1][:30].max() for i in idx)
        return {"threshold": top + 1e-6, "k": 1, "m": 1}, scored

    check = cross_check(streams, fit, target=0.5)
    assert check["fitted_on"] == [["a", "c"], ["b", "d"]]
    assert check["detected"] == check["held_out_segments"] == 4
    hours = 4 * 30 * 64 / 50 / 3600
    assert check["normal_hours"] == pytest.approx(hours)
    assert check["false_alerts"] == 2  # one raise in each of b's and d's normal time (their bursts of 3)
    assert check["false_alerts_per_hour"] == pytest.approx(2 / hours)
    (warning,) = check["warnings"]
    assert "counted on the other half" in warning and "above its target 0.5" in warning
    # people who all look alike: no warning; streams that do not say whose they are: no cross-check
    alike, scored_alike = streams_of({"a": 1.0, "b": 1.0})
    assert cross_check(alike, lambda idx: ({"threshold": 1.0 + 1e-6, "k": 1, "m": 1}, scored_alike),
                       0.5)["warnings"] == []
    assert cross_check(replace(streams, groups=None), fit, 0.5) is None


def test_the_export_cross_checks_the_gated_point_it_ships(tmp_path):
    pytest.importorskip("torch")
    from test_alert_gate import scenario

    from ssvae_train.export.wearer_baseline_fit import fit

    folder, train_x, train_labels, streams = scenario(tmp_path, "WALKING", "WALKING")
    section, _ = fit(folder, train_x, replace(streams, groups=("p", "q")), 1.0, train_labels, "WALKING_DOWNSTAIRS")
    check = section.gate.cross_check
    assert check["fitted_on"] == [["p"], ["q"]] and check["held_out_segments"] == 4
    assert section.cross_check is None  # the gate's point is the one streamed
    assert set(check["warnings"]) <= set(section.gate.warnings or ())
    unnamed, _ = fit(folder, train_x, streams, 1.0, train_labels, "WALKING_DOWNSTAIRS")
    assert unnamed.gate.cross_check is None
