"""M1+M2: a second model trained on a plain VAE's latent means (ssvae_train/training/stacked.py), and exported as one
model on raw samples (ssvae_train/models/m1m2.py)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from ssvae_train.config import FitConfig
from ssvae_train.data.load import load_dataset
from ssvae_train.errors import UserError
from ssvae_train.export.config import ExportConfig
from ssvae_train.training.checkpoint import load_checkpoint, model_from_checkpoint
from ssvae_train.training.evaluate import evaluate_run
from ssvae_train.training.prepare import prepare
from ssvae_train.training.stacked import posterior_means
from ssvae_train.training.trainer import fit


@pytest.fixture(scope="module")
def m1_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("m1") / "vae"
    # 30 epochs = 330 steps on the digits: M1 then uses its latents (after 3 epochs it has not started to);
    # with 16 latents it leaves some units inactive, which the composed export must place back
    fit(FitConfig(dataset="digits", model="vae", epochs=30, latent_dim=16), out, progress=False)
    return out


def test_stacked_data_are_m1_posterior_means_of_the_same_rows(m1_run):
    prep = prepare(FitConfig(dataset="digits", labels="100", objective="m2", m1_run=str(m1_run)))
    raw = load_dataset("digits")
    m1 = model_from_checkpoint(load_checkpoint(m1_run))
    active = prep.ds.extra["m1_active_units"]
    assert prep.ds.kind == "features" and prep.ds.sample_shape == (len(active),) and 0 < len(active) < 16
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


@pytest.fixture(scope="module")
def m1m2_bundle(tmp_path_factory, m1_run):
    """A tiny M1+M2 run on the digits, exported (fp32 + int8) as one bundle on raw pixels."""
    from ssvae_train.export.exporter import export_run

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("m1m2")
    cfg = FitConfig(dataset="digits", labels="100", objective="m2", epochs=3, m1_run=str(m1_run))
    run = fit(cfg, root / "m2", progress=False).parent
    manifest = export_run(run, root / "bundle", ExportConfig(quantize="int8", latent_prior="standard"))
    return run, root / "bundle", manifest


def test_composed_graphs_match_m1_then_m2_in_pytorch(m1m2_bundle):
    """Each graph on raw pixels == M1's posterior mean over its active units, then M2 (and, for the
    decoder, M2's decoder then M1's), computed with the two PyTorch models of the runs one after the other."""
    import onnxruntime as ort
    from reference_scores import score_rows

    from ssvae_train.training.evaluate import load_run

    run, bundle, manifest = m1m2_bundle
    _, m2, cfg, stacked = load_run(run)  # M2 and its data as M1's latent means, as training saw them
    m1 = model_from_checkpoint(load_checkpoint(cfg.m1_run))
    raw = load_dataset("digits")
    active = stacked.ds.extra["m1_active_units"]
    x = raw.x_test[:64]
    sess = {g: ort.InferenceSession(str(bundle / f"{g}.onnx"), providers=["CPUExecutionProvider"])
            for g in ("classifier", "anomaly", "decoder")}
    assert manifest["sample_shape"] == [8, 8] and manifest["composition"]["active_units"] == active
    assert len(active) < m1.cfg.latent_dim  # some units inactive: the decoder must put them back in place
    with torch.no_grad():
        codes = torch.from_numpy(posterior_means(m1, x)[:, active])
        want = m2(codes).numpy()
    np.testing.assert_allclose(sess["classifier"].run(None, {"x": x})[0], want, atol=1e-5)
    # the default score's constants are fitted on the stacked rows, as they would be for M2 alone
    want = score_rows(m2, stacked, codes.numpy(), manifest["score_method"])
    got = sess["anomaly"].run(None, {"x": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    z = np.random.default_rng(0).standard_normal((20, m2.cfg.latent_dim)).astype(np.float32)
    y = np.arange(20, dtype=np.int64) % 10
    with torch.no_grad():
        values = m2.generate(torch.from_numpy(z), torch.from_numpy(y)).numpy()  # M1 codes over active units
        mu_train = posterior_means(m1, raw.x_train[stacked.split.train])
        full = np.repeat(mu_train.mean(0, keepdims=True), len(z), 0)
        full[:, active] = values
        want = m1.generate(torch.from_numpy(full), None).numpy()
    got = sess["decoder"].run(None, {"z": z, "y": y})[0]
    assert got.shape == (20, 8, 8)
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    # the bundle's test accuracy on raw pixels is the stacked run's own (evaluate on M1 features)
    assert manifest["producer"]["metrics"]["test_accuracy_onnxruntime"] == pytest.approx(
        evaluate_run(run)["test_accuracy"], abs=1e-9)


def test_m1m2_bundle_runs_in_the_edge_runtime_like_any_other(m1m2_bundle):
    from typer.testing import CliRunner

    from ssvae_edge import Bundle
    from ssvae_edge.cli import app as edge_app

    _, bundle, manifest = m1m2_bundle
    raw = load_dataset("digits")
    for precision in ("fp32", "int8"):
        b = Bundle.load(bundle, providers="cpu", threads=1, precision=precision)
        probs = b.classify(raw.x_test[:200])
        assert probs.shape == (200, 10) and np.allclose(probs.sum(1), 1, atol=1e-5)
        assert np.mean(probs.argmax(1) == raw.y_test[:200]) > 0.5  # chance is 0.1
        one_by_one = np.concatenate([b.anomaly_score(raw.x_test[i : i + 1]) for i in range(8)])
        np.testing.assert_array_equal(one_by_one, b.anomaly_score(raw.x_test[:8]))
        drawn = b.generate(4, n=5, seed=0)
        assert drawn.shape == (5, 8, 8) and np.isfinite(drawn).all() and drawn.min() >= 0
    res = CliRunner().invoke(edge_app, ["info", str(bundle), "--precision", "int8"])
    assert res.exit_code == 0, res.output
    tampered = bundle.parent / "tampered"
    import shutil

    shutil.copytree(bundle, tampered)
    data = bytearray((tampered / "classifier.onnx").read_bytes())
    data[-10] ^= 0xFF
    (tampered / "classifier.onnx").write_bytes(bytes(data))
    from ssvae_edge.errors import BundleError

    with pytest.raises(BundleError, match="sha256"):
        Bundle.load(tampered, providers="cpu")


def test_generate_draws_pixels_from_a_stacked_run(m1m2_bundle, tmp_path):
    from typer.testing import CliRunner

    from ssvae_train.cli import app

    run, _, _ = m1m2_bundle
    res = CliRunner().invoke(app, ["generate", str(run), "--class", "3", "--out", str(tmp_path / "g.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_m1_sample_draws_fresh_rows_each_epoch_reproducibly(tmp_path, m1_run):
    from ssvae_train.training.stacked import resample

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


def test_an_m1_must_have_dropped_the_same_held_out_windows():
    from ssvae_train.training.stacked import check_m1

    mine = FitConfig(dataset="hapt", arch="dense", exclude_class=2)
    check_m1(FitConfig(dataset="hapt", arch="dense", exclude_class=2), mine, "vae")
    with pytest.raises(UserError, match="--held-out-windows whole"):
        check_m1(FitConfig(dataset="hapt", arch="dense", exclude_class=2, held_out_windows="whole"), mine, "vae")


def test_m1m2_on_sensor_windows_exports_graphs_on_raw_windows(tmp_path):
    """M1+M2 on phone recordings (the HAPT slice): M1 is a convlstm VAE, M2 a dense model on its latent means;
    the bundle takes raw [T, 6] windows, its classifier == M2 on M1's code, and it streams a recording."""
    from typer.testing import CliRunner

    from ssvae_edge.cli import app as edge_app
    from ssvae_train.export.exporter import export_run
    from ssvae_train.training.evaluate import load_run

    torch.set_num_threads(1)
    slice_zip = str(Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip")
    base = dict(dataset="hapt", data_dir=slice_zip, val_fraction=0.15, seed=0, hidden=64)
    # 8 epochs on the slice: M1 then uses most of its 16 units (after 2 it uses none)
    m1 = fit(FitConfig(**base, arch="convlstm", model="vae", epochs=8), tmp_path / "m1", progress=False).parent
    with pytest.raises(UserError, match="sensor windows"):  # without an M1, dense is no trunk for windows
        FitConfig(**base, arch="dense").validate()
    cfg = FitConfig(**base, arch="dense", labels="0.2", objective="m2", epochs=2, m1_run=str(m1))
    run = fit(cfg, tmp_path / "m2", progress=False).parent
    manifest = export_run(run, tmp_path / "bundle", ExportConfig())
    assert manifest["sample_shape"] == [128, 6] and manifest["composition"]["kind"] == "m1+m2"
    assert manifest["composition"]["m1_arch"] == "convlstm" and manifest["producer"]["arch"] == "dense"
    assert manifest["channels"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    _, m2, m2_cfg, stacked = load_run(run)
    from ssvae_train.training.evaluate import on_raw_samples

    composed, _ = on_raw_samples(m2, m2_cfg)  # read as M1 reads windows: generation draws signals, not images
    assert composed.sequence and not composed.any_length
    assert stacked.ds.kind == "features" and stacked.ds.extra["raw_kind"] == "sensor"  # its default score's kind
    x = load_dataset("hapt", slice_zip).x_test[:16]
    with torch.no_grad():
        codes = torch.from_numpy(posterior_means(model_from_checkpoint(load_checkpoint(m1)), x)
                                 [:, stacked.ds.extra["m1_active_units"]])
        want = m2(codes).numpy()
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "bundle" / "classifier.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"x": x})[0], want, atol=1e-5)
    recording = tmp_path / "rec.csv"
    head = "time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"
    rows = [f"{i / 50:.2f}," + ",".join(f"{v:.5f}" for v in row) for i, row in enumerate(np.concatenate(list(x[:4])))]
    recording.write_text(head + "\n" + "\n".join(rows) + "\n")
    res = CliRunner().invoke(edge_app, ["stream", str(tmp_path / "bundle"), "-i", str(recording)])
    assert res.exit_code == 0, res.output
    assert '"summary": true' in res.output and '"windows": 7' in res.output


def test_an_m1_must_have_read_the_same_windows_and_takes_the_augmentation_itself():
    from types import SimpleNamespace

    from ssvae_train.export.manifest_entries import frame
    from ssvae_train.training.stacked import check_m1

    mine = FitConfig(dataset="hapt", arch="dense", window=128)
    for change, flag in ((dict(window=64), "--window"), (dict(hop=32), "--hop"), (dict(transitions=True),
                                                                                  "--transitions")):
        with pytest.raises(UserError, match=flag):
            check_m1(FitConfig(**{"dataset": "hapt", "arch": "convlstm", "window": 128, **change}), mine, "vae")
    for extra in (dict(augment="jitter"), dict(frame="canonical-turn")):
        with pytest.raises(UserError, match="give them to the M1 run"):
            FitConfig(dataset="hapt", arch="dense", m1_run="m1", **extra).validate()
    # the graphs turn windows as M1 does: an M1+M2's frame is its M1's, not M2's (which never saw a window)
    turned = SimpleNamespace(frame_triples=((0, 1, 2),))
    stacked = SimpleNamespace(cfg=SimpleNamespace(frame_triples=()), m1=SimpleNamespace(cfg=turned))
    assert frame(stacked, ["acc_x", "acc_y", "acc_z"]).by == ("acc_x", "acc_y", "acc_z")
