"""A refit on every training person (`fit --val-fraction 0`) and its export with the choices its validated
sibling made (`ssvae-export --choices-from`), on the real HAPT slice: the split, the borrowed sections, what
the manifest says about them, and each misuse as one line, exit 2 and no bundle."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ssvae_edge import cli as edge_cli
from ssvae_train.config import FitConfig
from ssvae_train.data.budgets import make_split
from ssvae_train.data.hapt import load_hapt
from ssvae_train.errors import UserError
from ssvae_train.export.refit import DECODING, OPTIMISTIC

SLICE = Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip"
FIT = ("--dataset", "hapt", "--data-dir", str(SLICE), "--arch", "convlstm", "--hidden", "16", "--latent-dim", "4",
       "--epochs", "1", "--threads", "1", "--quiet")


def fit(out: Path, val_fraction: str) -> None:
    p = subprocess.run([sys.executable, "-m", "ssvae_train.cli", "fit", *FIT, "--val-fraction", val_fraction,
                        "--out", str(out)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def export(run: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(out), "--quiet",
                           *extra], capture_output=True, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the refit, its validated sibling, the sibling's bundle): one epoch each, on the same seed."""
    d = tmp_path_factory.mktemp("refit")
    fit(d / "refit", "0")
    fit(d / "sibling", "0.3")
    e = export(d / "sibling", d / "sibling-bundle")
    assert e.returncode == 0, e.stderr
    return d / "refit", d / "sibling", d / "sibling-bundle"


def test_no_validation_rows_means_every_row_trains() -> None:
    ds = load_hapt(SLICE)
    split = make_split(ds.y_train, ds.n_classes, None, 0, 0.0, ds.groups_train, list(ds.classes))
    assert len(split.val) == 0 and np.array_equal(split.train, np.arange(len(ds.y_train)))
    with_val = make_split(ds.y_train, ds.n_classes, None, 0, 0.3, ds.groups_train, list(ds.classes))
    assert len(with_val.val) > 0 and len(with_val.train) < len(split.train)
    with pytest.raises(UserError, match=r"must lie in \[0, 0.5\)"):
        FitConfig(dataset="hapt", arch="convlstm", val_fraction=-0.1).validate()
    with pytest.raises(UserError, match="does not go with"):
        FitConfig(dataset="hapt", arch="convlstm", val_fraction=0.0, exclude_class=2, val_anomaly_class=1).validate()


def edited_manifest(bundle: Path, out: Path, edit) -> Path:
    """A folder holding `bundle`'s manifest with `edit(manifest)` applied (all --choices-from reads; the graph
    files are not read)."""
    m = json.loads((bundle / "manifest.json").read_text())
    edit(m)
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps(m))
    return out


def test_the_refit_takes_its_siblings_choices_and_says_its_alert_is_optimistic(runs, tmp_path: Path) -> None:
    refit, _, sibling_bundle = runs
    # one epoch on the slice chooses no posture model: the shipped phone bundle's (same classes and channels)
    # joins the sibling's manifest, so the section the refit exists for is among those copied
    phone = json.loads((Path(__file__).parent.parent / "exported" / "har-phone" / "manifest.json").read_text())
    sibling = edited_manifest(sibling_bundle, tmp_path / "sibling", lambda m: m.update(posture=phone["posture"]))
    e = export(refit, tmp_path / "b", "--choices-from", str(sibling))
    assert e.returncode == 0, e.stderr
    m = json.loads((tmp_path / "b" / "manifest.json").read_text())
    s = json.loads((sibling / "manifest.json").read_text())
    for key in DECODING:  # verbatim, validation figures included
        assert m.get(key) == s.get(key)
    assert m["posture"] == phone["posture"] and "posture" in m["refit"]["taken_verbatim"]  # its "+context" set too
    assert m["refit"]["taken_verbatim"] == [k for k in DECODING if s.get(k) is not None]
    assert m["refit"]["choices_from"] == str(sibling) and m["refit"]["sibling_val_fraction"] == 0.3
    assert m["refit"]["choices_from_sha256"] == hashlib.sha256((sibling / "manifest.json").read_bytes()).hexdigest()
    assert "which this refit trained on" in m["threshold_calibration"]["source"]
    # the alert was fitted on the sibling's validation people, whom the refit trained on: said, loudly
    people = s["alert"]["streams"]["people"]
    assert m["alert"]["streams"]["people"] == people == m["refit"]["sibling_validation_people"]
    assert OPTIMISTIC in m["alert"]["warnings"] and "optimistic" in e.stderr
    assert m["producer"]["val_fraction"] == 0.0 and m["producer"]["run"] == str(refit)


def test_info_says_the_bundle_is_a_refit_and_where_its_choices_came_from(
        runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refit, _, sibling_bundle = runs
    assert export(refit, tmp_path / "b", "--choices-from", str(sibling_bundle)).returncode == 0
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    r = CliRunner().invoke(edge_cli.app, ["info", str(tmp_path / "b"), "--providers", "cpu", "--threads", "1"])
    assert r.exit_code == 0, r.output
    (row,) = [x for x in r.stdout.splitlines() if x.startswith("refit")]
    assert "graphs trained on every training person (no validation rows)" in row and "optimistic" in row
    assert f"from {sibling_bundle}, chosen there on its validation people" in row


@pytest.mark.parametrize("case", ["no choices", "own validation", "no bundle", "other data", "other hop",
                                  "sibling without validation", "other recipe", "other people", "unknown key"])
def test_each_misuse_is_one_line_exit_2_and_no_bundle(runs, tmp_path: Path, case: str) -> None:
    refit, sibling, sibling_bundle = runs
    edits = {"other data": (lambda m: m["producer"].update(dataset="uci-har"), "its run is on 'uci-har', this one"),
             "other hop": (lambda m: m.update(hop=32), "its hop (32) differ"),
             "sibling without validation": (lambda m: m["producer"].update(val_fraction=0.0),
                                            "had no validation people either"),
             "other recipe": (lambda m: m["producer"].update(hidden=32), "its run has hidden 32, this one 16"),
             "other people": (lambda m: m["alert"]["streams"].update(people=["user99"]),
                              "its validation rows cannot be drawn again from this data"),
             "unknown key": (lambda m: m["mounting"].update(newer=1), "its 'mounting' has keys this exporter does "
                             "not know (newer)")}
    if case in edits:
        edit, says = edits[case]
        run, extra = refit, ("--choices-from", str(edited_manifest(sibling_bundle, tmp_path / "edited", edit)))
    else:
        run, extra, says = {
            "no choices": (refit, (), "trained without validation people (--val-fraction 0): give --choices-from"),
            "own validation": (sibling, ("--choices-from", str(sibling_bundle)), "this run has its own"),
            "no bundle": (refit, ("--choices-from", str(tmp_path)), "not a bundle (no manifest.json)"),
        }[case]
    e = export(run, tmp_path / "out", *extra)
    assert e.returncode == 2 and says in e.stderr and len(e.stderr.strip().splitlines()) == 1, e.stderr
    assert not (tmp_path / "out").exists()
