"""The alert point's cross-check (`ssvae_train/export/alert_cross_check.py`): fitted on half of the validation
people, counted on the other half, both ways, and what the export says when the point does not hold."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ssvae_train.export.alert_cross_check import choose_debounce, cross_check, people_halves
from ssvae_train.export.alert_point import DEBOUNCES, HELD_OUT, Streams, point_of_scores


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
    assert "counted on the other half gives 2 false alerts in 0.04 h" in warning and "above the target 0.5" in warning
    # people who all look alike: no warning; streams that do not say whose they are: no cross-check
    alike, scored_alike = streams_of({"a": 1.0, "b": 1.0})
    assert cross_check(alike, lambda idx: ({"threshold": 1.0 + 1e-6, "k": 1, "m": 1}, scored_alike),
                       0.5)["warnings"] == []
    assert cross_check(replace(streams, groups=None), fit, 0.5) == "the validation streams do not say whose they are"
    assert "one person" in cross_check(replace(streams, groups=("a",) * 4), fit, 0.5)
    assert "one half" in cross_check(streams, lambda idx: None if 0 in idx else fit(idx), 0.5)


def test_each_half_chooses_its_gate_and_is_counted_through_it():
    """`wearer_fit` with a gate: each half's fit is the gate's choice on that half, and the other half is counted on
    the scores that gate lets through. Here the normal bursts are called LAYING and the held-out windows WALKING: the
    gate (WALKING) leaves the bursts out, so every segment is caught at no false alert, where the ungated fit's
    threshold must sit above the bursts (9, higher than the held-out windows after the baseline) and catches none."""
    from ssvae_train.export.alert_cross_check import wearer_fit

    streams, scored = streams_of({"a": 9.0, "b": 9.0, "c": 9.0, "d": 9.0})
    streamed = [(st, s, ["LAYING" if 10 <= j < 13 else "WALKING" for j in range(len(s))]) for st, s in scored]
    prior = {"LAYING": 0.0, "WALKING": 0.0}

    def gate(st, half, debounces):  # the gate's choice, as choose_gate would make it: WALKING, its own point
        from ssvae_edge.alert_gate import gated
        from ssvae_edge.wearer_baseline import adjusted_scores
        from ssvae_train.export.alert_point import point_of_scores

        g = [(t, gated(adjusted_scores(s, c, prior, 5, 100), c, ("WALKING",))) for t, s, c in st]
        return ("WALKING",), {**point_of_scores(g, half, 0.5, debounces), "prior_windows": 5}

    ungated = cross_check(streams, wearer_fit(streamed, streams, 0.5, prior, 100, (5,)), 0.5)
    gated_check = cross_check(streams, wearer_fit(streamed, streams, 0.5, prior, 100, (5,), gate), 0.5)
    assert ungated["detected"] == 0 and ungated["false_alerts"] == 0
    assert gated_check["detected"] == 4 and gated_check["false_alerts"] == 0 and gated_check["warnings"] == []


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


def test_hapt_named_csv_recordings_say_whose_they_are(tmp_path):
    """The tools' CSV streams (`labelled_streams`) name each recording's person from HAPT's file names, so the
    cross-check splits them by person; other names leave it unknown (no cross-check, and the export says why)."""
    edge_fixtures = pytest.importorskip("edge_fixtures")
    from ssvae_edge import Bundle
    from ssvae_train.export.labelled_recordings import labelled_streams

    m = Bundle.load(edge_fixtures.make_bundle(tmp_path / "b", graphs=("classifier", "anomaly"),
                                              alert={"k": 2, "m": 2, "clear_k": 1}), providers="cpu").manifest
    x = edge_fixtures.noise_stream(300, seed=1)

    def write(name: str) -> Path:
        rows = [",".join([f"{i / 50:.2f}", *(f"{v:.4f}" for v in row), "WALKING"]) for i, row in enumerate(x)]
        f = tmp_path / f"{name}.csv"
        f.write_text(",".join(["time", *m.channels, "label"]) + "\n" + "\n".join(rows) + "\n")
        return f

    files = [write("exp01_user02"), write("exp05_user03"), write("exp02_user02")]
    assert labelled_streams(files, m).groups == ("user02", "user03", "user02")
    assert labelled_streams([*files, write("walk")], m).groups is None


def bed(held_windows: int) -> tuple[Streams, list]:
    """Four people (a, c quiet | b, d with a burst of 2 windows scoring 3 in their normal time), each with a
    held-out segment of `held_windows` windows scoring 5, 64-sample windows at hop 64."""
    xs, labels, scored, groups = [], [], [], []
    for person, burst in {"a": 0.0, "b": 3.0, "c": 0.0, "d": 3.0}.items():
        lab = np.array(["WALKING"] * 30 * 64 + [HELD_OUT] * held_windows * 64 + ["WALKING"] * 10 * 64, dtype=object)
        s = np.zeros(40 + held_windows)
        s[10:12] = burst
        s[30:30 + held_windows] = 5.0
        xs.append(np.zeros((len(lab), 1), np.float32))
        labels.append(lab)
        scored.append((np.arange(len(s)) * 64, s))
        groups.append(person)
    return Streams(xs, labels, 64, 64, 50.0, {}, unlabelled="", groups=tuple(groups)), scored


def fit_at(streams: Streams, scored: list):
    """The exporter's rule (`point_of_scores`) on one half, restricted to the debounces given."""
    def at(debounces):
        return lambda idx: (point_of_scores([scored[i] for i in idx], streams.subset(idx), 0.5, debounces), scored)
    return at


def test_the_debounce_kept_is_the_one_that_holds_on_the_other_half():
    """Fitted on the quiet half, any debounce that a 2-window burst can trip raises false alerts on the noisy half;
    3 of 4 and 3 of 5 do not, and still catch every 10-window segment: the first of them is kept (ties: delay, k)."""
    streams, scored = bed(10)
    choice = choose_debounce(streams, fit_at(streams, scored), 0.5)
    by = {(c["k"], c["m"]): c for c in choice["debounces"]}
    assert [by[d]["false_alerts"] for d in DEBOUNCES] == [2, 2, 2, 0, 0]
    assert all(c["detected"] == c["held_out_segments"] == 4 for c in choice["debounces"])
    assert choice["chosen"] == [3, 4]


def test_a_debounce_that_catches_under_90_percent_out_of_sample_is_not_kept_for_its_quiet():
    """With 2-window segments, 3 of 4 and 3 of 5 raise no false alert but catch nothing: of those catching them
    all, the fewest false alerts, then the shortest delay (1 of 1)."""
    streams, scored = bed(2)
    choice = choose_debounce(streams, fit_at(streams, scored), 0.5)
    by = {(c["k"], c["m"]): c for c in choice["debounces"]}
    assert by[(3, 4)]["detected"] == by[(3, 5)]["detected"] == 0 and by[(3, 4)]["false_alerts"] == 0
    assert choice["chosen"] == [1, 1]


def test_when_no_debounce_catches_90_percent_the_one_catching_most_is_kept():
    """Each person has a 10-window segment (every debounce catches it), a 2-window one (only 1 of 1, 2 of 2 and 2 of
    3 can) and one that scores like normal time: no debounce reaches 90 % out of sample, so the most caught wins
    over 3 of 4's quiet (no false alert), then the shortest delay (1 of 1)."""
    xs, labels, scored, groups = [], [], [], []
    for person, burst in {"a": 0.0, "b": 3.0, "c": 0.0, "d": 3.0}.items():
        parts = [("WALKING", 20, 0.0), (HELD_OUT, 10, 5.0), ("WALKING", 10, 0.0), (HELD_OUT, 2, 5.0),
                 ("WALKING", 10, 0.0), (HELD_OUT, 4, 0.0), ("WALKING", 10, 0.0)]
        lab = np.concatenate([np.array([name] * n * 64, dtype=object) for name, n, _ in parts])
        s = np.concatenate([np.full(n, v) for _, n, v in parts])
        s[5:7] = burst
        xs.append(np.zeros((len(lab), 1), np.float32))
        labels.append(lab)
        scored.append((np.arange(len(s)) * 64, s))
        groups.append(person)
    streams = Streams(xs, labels, 64, 64, 50.0, {}, unlabelled="", groups=tuple(groups))
    choice = choose_debounce(streams, fit_at(streams, scored), 0.5)
    by = {(c["k"], c["m"]): c for c in choice["debounces"]}
    assert by[(1, 1)]["detected"] == 8 and by[(3, 4)]["detected"] == 4 and by[(3, 4)]["held_out_segments"] == 12
    assert by[(3, 4)]["false_alerts"] == 0 < by[(1, 1)]["false_alerts"]
    assert choice["chosen"] == [1, 1]


def test_the_device_summary_says_when_the_debounce_was_chosen_on_the_cross_checks_halves():
    from ssvae_edge.describe import cross_checked

    check = {"detected": 40, "held_out_segments": 42, "false_alerts_per_hour": 1.07}
    assert "chosen on these halves" in cross_checked(check, True)
    assert "chosen on these halves" not in cross_checked(check, False) and "40/42" in cross_checked(check)


def test_a_delay_asked_keeps_the_fast_debounce_that_catches_90_percent_out_of_sample():
    """AK: on the same bed 3 of 4 is kept for its quiet, three windows (3.84 s) after a segment begins; asked for
    2 s, the debounces catching every segment within 2 s out of sample (1 of 1, at 1.28 s) come first."""
    streams, scored = bed(10)
    free = choose_debounce(streams, fit_at(streams, scored), 0.5)
    fast = choose_debounce(streams, fit_at(streams, scored), 0.5, max_delay=2.0)
    by = {(c["k"], c["m"]): c for c in fast["debounces"]}
    assert free["chosen"] == [3, 4] and by[(3, 4)]["median_delay_s"] > 2.0 >= by[(1, 1)]["median_delay_s"]
    assert fast["chosen"] == [1, 1] and "median delay asked (2 s)" in fast["rule"]
    # asked for less than any debounce can give: the choice without a delay
    assert choose_debounce(streams, fit_at(streams, scored), 0.5, max_delay=0.5)["chosen"] == [3, 4]


def slow_or_fast() -> tuple[Streams, list]:
    """Twenty people: normal time scores 0 with one loud window (4) each, so a 1-of-1 point must sit above 4; their
    held-out segments of 10 windows score 5, but two people's (one in each half of the cross-check) score 3. 1 of 1
    catches 18/20 one window in (1.28 s); 2 of 2 can sit under 3 and catches all, two windows in (2.56 s)."""
    xs, labels, scored, groups = [], [], [], []
    for i, person in enumerate(f"p{j:02d}" for j in range(20)):
        lab = np.array(["WALKING"] * 30 * 64 + [HELD_OUT] * 10 * 64 + ["WALKING"] * 10 * 64, dtype=object)
        s = np.zeros(50)
        s[10] = 4.0
        s[30:40] = 3.0 if i in (9, 18) else 5.0
        xs.append(np.zeros((len(lab), 1), np.float32))
        labels.append(lab)
        scored.append((np.arange(len(s)) * 64, s))
        groups.append(person)
    return Streams(xs, labels, 64, 64, 50.0, {}, unlabelled="", groups=tuple(groups)), scored


def test_a_delay_asked_moves_the_point_to_the_fast_debounce_that_catches_90_percent():
    """AK: asked nothing, the fit takes the debounce catching all twenty (2 of 2, 2.56 s); asked 2 s, 1 of 1 (18/20
    at 1.28 s) comes first; asked 1 s, none meets it and the point is the one without a delay, with a warning."""
    streams, scored = slow_or_fast()
    free = point_of_scores(scored, streams, 0.5)
    fast = point_of_scores(scored, streams, 0.5, max_delay=2.0)
    assert (free["k"], free["m"], free["detected"]) == (2, 2, 20) and free["median_delay_s"] > 2.0
    assert (fast["k"], fast["m"], fast["detected"]) == (1, 1, 18) and fast["median_delay_s"] <= 2.0
    assert not any("asked" in w for w in fast["warnings"])
    none = point_of_scores(scored, streams, 0.5, max_delay=1.0)
    assert (none["k"], none["m"]) == (2, 2) and any("above the 1 s asked" in w for w in none["warnings"])


def test_the_cross_checks_halves_and_the_gates_choice_carry_the_delay_asked():
    """The halves of the wearer fit (`wearer_fit`) and the gate's set choice (`choose_gate`) fit with the delay
    asked, not only the fit on all the people: each half (9 of its 10 people's segments at 1 of 1) and the gate move
    to 1 of 1 as above."""
    from ssvae_train.export.alert_cross_check import wearer_fit
    from ssvae_train.export.alert_gate_choice import choose_gate
    from ssvae_train.export.alert_point import standing

    streams, scored = slow_or_fast()
    streamed = [(st, s, ["WALKING"] * len(s)) for st, s in scored]
    prior, heavy = {"WALKING": 0.0}, (10**6,)  # the prior outweighs the wearer: adjusted scores are the raw ones
    for asked, debounce in ((None, (2, 2)), (2.0, (1, 1))):
        fit = wearer_fit(streamed, streams, 0.5, prior, 100, heavy, max_delay=asked)
        for half in people_halves(streams.groups):
            point, _ = fit(half)
            assert (point["k"], point["m"]) == debounce and point["target_median_delay_s"] == asked
        classes, point, _ = choose_gate(streamed, streams, 0.5, prior, 100, {"WALKING": 1.0}, heavy, max_delay=asked)
        assert classes == ("WALKING",) and (point["k"], point["m"]) == debounce
    # between fits: a point meeting the delay stands above one catching more but slower
    slow = {"detected": 10, "held_out_segments": 10, "median_delay_s": 2.56, "target_median_delay_s": 2.0}
    quick = {**slow, "detected": 9, "median_delay_s": 1.28}
    assert standing(quick) > standing(slow)
    assert standing({**slow, "target_median_delay_s": None}) > standing({**quick, "target_median_delay_s": None})
