"""The alert matching of `ssvae_edge.alert_metrics` (recall, delay, false alerts per hour), by hand.

numpy only, like the runtime: no torch, no tools.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssvae_edge import AlertDebouncer
from ssvae_edge import alert_metrics as ev


def test_match_alerts_on_a_hand_made_sequence() -> None:
    # 60 samples at 2 Hz: A 0-9, X 10-19 (held out), A 20-29, X 30-35, B 36-49, X 50-53, C 54-59
    labels = ["A"] * 10 + ["X"] * 10 + ["A"] * 10 + ["X"] * 6 + ["B"] * 14 + ["X"] * 4 + ["C"] * 6
    segs = ev.segments(labels)
    assert [(s.start, s.end, s.label) for s in segs] == [
        (0, 10, "A"), (10, 20, "X"), (20, 30, "A"), (30, 36, "X"), (36, 50, "B"), (50, 54, "X"), (54, 60, "C")]
    window, hop = 4, 2
    starts = list(range(0, 60 - window + 1, hop))  # 0, 2, ..., 56
    active = {4, 6, 12, 14, 16, 28, 30, 32, 34, 40}
    alerts = [s in active for s in starts]
    # raises at windows starting 4 ([4,8): all A -> false), 12 ([12,16) in X -> detects, delay 16-10 = 6),
    # 28 ([28,32) straddles A/X -> detects the second X, delay 32-30 = 2), 40 ([40,44): all B -> false);
    # the third X segment [50,54) gets no raise -> missed
    assert [starts[i] for i in ev.raise_indices(alerts)] == [4, 12, 28, 40]
    r = ev.match_alerts(segs, starts, alerts, window, "X", rate_hz=2.0)
    assert r["held_out_segments"] == 3 and r["detected"] == 2 and r["recall"] == pytest.approx(2 / 3)
    assert r["delay_samples"] == [6, 2]
    assert r["delay_samples_median"] == 4.0 and r["delay_seconds_median"] == 2.0 and r["delay_samples_max"] == 6
    assert [p["detected"] for p in r["per_segment"]] == [True, True, False]
    assert r["alerts_raised"] == 4 and r["true_alerts"] == 2 and r["false_alerts"] == 2
    # normal samples 10 + 10 + 14 + 6 = 40 -> 20 s at 2 Hz -> 2 false alerts in 20/3600 h = 360 per hour
    assert r["normal_samples"] == 40
    assert r["false_alerts_per_hour"] == pytest.approx(360.0)

    # an alert already active when a held-out segment begins does not detect it (no raise inside)
    long_alert = [s in set(range(4, 40, 2)) for s in starts]  # raised at 4, held through both X segments
    r2 = ev.match_alerts(segs, starts, long_alert, window, "X", rate_hz=2.0)
    assert r2["detected"] == 0 and r2["false_alerts"] == 1 and r2["recall"] == 0.0
    # two streams add up: segments, raises and normal time
    both = ev.combine([r, r2], rate_hz=2.0)
    assert (both["held_out_segments"], both["detected"], both["false_alerts"]) == (6, 2, 3)
    assert both["false_alerts_per_hour"] == pytest.approx(3 / (80 / 2 / 3600))


def test_replayed_debounce_is_the_runtime_debouncer() -> None:
    above = np.random.default_rng(0).random(200) > 0.6
    d = AlertDebouncer(3, 5, 1)
    assert ev.debounce(above, 3, 5, 1) == [d.update(bool(a)) for a in above]
    frac = ev.window_fraction_held_out(np.array([0, 2, 4]), 4, np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=bool))
    assert frac.tolist() == [0.0, 0.5, 1.0]


def test_tally_many_counts_as_match_alerts_does_for_every_candidate() -> None:
    """Held-out segments caught and false alerts for many thresholds at once: the counts `match_alerts` gives
    each threshold's alerts alone (raises wholly inside unlabelled time are neither)."""
    rng = np.random.default_rng(3)
    labels = np.array(["W"] * 700 + ["D"] * 400 + [""] * 300 + ["W"] * 500 + ["D"] * 300 + ["S"] * 600, dtype=object)
    window, hop = 128, 64
    starts = np.arange(0, len(labels) - window + 1, hop)
    held = ev.window_fraction_held_out(starts, window, labels == "D")
    unlabelled = ev.window_fraction_held_out(starts, window, labels == "") == 1
    scores = rng.normal(size=len(starts)) + 2.0 * held + 2.0 * unlabelled  # raises in unlabelled time too
    grid = np.quantile(scores, np.linspace(0.2, 0.99, 12))
    active = ev.debounce_many(scores[:, None] > grid[None, :], 2, 3, 1)
    caught, false = ev.tally_many(active, starts, labels, window, "D", "")
    segs = ev.segments(list(labels))
    for j, t in enumerate(grid):
        one = ev.match_alerts(segs, starts, ev.debounce(scores > t, 2, 3, 1), window, "D", 50.0, "")
        assert (caught[j], false[j]) == (one["detected"], one["false_alerts"]), t
    assert caught.max() == 2 and false.max() > 0  # the grid spans catching both segments and false alerts
