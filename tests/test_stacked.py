"""M1+M2: a second model trained on a plain VAE's latent means (ssvae_train/data/stacked.py)."""

import numpy as np
import pytest
import torch

from ssvae_train.checkpoint import load_checkpoint, model_from_checkpoint
from ssvae_train.config import FitConfig
from ssvae_train.data.load import load_dataset
from ssvae_train.errors import UserError
from ssvae_train.evaluate import evaluate_run
from ssvae_train.prepare import prepare
from ssvae_train.stacked import posterior_means
from ssvae_train.trainer import fit


@pytest.fixture(scope="module")
def m1_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("m1") / "vae"
    # 30 epochs = 330 steps on the digits: M1 then uses its latents (after 3 epochs it has not started to)
    fit(FitConfig(dataset="digits", model="vae", epochs=30, latent_dim=8), out, progress=False)
    return out


def test_stacked_data_are_m1_posterior_means_of_the_same_rows(m1_run):
    prep = prepare(FitConfig(dataset="digits", labels="100", objective="m2", m1_run=str(m1_run)))
    raw = load_dataset("digits")
    m1 = model_from_checkpoint(load_checkpoint(m1_run))
    active = prep.ds.extra["m1_active_units"]
    assert prep.ds.kind == "features" and prep.ds.sample_shape == (len(active),) and 0 < len(active) <= 8
    np.testing.assert_array_equal(prep.ds.y_train, raw.y_train)
    want = posterior_means(m1, raw.x_test[:5])[:, active]
    np.testing.assert_allclose(prep.ds.x_test[:5], want, rtol=1e-5, atol=1e-6)
    # active units: the posterior mean varies over the training rows (Burda et al.); the others do not
    all_means = posterior_means(m1, raw.x_train[prep.split.train])
    assert sorted(np.flatnonzero(all_means.var(0) > 0.01).tolist()) == active
    # features are standardised per dimension inside the model (Gaussian likelihood), like sensor signals
    shift, scale = prep.scaling()
    assert shift.shape == scale.shape == (len(active),)
    np.testing.assert_allclose(shift, prep.ds.x_train[prep.split.train].mean(0), rtol=1e-4, atol=1e-5)


def test_m2_on_m1_features_trains_and_evaluates(tmp_path, m1_run):
    torch.set_num_threads(1)
    cfg = FitConfig(dataset="digits", labels="all", objective="m2", epochs=4, m1_run=str(m1_run))
    run = fit(cfg, tmp_path / "m2", progress=False).parent
    ckpt = load_checkpoint(run)
    assert ckpt["model_config"]["likelihood"] == "gaussian"
    assert ckpt["model_config"]["sample_shape"] == [len(prepare(cfg).ds.extra["m1_active_units"])]
    result = evaluate_run(run)  # rebuilds the features from the recorded M1 run
    assert result["test_accuracy"] > 0.5  # chance is 0.1: M1's latent means separate the digits


@pytest.mark.parametrize(
    ("change", "needle"),
    [({"seed": 1}, "--seed 0"), ({"val_fraction": 0.2}, "--val-fraction 0.1"), ({"exclude_class": 3}, "exclude")],
)
def test_m1_from_another_split_is_refused(m1_run, change, needle):
    with pytest.raises(UserError, match=needle):
        prepare(FitConfig(dataset="digits", labels="100", m1_run=str(m1_run), **change))


def test_m1_must_be_unsupervised_use_its_latents_and_the_arch_dense(tmp_path, m1_run):
    torch.set_num_threads(1)
    idle = fit(FitConfig(dataset="digits", model="vae", epochs=2), tmp_path / "idle", progress=False).parent
    with pytest.raises(UserError, match="uses none of its latent units"):
        prepare(FitConfig(dataset="digits", m1_run=str(idle)))
    sup = fit(FitConfig(dataset="digits", model="supervised", epochs=1), tmp_path / "sup", progress=False).parent
    with pytest.raises(UserError, match="plain `vae`"):
        prepare(FitConfig(dataset="digits", m1_run=str(sup)))
    with pytest.raises(UserError, match="--arch dense"):
        FitConfig(dataset="digits", arch="conv", m1_run=str(m1_run)).validate()


def test_generate_and_export_refuse_a_stacked_run(tmp_path, m1_run):
    from typer.testing import CliRunner

    from ssvae_train.cli import app
    from ssvae_train.export.exporter import export_run

    torch.set_num_threads(1)
    cfg = FitConfig(dataset="digits", labels="100", objective="m2", epochs=1, m1_run=str(m1_run))
    run = fit(cfg, tmp_path / "m2", progress=False).parent
    res = CliRunner().invoke(app, ["generate", str(run), "--out", str(tmp_path / "g.png")])
    assert res.exit_code == 2 and "M1's latent means" in res.output and not (tmp_path / "g.png").exists()
    with pytest.raises(UserError, match="would not take raw samples"):
        export_run(run, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_m1_sample_draws_fresh_rows_each_epoch_reproducibly(tmp_path, m1_run):
    from ssvae_train.stacked import resample

    prep = prepare(FitConfig(dataset="digits", labels="100", m1_run=str(m1_run)))
    mu, std = torch.from_numpy(prep.ds.x_train), torch.from_numpy(prep.ds.extra["x_train_std"])
    assert (std > 0).all()
    a, b = resample(mu, std, 0, 1), resample(mu, std, 0, 2)
    assert torch.equal(a, resample(mu, std, 0, 1)) and not torch.allclose(a, b)
    z = ((a - mu) / std).flatten()  # standard normal noise, scaled by M1's posterior std
    assert abs(float(z.mean())) < 0.05 and abs(float(z.std()) - 1) < 0.05
    torch.set_num_threads(1)
    kw = dict(dataset="digits", labels="100", objective="m2", epochs=2, m1_run=str(m1_run))
    sampled = load_checkpoint(fit(FitConfig(**kw, m1_sample=True), tmp_path / "s", progress=False))
    means = load_checkpoint(fit(FitConfig(**kw), tmp_path / "m", progress=False))
    assert sampled["fit_config"]["m1_sample"] is True
    assert not torch.allclose(sampled["state_dict"]["pi.weight"], means["state_dict"]["pi.weight"])
    with pytest.raises(UserError, match="--m1-run"):
        FitConfig(dataset="digits", m1_sample=True).validate()
