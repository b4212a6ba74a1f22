"""Every anomaly score of `ssvae_train/scoring/scores.py`: deterministic, independent of the batch, the same in
anomaly.onnx (onnxruntime, fp32 and int8) as in PyTorch, and each one computing what its name says.

A tiny digits model with one class held out, plus a second one held out for the selection protocol.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from reference_scores import score_rows
from sklearn.covariance import LedoitWolf

from ssvae_train.config import FitConfig
from ssvae_train.export import export_run
from ssvae_train.export.config import ExportConfig
from ssvae_train.scoring.scores import (
    PARTS,
    SCORES,
    AnomalyScorer,
    combine,
    default_score,
    fit_on_run,
    part_values,
    parts_of,
)
from ssvae_train.training.evaluate import evaluate_run, load_run
from ssvae_train.training.prepare import prepare
from ssvae_train.training.trainer import fit


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scores")
    fit(FitConfig(dataset="digits", epochs=2, hidden=32, latent_dim=8, exclude_class=3), root / "run", progress=False)
    return root / "run"


@pytest.fixture(scope="module")
def loaded(run):
    _, model, _, prep = load_run(run)
    return model, prep, fit_on_run(model, prep)


@pytest.mark.parametrize("method", SCORES)
def test_every_score_is_deterministic_and_batch_independent(loaded, method):
    model, prep, fitted = loaded
    x = prep.ds.x_test[:40]
    scorer = AnomalyScorer(model, method, fitted).eval()
    with torch.no_grad():
        whole = scorer(torch.from_numpy(x)).numpy()
        again = scorer(torch.from_numpy(x)).numpy()
        one_by_one = np.concatenate([scorer(torch.from_numpy(x[i : i + 1])).numpy() for i in range(len(x))])
    assert whole.shape == (40,) and np.isfinite(whole).all()
    np.testing.assert_array_equal(whole, again)
    np.testing.assert_allclose(one_by_one, whole, rtol=1e-5, atol=1e-5 * np.abs(whole).max())
    # the numpy path evaluation uses (parts computed once, then combined) gives the graph's arithmetic
    values = part_values(model, x, list(PARTS), fitted, batch=7)
    np.testing.assert_allclose(combine(values, method, fitted), whole, rtol=1e-5, atol=1e-5 * np.abs(whole).max())


def test_each_part_computes_what_its_name_says(loaded):
    model, prep, fitted = loaded
    x = prep.ds.x_test[:30]
    values = part_values(model, x, list(PARTS), fitted)
    with torch.no_grad():
        h = model.features(torch.from_numpy(x))
        logits = model.classify_logits(h)
    np.testing.assert_allclose(values["energy"], -torch.logsumexp(logits, 1).numpy(), rtol=1e-5)
    np.testing.assert_allclose(values["msp"], -torch.softmax(logits, 1).max(1).values.numpy(), rtol=1e-5)
    assert (values["min"] <= values["pi"] + 1e-3).all()  # the best class explains x at least as well
    # maha_h: the squared Mahalanobis distance to the nearest class mean, with scikit-learn's Ledoit-Wolf
    # precision of the class-centred training features (labels known: every training row is labelled here)
    rows = prep.split.train
    with torch.no_grad():
        h_train = model.features(torch.from_numpy(prep.ds.x_train[rows])).double().numpy()
    y = prep.ds.y_train[rows]
    means = np.stack([h_train[y == c].mean(0) for c in range(prep.ds.n_classes)])
    precision = LedoitWolf().fit(h_train - means[y]).precision_
    d = h.double().numpy()[:, None, :] - means[None]
    want = np.einsum("nkd,de,nke->nk", d, precision, d).min(1)
    np.testing.assert_allclose(values["maha_h"], want, rtol=1e-3)
    assert fitted.counts == np.bincount(y, minlength=prep.ds.n_classes).tolist()


def test_combinations_are_standardised_on_validation_rows(loaded):
    model, prep, fitted = loaded
    x_val = prep.ds.x_train[prep.split.val]
    values = part_values(model, x_val, list(PARTS), fitted)
    for p in PARTS:
        z = (values[p] - fitted.loc[p]) / fitted.spread[p]
        assert abs(z.mean()) < 1e-3 and abs(z.std() - 1) < 1e-3, p
    combo = combine(values, "pi+maha_h+energy", fitted)
    assert abs(combo.mean()) < 1e-3


def test_onnx_graph_of_every_part_and_a_combination_matches_pytorch(run, loaded, tmp_path):
    model, prep, _ = loaded
    x = prep.ds.x_test[-23:]  # another batch size and rows than the export validated with
    for method in (*PARTS, "pi+maha_h+energy"):
        cfg = ExportConfig(score=method, quantize="int8" if method == "maha_h" else None)
        m = export_run(run, tmp_path / method, cfg)
        assert m["score_method"] == method and m["score"]["parts"] == parts_of(method)
        sess = ort.InferenceSession(str(tmp_path / method / "anomaly.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"x": x})[0]
        want = score_rows(model, prep, x, method)
        assert np.abs(got - want).max() <= 1e-4 * max(np.abs(want).max(), 1.0), method
        if method == "maha_h":  # int8: the same score, within what 8 bits keep
            q = m["quantization"]
            assert abs(q["int8"]["anomaly_roc_auc"] - q["fp32"]["anomaly_roc_auc"]) < 0.05


def test_unknown_or_repeated_parts_are_refused(loaded, run, tmp_path):
    model, _, fitted = loaded
    for bad in ("", "pi+pi", "elbo", "pi+"):
        with pytest.raises(ValueError):
            AnomalyScorer(model, bad, fitted)
    with pytest.raises(ValueError, match="fitted"):
        AnomalyScorer(model, "maha_h")  # needs the class Gaussians
    from ssvae_train.errors import UserError

    with pytest.raises(UserError, match="--score"):
        export_run(run, tmp_path / "bad", ExportConfig(score="pi+elbo"))
    assert default_score("image") in SCORES and default_score("sensor") in SCORES and default_score("vector") in SCORES


def test_selection_run_scores_validation_against_the_second_class_and_never_test(tmp_path):
    cfg = FitConfig(dataset="digits", epochs=1, hidden=32, latent_dim=8, exclude_class=3, val_anomaly_class=5)
    prep = prepare(cfg)
    assert prep.ds.n_classes == 8 and "3" not in prep.ds.classes and "5" not in prep.ds.classes
    assert prep.ds.extra["excluded_class"] == 3 and prep.ds.extra["val_anomaly_name"] == "5"
    full = prepare(FitConfig(dataset="digits"))
    n5 = int((full.ds.y_train == 5).sum())
    assert prep.val_anomalies.shape[0] == n5 and prep.excluded_rows.shape[0] == int((full.ds.y_train == 3).sum())
    # the second class's rows are none of the rows the model trains or validates on
    seen = {r.tobytes() for r in prep.ds.x_train}
    assert not any(r.tobytes() in seen for r in prep.val_anomalies)
    fit(cfg, tmp_path / "sel", progress=False)
    out = evaluate_run(tmp_path / "sel")
    assert "anomaly" not in out and out["val_anomaly_name"] == "5" and out["val_anomaly_class"] == 5
    assert set(out["val_anomaly"]) == {*SCORES, "default"}
    assert all(0.0 <= out["val_anomaly"][m]["roc_auc"] <= 1.0 for m in SCORES)
    with pytest.raises(Exception, match="exclude-class"):
        FitConfig(dataset="digits", val_anomaly_class=5).validate()
