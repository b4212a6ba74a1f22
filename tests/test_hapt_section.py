"""RESULTS.md § hapt from benchmark files (`ssvae_train.experiments.hapt_section`): the seeds table pairs a
refit with its validated run only where both exist, and the validation-only alert trade-off renders as written."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from ssvae_train.experiments import hapt_section


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from ssvae_train.experiments import hapt_labels_section

    monkeypatch.setattr(hapt_labels_section, "BENCH", tmp_path)  # every part reads through its `read_bench`
    return tmp_path


def _phone(bench: Path, name: str, accuracy: float) -> None:
    (bench / f"{name}.json").write_text(json.dumps({"fp32": {"accuracy": accuracy}}))


def test_seeds_pair_only_the_seeds_that_have_a_refit(bench: Path) -> None:
    for seed, a in enumerate((0.92, 0.95, 0.93)):
        _phone(bench, f"v{seed}", a)
    _phone(bench, "r0", 0.91)
    _phone(bench, "r1", 0.93)
    lines = hapt_section._seeds({0: "v0", 1: "v1", 2: "v2"}, {0: "r0", 1: "r1"})
    assert "| 2 | 93.00% | - | - |" in lines
    assert "| 0 | 92.00% | 91.00% | -1.00 points |" in lines and "| 1 | 95.00% | 93.00% | -2.00 points |" in lines
    summary = next(x for x in lines if x.startswith("Mean"))
    assert "**93.33% ± 1.53%** (n = 3)" in summary  # every validated seed
    assert "(n = 2) 93.50% ± 2.12% against refit on all 21 people **92.00% ± 1.41%**" in summary
    assert "paired difference -1.50 ± 0.71 points" in summary
    named = hapt_section._seeds({0: "v0", 1: "v1"}, {0: "r0", 1: "r1"}, ("sway set only", "current exporter"))
    assert named[0] == "| seed | sway set only | current exporter | difference |"


def test_one_refit_gives_no_spread_rather_than_a_warning(bench: Path) -> None:
    _phone(bench, "v0", 0.92)
    _phone(bench, "v1", 0.94)
    _phone(bench, "r0", 0.90)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "Degrees of freedom <= 0" would be one
        lines = hapt_section._seeds({0: "v0", 1: "v1"}, {0: "r0"})
    summary = next(x for x in lines if x.startswith("Mean"))
    assert "paired difference -2.00 ± nan points" in summary


def test_a_missing_benchmark_is_not_measured_yet(bench: Path) -> None:
    assert hapt_section._seeds({0: "v0"}, {})[0] == "The recipe's seeds: not all measured yet."
    assert hapt_section._testbed("nothing")[0] == "`benchmarks/nothing.json`: not measured yet."


def test_the_testbed_table_has_both_scores_per_target(bench: Path) -> None:
    row = {"target": 1.0, "wearer_baseline": {"detected": 10, "held_out_segments": 60, "false_alerts_per_hour": 0.75},
           "plain_score": {"detected": 6, "held_out_segments": 60, "false_alerts_per_hour": 0.75}}
    (bench / "tb.json").write_text(json.dumps({"normal_hours": 1.332, "rows": [row]}))
    lines = hapt_section._testbed("tb")
    assert "| 1 | 10/60, 0.75 | 6/60, 0.75 |" in lines
    assert any("1.33 h of labelled normal time" in x for x in lines)


def _summary(labels: float, model: str, accuracies: list[float]) -> dict:
    import numpy as np

    return {"labels": labels, "model": model, "n": len(accuracies), "mean": float(np.mean(accuracies)),
            "std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else None, "accuracies": accuracies}


def test_the_label_verdict_needs_the_gap_to_exceed_both_spreads() -> None:
    from ssvae_train.experiments.hapt_labels_section import verdict

    sup = _summary(0.01, "sup", [0.74, 0.73, 0.78])  # std 2.65 points
    assert "**semi-supervised wins**" in verdict(_summary(0.01, "ss", [0.80, 0.81, 0.82]), sup)
    assert "**tie**" in verdict(_summary(0.01, "ss", [0.70, 0.78, 0.86]), sup)  # gap 3 points, its std 8
    assert "**supervised wins**" in verdict(_summary(0.01, "ss", [0.70, 0.70, 0.71]), sup)
    assert verdict(_summary(0.01, "ss", [0.90]), sup) is None  # one seed has no spread


def test_the_labels_table_gives_each_budgets_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ssvae_train.experiments import hapt_labels_section as L

    monkeypatch.setattr(L, "BENCH", tmp_path)
    assert L.labels_table("none")[0] == "`benchmarks/none.json`: not measured yet."
    summary = [_summary(0.01, "ss", [0.80, 0.81, 0.82]), _summary(0.01, "sup", [0.74, 0.73, 0.78]),
               _summary(0.1, "ss", [0.94, 0.95]), _summary(0.1, "sup", [0.93, 0.95])]
    (tmp_path / "t.json").write_text(json.dumps({"runs": [], "summary": summary}))
    lines = L.labels_table("t")
    assert "| 1% | ss | 3 | 81.00% ± 1.00% | 80.00% / 81.00% / 82.00% |" in lines
    assert "- 1% of the labels: gap +6.00% (largest std 2.65%): **semi-supervised wins** (n = 3 / 3)" in lines
    assert any(x.startswith("- 10% of the labels: gap +0.50%") and "**tie**" in x for x in lines)


def _curve_and_point(bench: Path, key: str, bench_name: str, edge_at_1: int, detected: int, delay: float = 6.2
                     ) -> None:
    """One training of AL: its test curve (two debounces; the better catches `edge_at_1` at <= 1/h) and its point."""
    designs = {f"gated, {k} of {m}": {"k": k, "m": m, "upper_edge": {"0.0": n, "1.0": n, "5.0": 37},
                                      "upper_edge_median_delay_s": {"0.0": d, "1.0": d, "5.0": 4.0}}
               for k, m, n, d in ((2, 2, edge_at_1 - 3, 5.1), (3, 4, edge_at_1, delay))}
    (bench / f"alert-curve-debounce-test-{key}.json").write_text(json.dumps(
        {"normal_hours": 0.74, "held_out_segments": 37, "designs": designs}))
    (bench / f"{bench_name}.json").write_text(json.dumps({"fp32": {"alerts": {
        "detected": detected, "held_out_segments": 37, "delay_seconds_median": 6.2, "false_alerts_per_hour": 4.06}}}))


def test_the_alert_bound_says_whether_any_point_of_the_graphs_meets_the_target(bench: Path) -> None:
    from ssvae_train.experiments.hapt_alert_bound import NINE, any_point

    assert any_point()[0].endswith("not measured yet.")
    for i, (key, name) in enumerate(NINE.values()):
        _curve_and_point(bench, key, name, 31 - i, 33)
    lines = any_point()
    assert "| split 0, init 0 (shipped) | 33/37, 6.20 s, 4.06 | 31 (3 of 4, 6.20 s) |" in lines
    (summary,) = [x for x in lines if x.startswith("At ≤ 1 false alert/h")]
    assert "(0 in the test's 0.74 h" in summary and "at most 31 of 37 (27.0 ± 2.7, n = 9)" in summary
    assert "the target asks for 34 within a median of 5 s: no operating point" in summary
    # a training whose best point catches 34 at 6.2 s: enough, too slow; at 4.8 s it meets the target
    _curve_and_point(bench, "s2i1", NINE["split 2, init 1"][1], 34, 33)
    assert any("34 within a median of 5 s: points catch enough, but their median delay is above 5 s" in x
               for x in any_point())
    _curve_and_point(bench, "s2i1", NINE["split 2, init 1"][1], 34, 33, delay=4.8)
    assert any("34 within a median of 5 s: some operating point meets it" in x for x in any_point())
