"""The API's recording helpers: `read_recording` (a whole CSV or .npy recording, checked like the CLI's
input), `cut_windows` (the windows a stream scores) and `StreamScorer.run`, whose summary is kept apart
from the window events."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssvae_edge import Bundle, InputError, StreamScorer, cut_windows, read_recording

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "exported" / "har-demo" / "demo_stream.csv"
BUNDLE = ROOT / "exported" / "har-lstm"


def test_read_recording_csv_and_npy(tmp_path: Path) -> None:
    b = Bundle.load(BUNDLE, providers="cpu")
    rec = read_recording(DEMO, b.channels, b.sample_rate_hz)
    assert rec.samples.shape == (14976, 9) and rec.samples.dtype == np.float32
    assert rec.times is not None and rec.times[1] - rec.times[0] == pytest.approx(0.02)
    assert rec.stats.rows == 14976 and rec.stats.measured_rate_hz == 50.0
    np.save(tmp_path / "r.npy", rec.samples)
    again = read_recording(tmp_path / "r.npy", b.channels)
    assert np.array_equal(again.samples, rec.samples) and again.times is None
    chunks = list(rec.chunks(1000))
    assert len(chunks) == 15 and np.array_equal(np.concatenate([c[0] for c in chunks]), rec.samples)
    with pytest.raises(InputError, match="channels"):
        read_recording(tmp_path / "r.npy", b.channels[:3])


def test_cut_windows_are_the_windows_a_stream_scores() -> None:
    x = np.arange(50 * 3, dtype=np.float32).reshape(50, 3)
    w = cut_windows(x, 16, 10)
    assert w.shape == (4, 16, 3) and np.array_equal(w[1], x[10:26]) and np.array_equal(w[3], x[30:46])
    assert cut_windows(x[:5], 16, 10).shape == (0, 16, 3)
    with pytest.raises(InputError):
        cut_windows(x[0], 16, 10)


def test_run_yields_window_events_and_keeps_the_summary_apart() -> None:
    b = Bundle.load(BUNDLE, providers="cpu")
    rec = read_recording(DEMO, b.channels, b.sample_rate_hz)
    scorer = StreamScorer(b, hop=128)
    events = list(scorer.run(rec.chunks(777)))
    assert events and not any("summary" in e for e in events)
    s = scorer.summary()
    assert s["summary"] and s["windows"] == len(events) == len(cut_windows(rec.samples, 128, 128))
    probs = b.classify(cut_windows(rec.samples, 128, 128))
    assert [e["class"] for e in events] == [b.classes[i] for i in probs.argmax(1)]
