"""The convlstm sensor architecture and the sensor augmentations: shapes, window lengths, export, seeding."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from reference_scores import score_rows

from ssvae_train.config import DEFAULT_CHANNELS, FitConfig
from ssvae_train.data.triples import accelerometer, xyz_triples
from ssvae_train.data.uci_har import CHANNELS
from ssvae_train.errors import UserError
from ssvae_train.export import export_run
from ssvae_train.export.config import ExportConfig
from ssvae_train.models import SSVAE, ModelConfig
from ssvae_train.names import parse_augment
from ssvae_train.training.augment import Augmenter, random_rotations
from ssvae_train.training.evaluate import load_run
from ssvae_train.training.trainer import fit

HAR = str(Path(__file__).parent / "data" / "uci-har")


def _model(kind: str = "ssvae", window: int = 128) -> SSVAE:
    torch.manual_seed(0)
    cfg = ModelConfig("convlstm", kind, (window, 9), 6, "gaussian", 8, 32, posterior_y=True, channels=(8, 16))
    return SSVAE(cfg).eval()


@pytest.mark.parametrize("window", [128, 96, 50])
def test_trunk_and_decoder_shapes(window):
    m = _model(window=window)
    x = torch.randn(4, window, 9)
    assert m.features(x).shape == (4, 32)
    assert m(x).shape == (4, 6)
    assert m.generate(torch.randn(4, 8), torch.arange(4)).shape == (4, window, 9)


def test_other_window_lengths_are_refused_with_a_clear_error():
    m = _model()
    with pytest.raises(ValueError, match="takes 128-sample windows, not 96"):
        m(torch.randn(2, 96, 9))
    with pytest.raises(ValueError, match="draws 128-sample windows, not 96"):
        m.decode(torch.randn(2, 8), torch.eye(6)[:2], length=96)


def test_decoder_output_varies_over_time():
    """Not a constant-driven sequence: an untrained decoder already emits different values per step."""
    m = _model()
    with torch.no_grad():
        x = m.generate(torch.randn(3, 8), torch.zeros(3, dtype=torch.long))
    assert x.std(dim=1).min() > 0


def test_rotations_are_proper_and_bounded():
    torch.manual_seed(1)
    r = random_rotations(64, 15.0, torch.device("cpu"))
    eye = torch.eye(3).expand(64, 3, 3)
    assert torch.allclose(r @ r.transpose(1, 2), eye, atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(64), atol=1e-5)
    angle = torch.arccos(((r.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1))
    assert angle.max() <= np.radians(15.0) + 1e-4


def test_rotation_keeps_each_sensor_norm_and_turns_all_sensors_alike():
    assert xyz_triples(CHANNELS) == [(0, 1, 2), (3, 4, 5), (6, 7, 8)]
    aug = Augmenter(("rotate",), torch.ones(9), CHANNELS)
    torch.manual_seed(2)
    x = torch.randn(5, 128, 9)
    out = aug(x)
    for i, j, k in xyz_triples(CHANNELS):
        assert torch.allclose(out[..., [i, j, k]].norm(dim=-1), x[..., [i, j, k]].norm(dim=-1), atol=1e-5)
    assert not torch.allclose(out, x)
    # one rotation per window: the angle between body and total acceleration is kept
    dot = lambda t: (t[..., 0:3] * t[..., 6:9]).sum(-1)  # noqa: E731
    assert torch.allclose(dot(out), dot(x), atol=1e-4)


def test_rotate_moving_turns_windows_in_motion_and_leaves_still_ones():
    from ssvae_train.training import augment
    aug = Augmenter(("rotate-moving",), torch.ones(9), CHANNELS)
    torch.manual_seed(4)
    t = torch.arange(128) / 50.0
    wave = torch.sin(2 * np.pi * 2 * t)  # population sd 1/sqrt(2)
    acc = list(accelerometer(CHANNELS, xyz_triples(CHANNELS)))  # total_acc: gravity included

    def with_sd(sd: float, n: int) -> torch.Tensor:  # windows whose acc magnitude varies by about sd (g)
        x = torch.tensor([0.9, 0.3, 0.2] * 3).expand(n, 128, 9).clone()
        x[..., acc[0]] += sd * np.sqrt(2) * wave
        return x
    sd = lambda w: float(w[:, acc].norm(dim=-1).std(correction=0))  # noqa: E731
    still, moving = with_sd(0.09, 4), with_sd(0.12, 200)
    assert sd(still[0]) < augment.MOVING_SD_G < sd(moving[0])
    assert torch.equal(aug(still), still)  # still postures keep their tilt exactly
    out = aug(moving)
    angles = []
    for w in range(len(moving)):  # each moving window turned, every sensor alike, norms kept
        for i, j, k in xyz_triples(CHANNELS):
            assert torch.allclose(out[w][:, [i, j, k]].norm(dim=-1), moving[w][:, [i, j, k]].norm(dim=-1), atol=1e-5)
        a, b = out[w, 0, 3:6], moving[w, 0, 3:6]  # a triple whose vector is constant: the angle it turned
        angles.append(float(torch.arccos((a @ b / b.norm() ** 2).clamp(-1, 1))))
    degrees = np.degrees(angles)
    assert degrees.max() <= 30.0 + 1e-3 and degrees.max() > 20.0  # up to 30 degrees
    assert np.mean(degrees > 1.0) > 0.9  # each window its own draw: nearly all visibly turned


def test_rotate_moving_measures_motion_on_the_accelerometer():
    har = ["body_acc_x", "body_acc_y", "body_acc_z", "body_gyro_x", "body_gyro_y", "body_gyro_z",
           "total_acc_x", "total_acc_y", "total_acc_z"]
    assert accelerometer(har, xyz_triples(har)) == (6, 7, 8)
    phone = ["gyro_x", "gyro_y", "gyro_z", "acc_x", "acc_y", "acc_z"]
    assert accelerometer(phone, xyz_triples(phone)) == (3, 4, 5)
    with pytest.raises(UserError, match="needs an accelerometer triple"):
        Augmenter(("rotate-moving",), torch.ones(3), ["gyro_x", "gyro_y", "gyro_z"])


def _about_x(name: str, seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n random windows and their augmented copies under `name`, which must keep every sensor's x axis."""
    torch.manual_seed(seed)
    x = torch.randn(n, 16, 9)
    out = Augmenter((name,), torch.ones(9), CHANNELS)(x)
    assert torch.equal(out[..., [0, 3, 6]], x[..., [0, 3, 6]])
    return x, out


def test_mount_turns_half_the_windows_about_x_keeping_x():
    x, out = _about_x("mount", 3, 200)
    turned = (out[:, 0, 1] == -x[:, 0, 1])
    for w in range(len(x)):  # each window either as it was or with y and z of every triple negated
        want = x[w] * (torch.tensor([1.0, -1.0, -1.0] * 3) if turned[w] else 1.0)
        assert torch.equal(out[w], want)
    assert 60 < int(turned.sum()) < 140


def test_turn_rotates_every_triple_of_a_window_alike_about_x():
    x, out = _about_x("turn", 4, 400)
    angles = []
    for j, k in ((1, 2), (4, 5), (7, 8)):  # each y-z pair keeps its length and turns by one angle per window
        before, after = torch.complex(x[..., j], x[..., k]), torch.complex(out[..., j], out[..., k])
        assert torch.allclose(after.abs(), before.abs(), atol=1e-5)
        angles.append(torch.angle(after / before).median(dim=1).values)
        assert torch.allclose(torch.angle(after / before), angles[-1][:, None].expand(-1, 16), atol=1e-3)
    for a in angles[1:]:  # the same turn for every triple of a window
        assert torch.allclose(torch.cos(a - angles[0]), torch.ones(400), atol=1e-4)
    quarter = torch.floor((angles[0] % (2 * torch.pi)) / (torch.pi / 2))
    assert all(60 < int((quarter == q).sum()) < 140 for q in range(4))  # spread over the whole circle


def test_jitter_and_scale_follow_the_seed_and_spare_nothing():
    aug = Augmenter(parse_augment("jitter,scale"), torch.full((9,), 2.0), CHANNELS)
    x = torch.zeros(3, 16, 9) + 1.0
    torch.manual_seed(5)
    a = aug(x)
    torch.manual_seed(5)
    b = aug(x)
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert aug(None) is None


def test_bad_augment_options_are_one_line_errors():
    with pytest.raises(UserError, match="unknown wobble"):
        parse_augment("jitter,wobble")
    for name in ("rotate", "rotate-moving", "mount", "turn"):
        with pytest.raises(UserError, match=f"--augment {name} needs x/y/z channel triples"):
            Augmenter((name,), torch.ones(2), ["a", "b"])
    with pytest.raises(UserError, match="--augment is for sensor windows"):
        FitConfig(dataset="digits", augment="jitter").validate()
    assert parse_augment("none") == () and parse_augment(None) == ()


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("convlstm") / "run"
    cfg = FitConfig(dataset="uci-har", data_dir=HAR, arch="convlstm", objective="m2", labels="all", epochs=1,
                    hidden=32, latent_dim=8, batch_size=32, val_fraction=0.2, augment="jitter,scale,rotate")
    fit(cfg, out, progress=False)
    return out


def test_augmented_training_resumes_exactly(tmp_path, run):
    cfg = FitConfig(dataset="uci-har", data_dir=HAR, arch="convlstm", labels="all", epochs=2, hidden=16,
                    latent_dim=4, batch_size=32, val_fraction=0.2, augment="jitter,scale,rotate")
    a = fit(cfg, tmp_path / "a", progress=False)
    fit(FitConfig(**{**cfg.to_dict(), "epochs": 1}), tmp_path / "b", progress=False)
    b = fit(cfg, tmp_path / "b", resume=True, progress=False)
    sa, sb = torch.load(a, weights_only=True)["state_dict"], torch.load(b, weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_export_keeps_lstm_nodes_and_the_window_the_manifest_states(run, tmp_path):
    m = export_run(run, tmp_path / "bundle", ExportConfig(latent_prior="standard"))  # decoder.onnx decodes z as given
    path = tmp_path / "bundle"
    ops = {g: [n.op_type for n in onnx.load(str(path / f"{g}.onnx")).graph.node] for g in m["graphs"]}
    assert "LSTM" in ops["classifier"] and "LSTM" in ops["anomaly"]
    assert "ConvTranspose" in ops["decoder"] and "LSTM" not in ops["decoder"]
    assert m["producer"]["arch"] == "convlstm"
    assert m["time_axis_dynamic"] is False and m["window"] == 128
    _, model, _, prep = load_run(run)
    sess = {g: ort.InferenceSession(str(path / f"{g}.onnx"), providers=["CPUExecutionProvider"]) for g in m["graphs"]}
    x_full = prep.ds.x_test[:10]
    for graph in ("classifier", "anomaly"):
        assert sess[graph].get_inputs()[0].shape == ["N", 128, 9]
        with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error type for a bad shape
            sess[graph].run(None, {"x": np.ascontiguousarray(x_full[:, :96])})
    with torch.no_grad():
        want = model(torch.from_numpy(x_full)).numpy()
    np.testing.assert_allclose(sess["classifier"].run(None, {"x": x_full})[0], want, atol=1e-4)
    want = score_rows(model, prep, x_full, m["score_method"])
    got = sess["anomaly"].run(None, {"x": x_full})[0]
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    y = np.arange(4, dtype=np.int64)
    with torch.no_grad():
        want = model.generate(torch.from_numpy(z), torch.from_numpy(y)).numpy()
    got = sess["decoder"].run(None, {"z": z, "y": y})[0]
    assert got.shape == (4, 128, 9) and np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    assert tuple(model.cfg.channels) == DEFAULT_CHANNELS["convlstm"]  # a new run gets the sensor widths, not conv's


def test_generation_check_reports_what_the_bundle_draws_and_recognises(run, tmp_path):
    from ssvae_edge import Bundle
    from ssvae_train.export.generation_check import check_generation, mean_frequency, movement

    export_run(run, tmp_path / "bundle")
    b = Bundle.load(tmp_path / "bundle", providers="cpu")
    _, _, _, prep = load_run(run)
    x_real, y_real = prep.ds.x_test, prep.ds.y_test
    rep = check_generation(b, 7, x_real, y_real, seed=3)
    # the same draws, labelled by hand with the same bundle
    k = len(b.classes)
    want = [np.mean(b.classify(b.generate(c, 7, seed=3 + c)).argmax(1) == c) for c in range(k)]
    assert [rep["per_class"][name]["agreement"] for name in b.classes] == pytest.approx(want)
    assert rep["agreement"] == pytest.approx(np.mean(want))
    assert sum(map(sum, rep["confusion"])) == 7 * k
    c = int(y_real[0])
    row = rep["per_class"][b.classes[c]]
    np.testing.assert_allclose(row["movement_real"], x_real[y_real == c].std(axis=1).mean(axis=0), atol=1e-4)
    assert len(row["movement_ratio"]) == 9 and rep["channels"] == list(CHANNELS)
    # mean frequency: a pure 5 Hz sine at 50 Hz has its power at 5 Hz
    t = np.arange(128) / 50.0
    sine = np.sin(2 * np.pi * 5 * t)[None, :, None]
    assert mean_frequency(sine, 50.0)[0] == pytest.approx(5.0, abs=0.3)
    assert movement(np.ones((2, 128, 3)))[0] == 0
