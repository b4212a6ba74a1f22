"""StreamScorer: windows equal offline slicing for any chunking, labels equal offline classify,
constant memory, timestamps, and the stream-level faults (NaN/inf, channels, partial window, empty)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edge_fixtures import CHANNELS, WINDOW, make_bundle, noise_stream

from ssvae_edge import Bundle, BundleError, InputError, RingBuffer, StreamScorer


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return Bundle.load(make_bundle(tmp_path_factory.mktemp("bundle") / "b"), threads=1)


def random_chunks(x: np.ndarray, rng: np.random.Generator, high: int = 300) -> list[np.ndarray]:
    """Split x into chunks of random sizes, empty chunks included."""
    cuts, pos = [], 0
    while pos < len(x):
        n = int(rng.integers(0, high))
        cuts.append(x[pos:pos + n])
        pos += n
    return cuts


def offline(bundle: Bundle, x: np.ndarray, hop: int) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    starts = list(range(0, len(x) - WINDOW + 1, hop))
    windows = np.stack([x[s:s + WINDOW] for s in starts])
    return starts, windows, bundle.classify(windows), bundle.anomaly_score(windows)


@pytest.mark.parametrize("hop", [64, 128])
@pytest.mark.parametrize("seed", [0, 1])
def test_windows_match_offline_slicing_for_any_chunking(bundle: Bundle, hop: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = noise_stream(3000 + seed * 37, seed=seed)
    scorer = StreamScorer(bundle, hop=hop, batch=7)
    seen: list[np.ndarray] = []
    original = scorer.ring.gather
    scorer.ring.gather = lambda starts, length: seen.append(original(starts, length)) or seen[-1]  # type: ignore
    events = [e for c in random_chunks(x, rng) for e in scorer.feed(c)]
    summary = scorer.flush()

    starts, windows, probs, scores = offline(bundle, x, hop)
    assert [e["start"] for e in events] == starts
    assert [e["window"] for e in events] == [s // hop for s in starts]
    np.testing.assert_array_equal(np.concatenate(seen), windows)  # the very windows scored
    assert [e["class"] for e in events] == [bundle.classes[i] for i in probs.argmax(axis=1)]
    np.testing.assert_allclose([e["prob"] for e in events], probs.max(axis=1), rtol=1e-5)
    np.testing.assert_allclose([e["score"] for e in events], scores, rtol=1e-5)
    assert all(set(e) == {"window", "start", "class", "prob", "score", "alert"} for e in events)
    assert summary["summary"] is True and summary["windows"] == len(starts) and summary["skipped"] == 0
    assert summary["samples"] == len(x)


def test_micro_batches_never_exceed_batch(bundle: Bundle) -> None:
    scorer = StreamScorer(bundle, batch=5)
    sizes: list[int] = []
    original = bundle.classify
    scorer.bundle = type("Spy", (), {})()  # a thin spy around the bundle
    for name in ("has", "classes", "anomaly_score"):
        setattr(scorer.bundle, name, getattr(bundle, name))
    scorer.bundle.classify = lambda x: sizes.append(len(x)) or original(x)  # type: ignore[attr-defined]
    scorer.feed(noise_stream(5000))
    assert sizes and max(sizes) == 5 and sum(sizes) == (5000 - WINDOW) // 64 + 1


def test_memory_is_constant_however_long_the_stream(bundle: Bundle) -> None:
    scorer = StreamScorer(bundle, batch=4)
    cap = scorer.buffer_capacity
    assert cap == WINDOW + 3 * 64
    rng = np.random.default_rng(3)
    chunk = noise_stream(1000)
    lengths = []
    for _ in range(200):  # 200k samples, in chunks smaller and larger than the buffer
        n = int(rng.integers(1, 1000))
        scorer.feed(chunk[:n])
        lengths.append(scorer.buffer_len)
        assert scorer.ring.data.shape == (cap, len(CHANNELS))
    assert max(lengths) <= cap
    assert scorer.ring.capacity == cap  # never reallocated
    assert scorer.flush()["windows"] > 1000


def test_events_carry_time_when_timestamps_are_given(bundle: Bundle) -> None:
    x = noise_stream(600)
    t = 1000.0 + np.arange(600) / 50.0
    scorer = StreamScorer(bundle)
    events = scorer.feed(x[:250], t[:250]) + scorer.feed(x[250:], t[250:])
    assert [e["time"] for e in events] == pytest.approx([1000.0 + s / 50.0 for s in range(0, 473, 64)])
    assert list(events[0]) == ["window", "start", "time", "class", "prob", "score", "alert"]
    with pytest.raises(InputError, match="timestamps must be given with every chunk or with none"):
        scorer.feed(x[:10])
    with pytest.raises(InputError, match="3 timestamps for 10 samples"):
        StreamScorer(bundle).feed(x[:10], t[:3])


def test_hop_larger_than_window_skips_the_gaps(bundle: Bundle) -> None:
    x = noise_stream(2000)
    scorer = StreamScorer(bundle, hop=200, batch=3)
    events = [e for c in random_chunks(x, np.random.default_rng(5), 150) for e in scorer.feed(c)]
    assert [e["start"] for e in events] == list(range(0, 2000 - WINDOW + 1, 200))
    assert scorer.buffer_len <= scorer.buffer_capacity


# ---- faults -------------------------------------------------------------------------------------
def test_nan_and_inf_windows_are_skipped_and_counted_never_scored(bundle: Bundle) -> None:
    x = noise_stream(1000)
    x[300, 2] = np.nan  # inside windows starting at 192, 256
    x[700, 5] = np.inf  # inside windows starting at 576, 640
    scorer = StreamScorer(bundle)
    events = [e for c in np.array_split(x, 7) for e in scorer.feed(c)]
    summary = scorer.flush()
    starts = [e["start"] for e in events]
    assert starts == [s for s in range(0, 1000 - WINDOW + 1, 64) if s not in (192, 256, 576, 640)]
    assert summary["skipped"] == 4 and summary["skipped_reasons"]["non_finite_input"] == 4
    assert summary["windows"] == len(events) == 10


def test_non_finite_model_output_is_skipped_and_counted(bundle: Bundle) -> None:
    x = noise_stream(300)
    x[100:120] = 3e30  # finite input whose mean square overflows float32 -> inf score
    scorer = StreamScorer(bundle)
    events = scorer.feed(x)
    s = scorer.flush()
    assert [e["start"] for e in events] == [128]
    assert s["skipped_reasons"]["non_finite_output"] == 2


def test_wrong_channel_count_is_a_clear_error(bundle: Bundle) -> None:
    scorer = StreamScorer(bundle)
    with pytest.raises(InputError, match=r"expected 9 channels \(body_acc_x, .*\), got 8"):
        scorer.feed(np.zeros((10, 8), np.float32))
    with pytest.raises(InputError, match="samples must hold numbers"):
        scorer.feed(np.array([["a"] * 9]))
    with pytest.raises(InputError, match=r"must be \[T, 9\]"):
        scorer.feed(np.zeros((2, 10, 9)))


def test_final_partial_window_is_dropped_and_counted(bundle: Bundle) -> None:
    scorer = StreamScorer(bundle)
    events = scorer.feed(noise_stream(1000))
    s = scorer.flush()
    assert events[-1]["start"] == 832  # the last complete window: 832..959
    assert s["partial_windows"] == 1 and s["partial_samples"] == 1000 - 960  # never seen by a window
    exact = StreamScorer(bundle)
    exact.feed(noise_stream(WINDOW + 64 * 3))
    assert exact.flush()["partial_windows"] == 0


def test_empty_stream_gives_an_empty_summary(bundle: Bundle) -> None:
    scorer = StreamScorer(bundle)
    assert scorer.feed(np.zeros((0, 9), np.float32)) == []
    s = scorer.flush()
    assert (s["windows"], s["skipped"], s["alerts"], s["samples"], s["partial_windows"]) == (0, 0, 0, 0, 0)
    with pytest.raises(InputError, match="after flush"):
        scorer.feed(np.zeros((1, 9)))


def test_stream_shorter_than_a_window(bundle: Bundle) -> None:
    scorer = StreamScorer(bundle)
    assert scorer.feed(noise_stream(100)) == []
    s = scorer.flush()
    assert s["windows"] == 0 and s["partial_samples"] == 100


def test_bundle_without_anomaly_streams_labels_only(tmp_path: Path) -> None:
    b = Bundle.load(make_bundle(tmp_path / "c", graphs=("classifier",), latent_dim=None))
    scorer = StreamScorer(b)
    events = scorer.feed(noise_stream(300))
    assert events and all(e["score"] is None and e["alert"] is False and e["class"] for e in events)
    assert scorer.flush()["threshold"] is None
    with pytest.raises(InputError, match="no anomaly graph"):
        StreamScorer(b, threshold=1.0)


def test_non_sensor_bundle_cannot_stream(tmp_path: Path) -> None:
    b = Bundle.load(make_bundle(tmp_path / "d", channels=None))
    with pytest.raises(BundleError, match="streaming is for sensor bundles"):
        StreamScorer(b)


@pytest.mark.parametrize("kwargs, message", [
    ({"hop": 0}, "hop must be a positive integer"),
    ({"batch": 0}, "batch must be a positive integer"),
    ({"alert_k": 6}, r"alert_k \(6\) cannot exceed alert_m \(5\)"),
    ({"clear_k": 4}, r"clear_k \(4\) cannot exceed alert_k \(3\)"),
    ({"threshold": float("nan")}, "threshold must be a finite number"),
])
def test_bad_options_are_refused(bundle: Bundle, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        StreamScorer(bundle, **kwargs)


def test_ring_buffer_wraps_around() -> None:
    ring = RingBuffer(5, 1)
    ring.push(np.arange(4, dtype=np.float32)[:, None])
    ring.drop_until(3)
    ring.push(np.arange(4, 8, dtype=np.float32)[:, None])  # wraps
    assert len(ring) == 5 and ring.free == 0
    np.testing.assert_array_equal(ring.gather(np.array([3, 4]), 4)[..., 0], [[3, 4, 5, 6], [4, 5, 6, 7]])
    with pytest.raises(ValueError, match="overflow"):
        ring.push(np.zeros((1, 1), np.float32))
    with pytest.raises(ValueError, match="outside"):
        ring.gather(np.array([2]), 2)


def test_the_manifest_operating_point_is_the_default_debounce(tmp_path: Path) -> None:
    b = Bundle.load(make_bundle(tmp_path / "op", alert={"k": 2, "m": 3, "clear_k": 1, "threshold": 2.0}))
    assert b.manifest.alert_debounce == (2, 3, 1)
    s = StreamScorer(b)
    assert (s.alerts.k, s.alerts.m, s.alerts.clear_k) == (2, 3, 1)
    s = StreamScorer(b, alert_k=4, alert_m=6)  # options given still win, one by one
    assert (s.alerts.k, s.alerts.m, s.alerts.clear_k) == (4, 6, 1)
    plain = StreamScorer(Bundle.load(make_bundle(tmp_path / "plain")))
    assert (plain.alerts.k, plain.alerts.m, plain.alerts.clear_k) == (3, 5, 1)  # no `alert`: the runtime's


@pytest.mark.parametrize("alert, message", [
    ({"k": 4, "m": 3}, "clear_k <= k <= m"),
    ({"m": 3}, "needs 'k' and 'm'"),
    ({"k": 0, "m": 3}, "positive integer"),
    ([2, 3], "must be an object"),
])
def test_a_broken_operating_point_is_refused(tmp_path: Path, alert, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        Bundle.load(make_bundle(tmp_path / "bad", alert=alert))


def test_the_operating_point_holds_at_its_own_hop_only(tmp_path: Path) -> None:
    b = Bundle.load(make_bundle(tmp_path / "hop", alert={"k": 2, "m": 3, "clear_k": 1, "hop": 64}))
    assert (StreamScorer(b, hop=64).alerts.k, StreamScorer(b, hop=64).alerts.m) == (2, 3)
    s = StreamScorer(b, hop=128)  # k of m windows means another span of time at another hop
    assert (s.alerts.k, s.alerts.m, s.alerts.clear_k) == (3, 5, 1)
