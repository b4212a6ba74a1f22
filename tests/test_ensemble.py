"""Ensemble bundles (`ssvae-export RUN --member RUN2`, ssvae_train/export/ensemble.py): the classifier and anomaly
graphs are the mean of the members' own graphs, the decoder is RUN's, the manifest names every member, and a member
that does not hold RUN's rows is refused with one line and no bundle. On scikit-learn's digits (seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from ssvae_edge.contract import Manifest
from ssvae_train.config import FitConfig
from ssvae_train.export.cli import app
from ssvae_train.export.config import ExportConfig
from ssvae_train.export.exporter import export_run
from ssvae_train.training.checkpoint import load_checkpoint, model_from_checkpoint
from ssvae_train.training.prepare import prepare
from ssvae_train.training.trainer import fit

BASE = dict(dataset="digits", labels="100", epochs=1, exclude_class=3, split_seed=7)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Three runs of one recipe on the same rows (split seed 7, seeds 1-3), and one on other rows (split seed 8)."""
    root = tmp_path_factory.mktemp("ensemble-runs")
    out = {f"s{s}": fit(FitConfig(**BASE, seed=s), root / f"s{s}", progress=False).parent for s in (1, 2, 3)}
    out["other"] = fit(FitConfig(**{**BASE, "split_seed": 8}, seed=1), root / "other", progress=False).parent
    out["conv"] = fit(FitConfig(**BASE, seed=4, arch="conv"), root / "conv", progress=False).parent
    out["short"] = fit(FitConfig(**BASE, seed=5), root / "short", progress=False).parent
    ckpt = load_checkpoint(out["short"])  # as a run stopped after its first of two epochs leaves it
    ckpt["fit_config"]["epochs"] = 2
    torch.save(ckpt, out["short"] / "checkpoint.pt")
    return out


@pytest.fixture(scope="module")
def bundles(runs, tmp_path_factory) -> dict[str, Path]:
    """Each run of split seed 7 exported alone, and the three as one ensemble (score `min`)."""
    root = tmp_path_factory.mktemp("ensemble-bundles")
    cfg = ExportConfig(score="min")
    out = {}
    for name in ("s1", "s2", "s3"):
        export_run(runs[name], root / name, cfg)
        out[name] = root / name
    export_run(runs["s1"], root / "ens", ExportConfig(score="min", member=[str(runs["s2"]), str(runs["s3"])]))
    out["ens"] = root / "ens"
    return out


def _run(bundle: Path, graph: str, feeds: dict) -> np.ndarray:
    sess = ort.InferenceSession(str(bundle / f"{graph}.onnx"), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def test_the_graphs_are_the_mean_of_the_members_and_the_decoder_is_the_first(runs, bundles):
    x = prepare(FitConfig(**BASE, seed=1)).ds.x_test[:64]
    for graph in ("classifier", "anomaly"):
        alone = np.mean([_run(bundles[s], graph, {"x": x}) for s in ("s1", "s2", "s3")], axis=0)
        np.testing.assert_allclose(_run(bundles["ens"], graph, {"x": x}), alone, rtol=1e-4, atol=1e-4)
    z = np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32)
    feeds = {"z": z, "y": np.arange(8, dtype=np.int64) % 9}
    np.testing.assert_allclose(_run(bundles["ens"], "decoder", feeds), _run(bundles["s1"], "decoder", feeds),
                               rtol=1e-4, atol=1e-4)


def test_the_manifest_names_every_member_and_a_device_reads_it(runs, bundles):
    manifest = Manifest.load(bundles["ens"])
    members = manifest.ensemble.members
    assert [m.run for m in members] == [str(runs[s]) for s in ("s1", "s2", "s3")]
    assert [m.seed for m in members] == [1, 2, 3] and {m.split_seed for m in members} == {7}
    assert [m.weights_epoch for m in members] == [1, 1, 1] and {m.weights for m in members} == {"last"}
    assert manifest.producer.run == str(runs["s1"]) and manifest.ensemble.what
    assert Manifest.load(bundles["s1"]).ensemble is None


def test_info_says_what_the_graphs_average(bundles, monkeypatch):
    from ssvae_edge import cli as edge_cli

    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    rows = {}
    for name in ("ens", "s1"):
        r = CliRunner().invoke(edge_cli.app, ["info", str(bundles[name]), "--providers", "cpu", "--threads", "1"])
        assert r.exit_code == 0, r.output
        rows[name] = [x for x in r.stdout.splitlines() if x.startswith("ensemble")]
    assert len(rows["ens"]) == 1 and "3 runs of one recipe on the same rows (seeds 1, 2, 3)" in rows["ens"][0]
    assert rows["s1"] == []


def test_auto_weighs_each_score_as_the_mean_of_the_members(runs):
    from ssvae_train.scoring import scores as S

    prep = prepare(FitConfig(**BASE, seed=1))
    members = []
    for s in ("s1", "s2"):
        model = model_from_checkpoint(load_checkpoint(runs[s]))
        members.append((model, S.fit_on_run(model, prep)))
    _, aucs = S.choose_on_held_out(members, prep)
    x = np.concatenate([prep.ds.x_train[prep.split.val], prep.excluded_rows])
    held = np.arange(len(x)) >= len(prep.split.val)
    for method in ("min", "maha_h+energy"):
        mean = np.mean([S.combine(S.part_values(m, x, S.parts_of(method), f), method, f) for m, f in members], 0)
        assert aucs[method] == pytest.approx(roc_auc_score(held, mean), abs=1e-6)


@pytest.mark.parametrize("member,message", [
    ("other", "--split-seed 8, RUN with 7"),
    ("s1", "given twice"),
    ("conv", "--arch conv, RUN with dense"),
    ("short", "trained 1 of its 2 epochs"),
])
def test_a_member_of_other_rows_or_run_itself_is_refused_in_one_line(runs, tmp_path, member, message):
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, [str(runs["s1"]), "--out", str(out), "--member", str(runs[member])])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_sensor_ensemble_takes_any_window_length_and_gets_its_alert_point(tmp_path):
    """LSTM members on the UCI-HAR slice: the averaged graphs keep the dynamic time axis, and the alert point is
    fitted on them as on any sensor bundle."""
    import torch

    from ssvae_edge import Bundle

    har = dict(dataset="uci-har", data_dir=str(Path(__file__).parent / "data" / "uci-har"), arch="lstm", epochs=1,
               hidden=32, latent_dim=8, split_seed=0)
    runs = [fit(FitConfig(**har, seed=s), tmp_path / f"s{s}", progress=False).parent for s in (1, 2)]
    manifest = export_run(runs[0], tmp_path / "ens", ExportConfig(member=[str(runs[1])]))
    assert manifest["alert"]["k"] >= 1 and len(manifest["ensemble"]["members"]) == 2
    models = [model_from_checkpoint(load_checkpoint(r)) for r in runs]
    bundle = Bundle.load(tmp_path / "ens", providers="cpu", threads=1)
    x = prepare(FitConfig(**har, seed=1)).ds.x_test[:16]
    for t in (x.shape[1], (3 * x.shape[1]) // 4):
        xt = np.ascontiguousarray(x[:, :t])
        with torch.no_grad():
            want = np.mean([m(torch.from_numpy(xt)).numpy() for m in models], axis=0)
        got = bundle.sessions["classifier"].run(None, {"x": xt})[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_an_ensemble_is_neither_requantized_with_members_nor_a_refits_sibling(runs, bundles, tmp_path):
    from ssvae_train.errors import UserError
    from ssvae_train.export.loading import load_for_export
    from ssvae_train.export.refit import check_sibling, read_sibling

    result = CliRunner().invoke(app, [str(bundles["ens"]), "--requantize", "--member", str(runs["s2"])])
    assert result.exit_code == 2 and "--member" in result.output
    loaded = load_for_export(runs["s1"], None)
    with pytest.raises(UserError, match="an ensemble bundle's choices were made on its averaged graphs"):
        check_sibling(loaded, read_sibling(bundles["ens"]), bundles["ens"])
