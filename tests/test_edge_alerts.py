"""Alerts: k-of-m debounce with hysteresis, on hand-crafted score sequences and through a stream."""

from __future__ import annotations

import numpy as np
import pytest
from edge_fixtures import CHANNELS, THRESHOLD, WINDOW, make_bundle

from ssvae_edge import AlertDebouncer, Bundle, InputError, StreamScorer


def states(flags: str, **kw: int) -> str:
    """Feed '1'/'0' flags (above/below); return the alert states as a string of '1'/'0'."""
    d = AlertDebouncer(**kw)
    return "".join("1" if d.update(f == "1") else "0" for f in flags)


def test_defaults_are_3_of_5_clear_when_none_of_5() -> None:
    d = AlertDebouncer()
    assert (d.k, d.m, d.clear_k) == (3, 5, 1)


def test_single_spikes_never_raise() -> None:
    assert states("1000100010001") == "0" * 13
    assert states("11000110001100") == "0" * 14  # 2 of 5 at most


def test_raises_on_k_of_m_not_necessarily_consecutive() -> None:
    assert states("10101") == "00001"
    assert states("111") == "001"


def test_hysteresis_holds_until_fewer_than_clear_k() -> None:
    # raise at the 3rd above; with clear_k=1 it clears only when all of the last 5 are below
    assert states("1110000011") == "0011111000"
    # while scores hover (1 of 5 above now and then) a raised alert stays raised
    assert states("111" + "00100" + "00000") == "001" + "11111" + "11000"


def test_clear_k_equal_k_means_no_hysteresis() -> None:
    assert states("1110000", k=3, m=5, clear_k=3) == "0011100"  # clears as soon as < 3 of 5
    assert states("1110000", k=3, m=5, clear_k=1) == "0011111"  # default: holds until 0 of 5


def test_raised_counts_episodes_not_windows() -> None:
    d = AlertDebouncer(k=2, m=3, clear_k=1)
    for f in "11000" "0110000" "1":
        d.update(f == "1")
    assert d.raised == 2 and not d.active


@pytest.mark.parametrize("kw, message", [
    ({"k": 0}, "alert_k must be a positive integer"),
    ({"k": 6, "m": 5}, "cannot exceed alert_m"),
    ({"clear_k": 4}, "cannot exceed alert_k"),
    ({"m": 2.5}, "alert_m must be a positive integer"),
])
def test_impossible_settings_are_refused(kw: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        AlertDebouncer(**kw)


def test_stream_alerts_follow_window_scores(tmp_path) -> None:
    """Windows of crafted amplitude: score = mean square, threshold 2 -> amplitude 2 is 'above'."""
    b = Bundle.load(make_bundle(tmp_path / "b"))
    pattern = "0010111100000001"
    rng = np.random.default_rng(0)
    x = np.concatenate([(2.0 if f == "1" else 0.5) * np.sign(rng.standard_normal((WINDOW, len(CHANNELS))))
                        for f in pattern]).astype(np.float32)
    scorer = StreamScorer(b, hop=WINDOW)  # one window per pattern entry
    events = scorer.feed(x)
    assert "".join("1" if e["score"] > THRESHOLD else "0" for e in events) == pattern
    assert "".join("1" if e["alert"] else "0" for e in events) == states(pattern)
    assert "".join("1" if e["alert"] else "0" for e in events) == "0000011111110000"
    s = scorer.flush()
    assert s["alerts"] == 1 and s["alert_active"] is False
    # a higher threshold than the manifest's: nothing is above, nothing fires
    quiet = StreamScorer(b, hop=WINDOW, threshold=10.0)
    assert not any(e["alert"] for e in quiet.feed(x))
