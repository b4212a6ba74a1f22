"""The sequence filter (manifest `sequence`): the runtime's recurrence against a hand computation, its guards,
what the exporter learns from training recordings and how it decides on validation, and the stream's events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssvae_edge import Bundle, StreamScorer
from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.sequence import ForwardFilter, check_model, forward
from ssvae_train.data.recordings import SensorRecording
from ssvae_train.export.sequence_fit import choose_from, sequence_counts, transition_matrix
from ssvae_train.export.validation_windows import ValidationProbs

T2 = [[0.9, 0.1], [0.2, 0.8]]
PRIOR2 = [0.25, 0.75]


def test_the_filter_is_the_forward_recurrence_computed_by_hand() -> None:
    f = ForwardFilter(T2, PRIOR2)
    # first window: prior * probs / prior = probs
    assert np.allclose(f.update(np.array([0.6, 0.4])), [0.6, 0.4])
    # second: predicted = [0.6*0.9 + 0.4*0.2, 0.6*0.1 + 0.4*0.8] = [0.62, 0.38]; times probs / prior
    b = np.array([0.62 * 0.3 / 0.25, 0.38 * 0.7 / 0.75])
    assert np.allclose(f.update(np.array([0.3, 0.7])), b / b.sum())


def test_a_sticky_filter_holds_a_class_through_one_contrary_window() -> None:
    k = 3
    sticky = np.full((k, k), 0.01) + np.eye(k) * 0.97
    probs = np.array([[0.9, 0.05, 0.05]] * 5 + [[0.3, 0.6, 0.1]] + [[0.9, 0.05, 0.05]] * 2)
    raw, held = probs.argmax(1), forward(probs, sticky, np.full(k, 1 / k)).argmax(1)
    assert raw[5] == 1 and (held == 0).all()
    # a lasting change still gets through
    later = np.concatenate([probs, [[0.05, 0.9, 0.05]] * 6])
    assert forward(later, sticky, np.full(k, 1 / k)).argmax(1)[-1] == 1


def test_a_window_no_move_can_explain_restarts_from_its_own_evidence() -> None:
    never = np.array([[1.0, 0.0], [0.0, 1.0]])  # nothing ever leaves its class
    out = forward(np.array([[1.0, 0.0], [0.0, 1.0]]), never, np.array([0.5, 0.5]))
    assert np.isfinite(out).all() and out.argmax(1).tolist() == [0, 1]


@pytest.mark.parametrize("transition, prior, words", [
    ([[0.5, 0.6], [0.5, 0.5]], [0.5, 0.5], "sum to 1"),
    ([[1.0]], [0.5, 0.5], "must be [2, 2]"),
    (T2, [0.0, 1.0], "class_prior must be positive"),
    ([["a", "b"], [0.5, 0.5]], [0.5, 0.5], "must be numbers"),
])
def test_a_bad_model_is_one_line(transition, prior, words: str) -> None:
    with pytest.raises(InputError, match=None) as e:
        check_model(transition, prior, 2)
    assert words in str(e.value) and "\n" not in str(e.value)


def recording(labels: list[str], window: int = 4, hop: int = 2) -> SensorRecording:
    """One sample label per `hop` samples stretched to whole windows: label runs become window runs."""
    per_sample = np.repeat(np.array(labels, dtype=object), hop)
    per_sample = np.concatenate([per_sample, per_sample[-1:].repeat(window - hop)])
    return SensorRecording(name="r", group="p", x=np.zeros((len(per_sample), 1), np.float32), labels=per_sample)


def test_the_exporter_learns_which_class_follows_which_not_how_often() -> None:
    classes = ["SIT", "STAND", "UP"]
    rec = recording(["SIT"] * 6 + [""] * 4 + ["UP"] * 2 + ["STAND"] * 8 + ["SIT"] * 6)
    moves, runs, windows = sequence_counts([rec], classes, window=4, hop=2)
    # windows straddling two labels are unlabelled; the next labelled window across a gap counts
    assert moves[0, 2] == 1 and moves[2, 1] == 1 and moves[1, 0] == 1 and moves[0, 1] == 0
    assert runs[1] == 7 and windows[1] == 7 and windows[2] == 1
    t = transition_matrix(moves, runs, unseen=1e-3)
    assert np.allclose(t.sum(1), 1) and t[1, 1] == pytest.approx(1 - 1 / 7, rel=1e-2)
    assert t[0, 2] == pytest.approx(1000 * t[0, 1])  # seen against never seen: `unseen` times the share
    assert t[1, 0] > t[1, 2]  # STAND was seen going to SIT, never to UP


def test_the_filter_ships_only_when_it_beats_no_filter_on_validation() -> None:
    classes = ["A", "B"]
    train = [recording(["A"] * 20 + ["B"] * 20)]
    codes = np.array([0] * 20 + [1] * 20)
    clean = np.eye(2)[codes] * 0.8 + 0.1
    noisy = clean.copy()
    noisy[[3, 9]], noisy[[25, 31]] = [0.45, 0.55], [0.55, 0.45]  # lone slips inside long runs
    on = choose_from(ValidationProbs([(noisy, codes)], ["v"], 2), train, classes, window=4, smoothing_windows=1)
    off = choose_from(ValidationProbs([(clean, codes)], ["v"], 2), train, classes, window=4, smoothing_windows=1)
    assert on["chosen"] is not None and on["validation_accuracy"]["off"] < 1.0
    assert on["validation_accuracy"][f"{on['chosen']['unseen']:g}"] > on["validation_accuracy"]["off"]
    assert on["chosen"]["transition"][0][0] > 0.9 and "validation people" in on["chosen"]["chosen_on"]
    assert off["chosen"] is None  # a tie goes to no filter


@pytest.fixture()
def sequence_bundle(tmp_path: Path) -> Path:
    edge_fixtures = pytest.importorskip("edge_fixtures")
    k = len(edge_fixtures.CLASSES)
    t = (np.full((k, k), 0.1 / (k - 1)) + np.eye(k) * (0.9 - 0.1 / (k - 1))).tolist()
    return edge_fixtures.make_bundle(tmp_path / "b", graphs=("classifier",),
                                     sequence={"transition": t, "class_prior": [1 / k] * k, "unseen": 0.01})


def test_stream_events_report_the_filtered_class_and_can_turn_it_off(sequence_bundle: Path) -> None:
    edge_fixtures = pytest.importorskip("edge_fixtures")
    b = Bundle.load(sequence_bundle, providers="cpu")
    x = edge_fixtures.noise_stream(3000, seed=1, segment=150)
    on = StreamScorer(b).feed(x)
    off = StreamScorer(b, sequence=False).feed(x)
    starts = np.arange(0, len(x) - b.window + 1, b.hop)
    raw = b.classify(np.stack([x[s:s + b.window] for s in starts]))
    expected = forward(raw, *map(np.array, b.manifest.sequence_model)).argmax(1)
    assert [e["class"] for e in on] == [b.classes[i] for i in expected]
    assert [e["class"] for e in off] == [b.classes[i] for i in raw.argmax(1)]
    assert [e["class"] for e in on] != [e["class"] for e in off]
    scorer = StreamScorer(b)
    assert scorer.flush()["sequence_filter"] is True


def test_asking_for_a_filter_the_bundle_lacks_or_a_broken_one_is_one_line(tmp_path: Path) -> None:
    edge_fixtures = pytest.importorskip("edge_fixtures")
    plain = Bundle.load(edge_fixtures.make_bundle(tmp_path / "plain", graphs=("classifier",)), providers="cpu")
    with pytest.raises(InputError, match="no 'sequence'"):
        StreamScorer(plain, sequence=True)
    bad = edge_fixtures.make_bundle(tmp_path / "bad", graphs=("classifier",),
                                    sequence={"transition": [[1.0]], "class_prior": [1.0]})
    with pytest.raises(BundleError, match="sequence: transition must be"):
        Bundle.load(bad, providers="cpu")
    assert json.loads((bad / "manifest.json").read_text())["sequence"]["class_prior"] == [1.0]
