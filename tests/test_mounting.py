"""The mounting estimate (manifest `mounting`): the features by hand, a model fitted on real phone windows
that tells a phone turned around, the runtime's causal estimate on a real recording as worn and turned, its
modes, and the manifest's guard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ssvae_edge import Bundle, StreamScorer
from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.mounting import MountingEstimate, window_features
from ssvae_edge.sections import Mounting
from ssvae_train.data.hapt import read_hapt_recordings
from ssvae_train.export.mounting_fit import CLIP, FLIP, fit_model, pick_prior, turned_decisions
from ssvae_train.export.validation_windows import recording_windows

SLICE = Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip"


def test_the_features_are_means_deviations_skewness_and_pair_correlations() -> None:
    w = np.array([[[0.0, 1.0], [1.0, 3.0], [2.0, 5.0], [5.0, 7.0]]])  # [1, T=4, C=2]
    f = window_features(w)[0]
    a, b = w[0, :, 0], w[0, :, 1]
    assert f.shape == (3 * 2 + 1,)
    assert np.allclose(f[:2], [a.mean(), b.mean()]) and np.allclose(f[2:4], [a.std(), b.std()], atol=1e-5)
    skew_a = (((a - a.mean()) / (a.std() + 1e-6)) ** 3).mean()
    assert f[4] == pytest.approx(skew_a, rel=1e-4) and f[6] == pytest.approx(np.corrcoef(a, b)[0, 1], rel=1e-4)
    # turned around, the flipped channels' means, skewness and their correlations with the others change sign
    assert np.allclose(window_features(w * [1, -1])[0], f * [1, -1, 1, 1, 1, -1, -1], atol=1e-5)


@pytest.fixture(scope="module")
def slice_model():
    recs, _ = read_hapt_recordings(SLICE)
    train = [r for r in recs if not r.test]
    scaler, lr = fit_model(train, 128, 64)
    n = len(window_features(np.zeros((1, 128, 6)))[0])
    section = Mounting(flip=FLIP, center=tuple(scaler.mean_), scale=tuple(scaler.scale_),
                       weights=tuple(lr.coef_[0]), bias=float(lr.intercept_[0]), clip=CLIP, prior=20.0)
    assert len(section.weights) == n
    return section, [r for r in recs if r.test][0]


def test_a_model_fitted_on_training_people_tells_an_unseen_persons_phone_turned_around(slice_model) -> None:
    section, rec = slice_model
    w, _ = recording_windows(rec, 128, 64)
    est = MountingEstimate(section)
    worn, turned = est.log_odds(w), est.log_odds(w * np.asarray(FLIP, np.float32))
    walking = np.array([set(rec.labels[s:s + 128]) == {"WALKING"} for s in range(0, len(rec.x) - 127, 64)])
    assert walking.sum() > 10
    assert (worn[walking] < 0).mean() > 0.9 and (turned[walking] > 0).mean() > 0.9
    # the runtime's running estimate: never turns the phone as worn back, soon turns the turned one back
    assert not turned_decisions(worn, section.prior).any()
    decided = turned_decisions(turned, section.prior)
    assert decided[np.flatnonzero(walking)[0] + 5:].all()


def test_the_estimate_does_not_depend_on_how_the_stream_is_cut(slice_model, tmp_path: Path) -> None:
    section, rec = slice_model
    bundle = phone_bundle(tmp_path, section.to_json())
    b = Bundle.load(bundle, providers="cpu")
    x = (rec.x[:6000] * np.asarray(FLIP, np.float32)).astype(np.float32)
    whole = StreamScorer(b, batch=64).feed(x)
    scorer = StreamScorer(b, batch=3)
    pieces = [e for i in range(0, len(x), 777) for e in scorer.feed(x[i:i + 777])]
    assert whole == pieces and scorer.summary()["turned_windows"] > 0
    assert StreamScorer(b, mounting="worn").flush()["mounting"] == "worn"
    always = StreamScorer(b, mounting="turned")
    always.feed(x[:1000])
    assert always.summary()["turned_windows"] == always.summary()["windows"]


def phone_bundle(tmp_path: Path, mounting: dict) -> Path:
    """The tests/edge_fixtures graphs on the six phone channels, with `mounting` in the manifest."""
    edge_fixtures = pytest.importorskip("edge_fixtures")
    old = edge_fixtures.CHANNELS
    edge_fixtures.CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    try:
        return edge_fixtures.make_bundle(tmp_path / "phone", graphs=("classifier", "anomaly"), units="g, rad/s",
                                         mounting=mounting)
    finally:
        edge_fixtures.CHANNELS = old


def test_modes_and_a_broken_section_are_one_line(slice_model, tmp_path: Path) -> None:
    edge_fixtures = pytest.importorskip("edge_fixtures")
    section, _ = slice_model
    b = Bundle.load(phone_bundle(tmp_path, section.to_json()), providers="cpu")
    with pytest.raises(InputError, match="mounting must be one of auto, worn, turned"):
        StreamScorer(b, mounting="sideways")
    plain = Bundle.load(edge_fixtures.make_bundle(tmp_path / "plain", graphs=("classifier",)), providers="cpu")
    with pytest.raises(InputError, match="no 'mounting'"):
        StreamScorer(plain, mounting="turned")
    assert StreamScorer(plain, mounting="worn").mounting is None
    broken = phone_bundle(tmp_path / "b", {**section.to_json(), "weights": [1.0, 2.0]})
    with pytest.raises(BundleError, match="'weights' must have 33 numbers for 6 channels"):
        Bundle.load(broken, providers="cpu")
    assert json.loads((broken / "manifest.json").read_text())["mounting"]["prior"] == 20.0


def test_the_prior_is_the_best_turned_around_among_those_that_cost_little_as_worn() -> None:
    off = {"worn": 0.93, "turned": 0.20}
    table = {0.0: {"worn": 0.90, "turned": 0.92}, 5.0: {"worn": 0.926, "turned": 0.88},
             20.0: {"worn": 0.93, "turned": 0.88}, 80.0: {"worn": 0.93, "turned": 0.75}}
    assert pick_prior(off, table) == 20.0  # 0 costs 3 points as worn; 5 and 20 tie turned around: the larger
    assert pick_prior(off, {0.0: {"worn": 0.90, "turned": 0.92}}) is None
