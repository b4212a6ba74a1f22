"""The wearer baseline of the alerts (manifest `alert.wearer_baseline`): the recurrence against a hand computation,
the stream's events with and without it, the manifest's checks, and the fit keeping it only where it catches
more held-out segments on validation recordings than the plain score."""

from pathlib import Path

import numpy as np
import pytest

from ssvae_edge import Bundle
from ssvae_edge import alert_metrics as am
from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.stream import StreamScorer
from ssvae_edge.wearer_baseline import WearerBaseline, adjusted_scores

edge_fixtures = pytest.importorskip("edge_fixtures")
SECTION = {"prior": dict.fromkeys(edge_fixtures.CLASSES, 1.0), "prior_windows": 2, "k": 2, "m": 3, "clear_k": 1,
           "threshold": 0.3}


def test_the_baseline_is_the_prior_shrunk_towards_the_wearers_own_scores_of_the_class() -> None:
    wb = WearerBaseline({"A": 10.0, "B": 0.0}, prior_windows=2)
    assert wb.adjust(12.0, "A") == pytest.approx(2.0)  # base = prior
    assert wb.adjust(8.0, "A") == pytest.approx(8.0 - (2 * 10 + 12) / 3)
    assert wb.adjust(5.0, "B") == pytest.approx(5.0)  # B's own history is empty: its prior
    assert wb.adjust(1.0, "A") == pytest.approx(1.0 - (2 * 10 + 12 + 8) / 4)
    np.testing.assert_allclose(adjusted_scores([12.0, 8.0, 5.0, 1.0], ["A", "A", "B", "A"], {"A": 10.0, "B": 0.0}, 2),
                               [2.0, 8.0 - 32 / 3, 5.0, 1.0 - 10.0])


def test_with_a_memory_the_sum_forgets_as_it_learns() -> None:
    wb = WearerBaseline({"A": 0.0}, prior_windows=1, memory_windows=2)
    got = [wb.adjust(v, "A") for v in (4.0, 8.0, 10.0, 10.0)]
    # bases: 0; (0 + 4) / 2; (0 + 12) / 3; then n stays 2 and S = 12 * 1/2 + 10 = 16: (0 + 16) / 3
    assert got == pytest.approx([4.0, 8.0 - 2.0, 10.0 - 4.0, 10.0 - 16 / 3])
    assert wb.counts["A"] == 2 and wb.sums["A"] == pytest.approx(16 / 2 + 10)


def bundle(tmp_path: Path, section: dict | None = SECTION, name: str = "b") -> Bundle:
    alert = {"k": 2, "m": 2, "clear_k": 1, **({"wearer_baseline": section} if section else {})}
    return Bundle.load(edge_fixtures.make_bundle(tmp_path / name, graphs=("classifier", "anomaly"), alert=alert),
                       providers="cpu", threads=1)


def test_the_stream_alerts_on_the_adjusted_score_with_its_own_point(tmp_path: Path) -> None:
    b = bundle(tmp_path)
    x = edge_fixtures.noise_stream(6000, seed=3)
    x[3000:3600] *= 1.8  # louder for a while: the scores rise above the wearer's baseline
    events = StreamScorer(b).feed(x)
    scores = [e["score"] for e in events]
    want = adjusted_scores(scores, [e["class"] for e in events], SECTION["prior"], SECTION["prior_windows"])
    np.testing.assert_allclose([e["wearer_score"] for e in events], want, rtol=1e-5, atol=1e-5)
    assert [e["alert"] for e in events] == am.debounce(want > SECTION["threshold"], 2, 3, 1)
    assert any(e["alert"] for e in events) and not all(e["alert"] for e in events)
    # the same stream in uneven chunks gives the same events: the baseline carries over
    chunked = StreamScorer(b)
    again = [e for i in range(0, len(x), 777) for e in chunked.feed(x[i:i + 777])]
    assert again == events
    summary = chunked.flush()
    assert summary["wearer_baseline"] is True and summary["threshold"] == SECTION["threshold"]


def test_turned_off_the_stream_is_the_plain_scores_at_the_plain_point(tmp_path: Path) -> None:
    b = bundle(tmp_path)
    x = edge_fixtures.noise_stream(3000, seed=1)
    off = StreamScorer(b, wearer_baseline=False)
    events = off.feed(x)
    assert all("wearer_score" not in e for e in events)
    assert [e["alert"] for e in events] == am.debounce(np.array([e["score"] for e in events]) > b.threshold, 2, 2, 1)
    assert off.flush()["wearer_baseline"] is False
    plain = bundle(tmp_path, None, "plain")
    assert "wearer_baseline" not in StreamScorer(plain).flush()
    with pytest.raises(InputError, match="no 'alert.wearer_baseline'"):
        StreamScorer(plain, wearer_baseline=True)
    anomaly_only = Bundle.load(edge_fixtures.make_bundle(tmp_path / "a", graphs=("anomaly",), alert={
        "k": 2, "m": 2, "wearer_baseline": SECTION}), providers="cpu", threads=1)
    assert StreamScorer(anomaly_only).wearer is None  # one baseline per class: no classes, no baseline
    with pytest.raises(InputError, match="no classifier graph"):
        StreamScorer(anomaly_only, wearer_baseline=True)


def test_recalibrating_drops_the_wearer_baseline_and_says_so(tmp_path: Path) -> None:
    """Its point was fitted on other people's adjusted scores: kept, it would overrule the recalibrated one."""
    from ssvae_edge.recalibrate import recalibrate

    b = bundle(tmp_path)
    normal = [edge_fixtures.noise_stream(50 * 60 * 16, seed=s) for s in (1, 2)]  # 32 min of normal activity
    m = recalibrate(b.path, normal, tmp_path / "recal", target=0.0)
    assert "wearer_baseline" not in m["alert"] and "dropped" in m["alert"]["recalibrated"]["wearer_baseline"]
    scorer = StreamScorer(Bundle.load(tmp_path / "recal", providers="cpu", threads=1))
    assert scorer.wearer is None  # alerts on the plain score, at the recalibrated threshold: none on its own data
    assert sum(e["alert"] for x in normal for e in StreamScorer(scorer.bundle).feed(x)) == 0


def test_the_priors_leave_the_held_out_activity_out(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from ssvae_train.export.wearer_baseline_fit import class_priors

    b = Bundle.load(edge_fixtures.make_bundle(tmp_path / "b", graphs=("classifier", "anomaly")), providers="cpu",
                    threads=1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10000, len(edge_fixtures.CHANNELS))).astype(np.float32)
    x[4000:] *= 3.0  # 60 % of the time the held-out activity, much louder
    labels = np.full(len(x), "WALKING", dtype=object)
    labels[4000:] = "WALKING_DOWNSTAIRS"
    with_all = class_priors(b, [x], 64)
    without = class_priors(b, [x], 64, [labels], "WALKING_DOWNSTAIRS")
    assert max(without.values()) < 1.5 < 5.0 < min(with_all.values())


@pytest.mark.parametrize(("change", "says"), [
    ({"prior": {"WALKING": 1.0}}, "has no value for WALKING_UPSTAIRS"),
    ({"prior_windows": 0}, "prior_windows"),
    ({"threshold": "high"}, "threshold"),
    ({"k": 5, "m": 3}, "alert.wearer_baseline' needs clear_k <= k <= m"),
    ({"clear_k": 0}, "alert.wearer_baseline.clear_k' must be a positive integer"),
    ({"memory_windows": 0}, "memory_windows' must be a positive integer"),
])
def test_a_broken_section_is_refused_with_its_key(tmp_path: Path, change: dict, says: str) -> None:
    with pytest.raises(BundleError, match=says):
        bundle(tmp_path, {**SECTION, **change})


def test_the_fit_keeps_the_baseline_only_where_it_catches_more_on_validation(tmp_path: Path) -> None:
    """Two validation wearers: one whose normal activity is loud (plain scores high all along), one quiet whose
    held-out activity is only a little louder. The plain threshold must sit above the loud wearer's normal
    time, so it misses the quiet wearer's held-out segment; measured against each wearer's own baseline, both
    held-out segments stand out. Each recording starts with unlabelled time (setting up), where the baseline
    learns the wearer and raises count as neither false nor true."""
    pytest.importorskip("torch")
    from ssvae_train.export.alert_point import HELD_OUT, Streams
    from ssvae_train.export.wearer_baseline_fit import fit, write_with_baseline

    folder = edge_fixtures.make_bundle(tmp_path / "b", graphs=("classifier", "anomaly"),
                                       alert={"k": 2, "m": 2, "clear_k": 1, "hop": 64})
    rng = np.random.default_rng(0)

    def wearer(normal: float, held: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((9000, len(edge_fixtures.CHANNELS))).astype(np.float32) * normal
        x[6000:7000] *= held / normal
        labels = np.full(len(x), "WALKING", dtype=object)
        labels[:2000] = ""
        labels[6000:7000] = HELD_OUT
        return x, labels

    (xa, la), (xb, lb) = wearer(1.5, 2.2), wearer(1.0, 1.35)
    streams = Streams([xa, xb], [la, lb], 128, 64, 50.0, {"recordings": ["loud", "quiet"]}, unlabelled="")
    training = [rng.standard_normal((6000, len(edge_fixtures.CHANNELS))).astype(np.float32) for _ in range(2)]
    section, wins = fit(folder, training, streams, target=0.5)
    assert wins and section.plain_score["detected"] == 1 and section.detected == 2
    assert section.false_alerts_per_hour <= 0.5 and {c["prior_windows"] for c in section.candidates} == {5, 20}
    write_with_baseline(folder, tmp_path / "out", section)
    scorer = StreamScorer(Bundle.load(tmp_path / "out", providers="cpu", threads=1))
    assert scorer.wearer is not None and scorer.threshold == pytest.approx(section.threshold)


def test_the_stream_command_turns_it_off_and_notes_a_threshold_given(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    b = bundle(tmp_path)
    x = edge_fixtures.noise_stream(2000, seed=4)
    csv = tmp_path / "rec.csv"
    rows = "\n".join(",".join(f"{v:.5f}" for v in r) for r in x)
    csv.write_text(",".join(edge_fixtures.CHANNELS) + "\n" + rows + "\n")

    def stream(*opts: str) -> tuple[list[dict], str]:
        p = subprocess.run([sys.executable, "-m", "ssvae_edge", "stream", str(b.path), "--input", str(csv), *opts],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return [json.loads(line) for line in p.stdout.splitlines()], p.stderr

    on, err = stream()
    assert all("wearer_score" in e for e in on[:-1]) and on[-1]["wearer_baseline"] is True and not err
    off, _ = stream("--no-wearer-baseline")
    assert all("wearer_score" not in e for e in off[:-1]) and off[-1]["threshold"] == b.threshold
    given, err = stream("--threshold", "0.5")
    assert given[-1]["threshold"] == 0.5 and "applies to the wearer-adjusted score" in err
