"""The class prior behind decoder.onnx: fitted per class on training rows, exported, and optional."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ssvae_train.config import FitConfig
from ssvae_train.export import export_run
from ssvae_train.export.config import ExportConfig
from ssvae_train.models import SSVAE, ModelConfig
from ssvae_train.scoring.latent_prior import fit_class_prior
from ssvae_train.training.evaluate import load_run
from ssvae_train.training.trainer import fit


class _Known(SSVAE):
    """A model whose posterior means are known: mu = x itself (2-d), logvar = log 0.25, logits from x[:, 2:]."""

    def features(self, x):
        return x

    def classify_logits(self, h):
        return h[:, 2:]

    def posterior(self, h, y=None):
        return h[:, :2], torch.full_like(h[:, :2], np.log(0.25))


def test_each_class_gets_its_own_mean_and_spread_and_unlabelled_rows_follow_the_classifier():
    model = _Known(ModelConfig("dense", "ssvae", (4,), 2, "gaussian", latent_dim=2, hidden=4))
    rng = np.random.default_rng(0)
    a = rng.normal([3.0, 0.0], [1.0, 0.5], (4000, 2))
    b = rng.normal([-3.0, 1.0], [0.5, 2.0], (4000, 2))
    logits_a, logits_b = np.tile([5.0, 0.0], (4000, 1)), np.tile([0.0, 5.0], (4000, 1))
    x = np.concatenate([np.hstack([a, logits_a]), np.hstack([b, logits_b])]).astype(np.float32)
    y = np.r_[np.zeros(4000), np.ones(4000)].astype(np.int64)
    y[::2] = -1  # half the rows unlabelled: the classifier (the logits columns) places them
    p = fit_class_prior(model, x, y)
    assert p.counts == [4000, 4000]
    np.testing.assert_allclose(p.mean.numpy(), [[3.0, 0.0], [-3.0, 1.0]], atol=0.1)
    cov = (p.chol @ p.chol.transpose(1, 2)).numpy()
    # covariance of the means plus the mean posterior variance (0.25)
    np.testing.assert_allclose(np.diagonal(cov, axis1=1, axis2=2), [[1.25, 0.5], [0.5, 4.25]], rtol=0.1)
    z = torch.zeros(2, 2)
    np.testing.assert_allclose(p.to_codes(z, torch.tensor([0, 1])).numpy(), p.mean.numpy())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prior") / "run"
    fit(FitConfig(dataset="digits", labels="100", epochs=1, hidden=16, latent_dim=4), out, progress=False)
    return out


def test_standard_prior_decodes_z_as_given_and_class_prior_moves_it(run, tmp_path):
    _, model, _, _ = load_run(run)
    z = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
    y = np.arange(6, dtype=np.int64)
    with torch.no_grad():
        raw = model.generate(torch.from_numpy(z), torch.from_numpy(y)).numpy()
    outs = {}
    for kind in ("standard", "class"):
        m = export_run(run, tmp_path / kind, ExportConfig(latent_prior=kind))
        assert m["latent_prior"]["kind"] == ("class-gaussian" if kind == "class" else "standard")
        sess = ort.InferenceSession(str(tmp_path / kind / "decoder.onnx"), providers=["CPUExecutionProvider"])
        outs[kind] = sess.run(None, {"z": z, "y": y})[0]
    np.testing.assert_allclose(outs["standard"], raw, atol=1e-4 * np.abs(raw).max())
    assert np.abs(outs["class"] - raw).max() > 1e-2


def test_unknown_prior_is_refused_before_anything_is_written(run, tmp_path):
    from ssvae_train.errors import UserError

    with pytest.raises(UserError, match="--latent-prior 'wide'"):
        export_run(run, tmp_path / "x", ExportConfig(latent_prior="wide"))
    assert not (tmp_path / "x").exists()
