"""--frame canonical-turn: each window turned about the phone's long axis to one angle inside the model, so a
phone clipped at any angle round the waist gives the model the same input; through training and the graphs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from ssvae_edge import Bundle
from ssvae_edge import cli as edge_cli
from ssvae_edge.contract import Manifest
from ssvae_edge.errors import BundleError
from ssvae_train.config import FitConfig
from ssvae_train.data.hapt import turned_about_long_axis
from ssvae_train.errors import UserError
from ssvae_train.export.generation_check import in_bundle_frame
from ssvae_train.models import SSVAE, ModelConfig
from ssvae_train.models.frame import canonical_turn, frame_triples
from ssvae_train.training.evaluate import load_run

PHONE = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
SLICE = Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip"


def turned(x: torch.Tensor, degrees: float) -> torch.Tensor:
    """x as the phone would have recorded it clipped on turned by `degrees` about its long axis."""
    return torch.from_numpy(turned_about_long_axis(x.numpy(), degrees))


def windows(n=8, t=32, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, 6, generator=g) * 0.3
    x[..., 0] += 0.9  # gravity mostly along the long axis,
    x[..., 1] += 0.3 * torch.rand(n, 1, generator=g)  # a tilt across it
    return x


def test_the_accelerometer_sets_the_angle_and_every_triple_turns():
    assert frame_triples("as-worn", PHONE) == ()
    assert frame_triples("canonical-turn", PHONE) == ((0, 1, 2), (3, 4, 5))
    assert frame_triples("canonical-turn", ["gyro_x", "gyro_y", "gyro_z", *PHONE[:3]]) == ((3, 4, 5), (0, 1, 2))
    with pytest.raises(UserError, match="--frame canonical-turn needs an accelerometer triple"):
        frame_triples("canonical-turn", ["gyro_x", "gyro_y", "gyro_z"])


def test_a_turned_window_reads_as_the_window():
    x, triples = windows(), ((0, 1, 2), (3, 4, 5))
    c = canonical_turn(x, triples)
    assert torch.allclose(c[..., [0, 3]], x[..., [0, 3]])  # the long axis is left alone
    assert torch.allclose(c[..., 2].mean(1), torch.zeros(8), atol=1e-6) and (c[..., 1].mean(1) > 0).all()
    for j, k in ((1, 2), (4, 5)):  # a turn: each sample's length across the axis is kept
        assert torch.allclose(c[..., j].hypot(c[..., k]), x[..., j].hypot(x[..., k]), atol=1e-6)
    for deg in (17.0, 90.0, 180.0, 243.0):
        assert torch.allclose(canonical_turn(turned(x, deg), triples), c, atol=1e-5)


def test_a_window_without_tilt_across_the_axis_is_left_as_it_is():
    x = windows()
    x[..., 1] -= x[..., 1].mean(1, keepdim=True)  # mean acceleration exactly along x: no direction to turn to
    x[..., 2] -= x[..., 2].mean(1, keepdim=True)
    x[0, :, 1:3] = 0.0
    c = canonical_turn(x, ((0, 1, 2), (3, 4, 5)))
    assert torch.isfinite(c).all()
    flat = x[..., 1].mean(1).hypot(x[..., 2].mean(1)) <= 1e-6
    assert flat[0] and torch.equal(c[flat], x[flat])  # neither shrunk nor turned


def test_the_model_reads_every_turn_of_a_window_alike_and_as_worn_does_not():
    torch.manual_seed(0)
    cfg = dict(arch="convlstm", kind="ssvae", sample_shape=(32, 6), n_classes=3, likelihood="gaussian",
               latent_dim=4, hidden=16, channels=(8, 8), window_stats=True)
    x, x90 = windows(), turned(windows(), 90.0)
    framed = SSVAE(ModelConfig(**cfg, frame_triples=((0, 1, 2), (3, 4, 5)))).eval()
    worn = SSVAE(ModelConfig(**cfg)).eval()
    with torch.no_grad():
        assert torch.allclose(framed(x), framed(x90), atol=1e-5)
        assert not torch.allclose(worn(x), worn(x90), atol=1e-3)
    again = ModelConfig.from_dict(json.loads(json.dumps(framed.cfg.to_dict())))
    assert again == framed.cfg and ModelConfig.from_dict({**worn.cfg.to_dict()}).frame_triples == ()


def test_frame_is_for_sensor_windows():
    FitConfig(dataset="hapt", arch="convlstm", frame="canonical-turn").validate()
    with pytest.raises(UserError, match="--frame canonical-turn turns sensor windows"):
        FitConfig(dataset="digits", arch="dense", frame="canonical-turn").validate()
    with pytest.raises(UserError, match="--frame"):
        FitConfig(frame="sideways").validate()
    for augment in ("jitter,turn", "mount"):  # turns the frame undoes: refused, not silently wasted
        with pytest.raises(UserError, match="canonical-turn undoes"):
            FitConfig(dataset="hapt", arch="convlstm", frame="canonical-turn", augment=augment).validate()
    with pytest.raises(UserError, match="--labelled-elbo .* --model ssvae"):
        FitConfig(model="supervised", labelled_elbo="share").validate()


def test_fit_and_export_a_framed_model_whose_graphs_read_any_turn_alike(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    p = subprocess.run([sys.executable, "-m", "ssvae_train.cli", "fit", "--dataset", "hapt", "--data-dir", str(SLICE),
                        "--arch", "convlstm", "--hidden", "16", "--latent-dim", "4", "--epochs", "1",
                        "--val-fraction", "0.3", "--frame", "canonical-turn", "--quiet", "--out", str(run)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    _, model, _, prep = load_run(run)
    assert model.cfg.frame_triples == ((0, 1, 2), (3, 4, 5))
    # the scaling statistics are those of the windows as the model reads them: the turned z has mean ~0
    assert abs(float(model.shift[2])) < 1e-3 < abs(float(model.shift[1]))
    e = subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(bundle), "--quiet"],
                       capture_output=True, text=True)
    assert e.returncode == 0, e.stderr
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["frame"]["name"] == "canonical-turn"
    assert manifest["frame"]["by"] == ["acc_x", "acc_y", "acc_z"]
    assert manifest["frame"]["turned"] == ["acc_y", "acc_z", "gyro_y", "gyro_z"]
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    r = CliRunner().invoke(edge_cli.app, ["info", str(bundle), "--providers", "cpu", "--threads", "1"])
    (row,) = [x for x in r.stdout.splitlines() if x.startswith("frame")]
    words = row.split(None, 1)[1]
    assert words.startswith("canonical-turn: the graphs turn each window about its x axis until the mean of "
                            "acc_y/acc_z points along +y")
    # the generation check compares generated windows with real ones turned into the decoder's frame
    real = prep.ds.x_test[:4]
    framed = in_bundle_frame(Bundle.load(bundle), real)
    np.testing.assert_allclose(framed[..., 2].mean(1), 0.0, atol=1e-5)
    np.testing.assert_allclose(framed[..., 0], real[..., 0])
    # a frame section a reader could not follow is refused with the bundle
    bad = {**manifest, "frame": {**manifest["frame"], "by": ["acc_x"]}}
    with pytest.raises(BundleError, match="'frame' must be canonical-turn"):
        Manifest.from_json(bad)
    x = torch.from_numpy(prep.ds.x_test[:16])
    sess = ort.InferenceSession(str(bundle / "classifier.onnx"), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    a = sess.run(None, {name: x.numpy()})[0]
    b = sess.run(None, {name: turned(x, 120.0).numpy()})[0]
    np.testing.assert_allclose(a, b, atol=1e-4)
