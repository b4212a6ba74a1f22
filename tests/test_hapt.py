"""HAPT (the continuous phone recordings) and groups: the loader on a real slice, the split by person
(including a class whose only labels one person holds), every bad input as one line and exit 2 with no run
folder, and fit -> export -> stream end to end on whole recordings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from ssvae_train.data.budgets import exclude_class, make_split, rows_touching
from ssvae_train.data.hapt import (
    CHANNELS,
    load_hapt,
    read_hapt_recordings,
    turned_about_long_axis,
    write_recordings_csv,
)
from ssvae_train.errors import UserError

SLICE = Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip"
ROOT = "HAPT Data Set/"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssvae_train.cli", *args], capture_output=True, text=True)


def edited_slice(tmp_path: Path, edit) -> Path:
    """A copy of the slice with `edit(members: dict[str, bytes])` applied to its members."""
    with zipfile.ZipFile(SLICE) as z:
        members = {n: z.read(n) for n in z.namelist() if not n.endswith("/")}
    edit(members)
    out = tmp_path / "edited.zip"
    with zipfile.ZipFile(out, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return out


# ---- the loader ----------------------------------------------------------------------------------------
def test_the_slice_loads_as_raw_phone_channels_with_people_as_groups() -> None:
    ds = load_hapt(SLICE)
    assert ds.channels == CHANNELS and ds.units == "g, rad/s" and ds.sample_rate_hz == 50
    assert ds.sample_shape == (128, 6) and ds.classes[:3] == ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS"]
    assert [ds.group_names[g] for g in np.unique(ds.groups_train)] == ["user01", "user03", "user05"]
    assert ds.counts["test_split"].endswith("user02") and len(ds.x_test) == (ds.y_test >= 0).sum()
    # raw values as the phone gives them: the acc channels hold gravity (about 1 g), nothing filtered
    assert 0.8 < np.linalg.norm(ds.x_train[..., :3], axis=-1).mean() < 1.2
    labelled, unlabelled = (ds.y_train >= 0).sum(), (ds.y_train < 0).sum()
    assert labelled and unlabelled  # set-up, pauses and transitions are unlabelled training rows
    recs, _ = read_hapt_recordings(SLICE)
    assert {r.name for r in recs if r.test} == {"exp03_user02"}
    assert {"", "STAND_TO_LIE", "WALKING"} <= set(recs[0].labels)  # whole time, transitions named for the alerts


def test_transitions_can_be_classes_of_their_own() -> None:
    ds = load_hapt(SLICE, transitions=True)
    assert len(ds.classes) == 12 and "SIT_TO_STAND" in ds.classes
    assert (ds.y_train >= 6).any() and (ds.y_train >= 0).sum() > (load_hapt(SLICE).y_train >= 0).sum()


def test_a_held_out_class_leaves_training_with_the_windows_straddling_its_segments() -> None:
    ds = load_hapt(SLICE)
    k = ds.classes.index("WALKING_DOWNSTAIRS")
    touching = rows_touching(ds, ["WALKING_DOWNSTAIRS"])
    edges = touching & (ds.y_train != k)
    assert (touching[ds.y_train == k]).all() and edges.any() and (ds.y_train[edges] == -1).all()
    # the straddling windows are those whose samples include the class without all being it: count them apart
    recs = [r for r in ds.recordings if not r.test]
    hits = np.concatenate([np.lib.stride_tricks.sliding_window_view(r.labels == "WALKING_DOWNSTAIRS", ds.window)
                           [:: ds.hop][: (len(r.x) - ds.window) // ds.hop + 1].sum(1) for r in recs])
    assert edges.sum() == ((hits > 0) & (hits < ds.window)).sum()
    out = exclude_class(ds, k)
    assert len(out.y_train) == len(ds.y_train) - touching.sum()
    assert out.extra["excluded_edge_windows"] == edges.sum()
    # the edge windows were mixed-label windows: the count of those that stay goes down by as many
    assert out.counts["windows_mixed_labels"] == ds.counts["windows_mixed_labels"] - edges.sum()
    kept = exclude_class(ds, k, whole_windows_only=True)  # runs trained before the correction
    assert len(kept.y_train) == (ds.y_train != k).sum() and kept.extra["excluded_edge_windows"] == 0


def test_recordings_csv_stream_back_the_same_samples(tmp_path: Path) -> None:
    recs, _ = read_hapt_recordings(SLICE)
    path = write_recordings_csv(recs[:1], tmp_path)[0]
    from ssvae_edge import read_recording
    from ssvae_edge.labelled import read_labels

    got = read_recording(path, CHANNELS, 50.0)
    np.testing.assert_allclose(got.samples, recs[0].x, rtol=1e-6)
    assert list(read_labels(path)) == list(recs[0].labels)


# ---- groups and the split --------------------------------------------------------------------------------
def test_a_turn_about_the_long_axis_keeps_x_and_rotates_both_sensors_alike() -> None:
    rec = read_hapt_recordings(SLICE)[0][0]
    x = rec.x[:500]
    np.testing.assert_allclose(turned_about_long_axis(x, 180), x * np.array([1, -1, -1, 1, -1, -1]), atol=1e-6)
    quarter = turned_about_long_axis(x, 90)  # y goes to z, z to -y
    np.testing.assert_allclose(quarter[:, [0, 3]], x[:, [0, 3]])
    np.testing.assert_allclose(quarter[:, [2, 5]], x[:, [1, 4]], atol=1e-6)
    np.testing.assert_allclose(quarter[:, [1, 4]], -x[:, [2, 5]], atol=1e-6)
    back = turned_about_long_axis(turned_about_long_axis(x, 57), -57)
    np.testing.assert_allclose(back, x, atol=1e-5)


def test_the_recordings_tool_writes_turned_copies_and_refuses_two_turns(tmp_path: Path) -> None:
    tool = [sys.executable, str(Path(__file__).resolve().parents[1] / "tools" / "hapt_recordings.py"), "--data-dir",
            str(SLICE), "--people", "user05"]
    p = subprocess.run([*tool, "--out", str(tmp_path / "t"), "--turn", "90"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rec = next(r for r in read_hapt_recordings(SLICE)[0] if r.group == "user05")
    got = np.loadtxt(tmp_path / "t" / f"{rec.name}.csv", delimiter=",", skiprows=1, usecols=range(1, 7))
    np.testing.assert_allclose(got, turned_about_long_axis(rec.x, 90), atol=1e-5)
    wide = {**os.environ, "COLUMNS": "400"}  # typer's error box: the message on one line
    p = subprocess.run([*tool, "--out", str(tmp_path / "u"), "--turn", "90", "--turn-around"], capture_output=True,
                       text=True, env=wide)
    assert p.returncode == 2 and "give one of them" in p.stderr and not (tmp_path / "u").exists()


def test_validation_holds_whole_people() -> None:
    ds = load_hapt(SLICE)
    for seed in range(4):
        split = make_split(ds.y_train, ds.n_classes, None, seed, 0.3, ds.groups_train, ds.classes)
        val_people = set(ds.groups_train[split.val])
        assert val_people and not val_people & set(ds.groups_train[split.train])


def test_a_class_whose_only_labels_one_person_holds_never_goes_to_validation() -> None:
    ds = load_hapt(SLICE)
    y = ds.y_train.copy()
    sitting = ds.classes.index("SITTING")
    only = ds.groups_train == np.unique(ds.groups_train)[1]
    y[(y == sitting) & ~only] = -1  # SITTING now labelled for one person only
    for seed in range(6):
        split = make_split(y, ds.n_classes, None, seed, 0.4, ds.groups_train, ds.classes)
        assert (y[split.labelled] == sitting).any(), seed
        assert not only[split.val].any()


def test_when_every_person_holds_some_class_alone_the_split_says_so_in_one_line() -> None:
    ds = load_hapt(SLICE)
    y = ds.y_train.copy()
    people = np.unique(ds.groups_train)
    for c, g in zip(range(3), people, strict=True):  # class c labelled by person g only
        y[(y == c) & (ds.groups_train != g)] = -1
    with pytest.raises(UserError, match="each holds the only labels of class 'WALKING") as e:
        make_split(y, ds.n_classes, None, 0, 0.3, ds.groups_train, ds.classes)
    assert "\n" not in str(e.value)


def test_own_recordings_name_their_groups_and_validation_holds_them_whole(tmp_path: Path) -> None:
    from test_own_data import recording, write_csv

    from ssvae_train.data.recordings import load_recordings

    root = tmp_path / "rec"
    groups = {}
    for i in range(6):
        write_csv(root / f"r{i}.csv", *recording(i, label="walk" if i % 2 else "sit"))
        groups[f"r{i}.csv"] = f"person{i // 2}"  # two recordings per person
    write_csv(root / "test" / "t0.csv", *recording(100, label="walk"))
    (root / "dataset.json").write_text(json.dumps({"sample_rate_hz": 50, "groups": groups}))
    ds = load_recordings(root, window=20)
    assert sorted(set(ds.group_names)) == ["person0", "person1", "person2", "test/t0.csv"]
    for seed in range(4):
        split = make_split(ds.y_train, ds.n_classes, None, seed, 0.3, ds.groups_train, ds.classes)
        people = {ds.group_names[g] for g in ds.groups_train[split.val]}
        assert len(people) == 1 and not set(ds.groups_train[split.val]) & set(ds.groups_train[split.train])
    (root / "dataset.json").write_text(json.dumps({"groups": {"nope.csv": "x"}}))
    with pytest.raises(UserError, match="groups names recording"):
        load_recordings(root, window=20)


# ---- bad input ---------------------------------------------------------------------------------------------
def _drop_gyro(m: dict) -> None:
    del m[ROOT + "RawData/gyro_exp06_user03.txt"]


def _short_acc(m: dict) -> None:
    name = ROOT + "RawData/acc_exp06_user03.txt"
    m[name] = b"".join(m[name].splitlines(keepends=True)[:-5])


def _label_past_end(m: dict) -> None:
    m[ROOT + "RawData/labels.txt"] += b"6 3 1 12000 12600\n"


def _unknown_activity(m: dict) -> None:
    m[ROOT + "RawData/labels.txt"] += b"6 3 13 100 200\n"


@pytest.mark.parametrize("edit, message", [
    (_drop_gyro, "RawData/gyro_exp06_user03.txt is missing"),
    (_short_acc, "acc has 12495 samples, gyro 12500"),
    (_label_past_end, "samples 12000..12600 lie outside the recording's 1..12500"),
    (_unknown_activity, "unknown activity id 13"),
])
def test_each_bad_input_is_one_line_exit_2_and_no_run_folder(tmp_path: Path, edit, message: str) -> None:
    data = edited_slice(tmp_path, edit)
    out = tmp_path / "run"
    p = cli("fit", "--dataset", "hapt", "--data-dir", str(data), "--arch", "convlstm", "--epochs", "1",
            "--out", str(out))
    assert p.returncode == 2 and message in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not out.exists()
    c = cli("data", "check", str(data), "--dataset", "hapt")
    assert c.returncode == 2 and message in c.stderr


# ---- end to end ----------------------------------------------------------------------------------------------
def test_fit_export_stream_on_whole_recordings(tmp_path: Path) -> None:
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    # trained as before the held-out class's straddling windows left training: the rebuild must train-split alike
    p = cli("fit", "--dataset", "hapt", "--data-dir", str(SLICE), "--arch", "convlstm", "--hidden", "16",
            "--latent-dim", "4", "--epochs", "1", "--exclude-class", "2", "--held-out-windows", "whole",
            "--val-fraction", "0.3", "--out", str(run))
    assert p.returncode == 0, p.stderr
    e = subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(bundle), "--quiet"],
                       capture_output=True, text=True)
    assert e.returncode == 0, e.stderr
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["channels"] == CHANNELS and m["units"] == "g, rad/s" and m["sample_rate_hz"] == 50
    alert = m["alert"]
    # the operating point was fitted on the validation person's whole recording, not on stitched windows
    assert alert["measured_on"].startswith("the validation people's continuous recordings")
    assert alert["streams"]["people"] and alert["streams"]["held_out"] == "WALKING_DOWNSTAIRS"
    assert "unlabelled_raises" in alert and alert["normal_hours"] > 0
    if alert["segment_recall"] is None or alert["segment_recall"] < 0.9:  # one epoch: expected to catch few
        assert alert["warnings"] and "WARNING:" in e.stderr  # said loudly, even with --quiet
    # the wearer baseline is weighed on the validation person against the plain score: shipped only if it won
    wb = alert.get("wearer_baseline")
    assert wb is None or wb["detected"] > wb["plain_score"]["detected"]
    assert m["smoothing"]["windows"] >= 1 and m["smoothing"]["chosen_on"].startswith("the validation people")
    # the sequence filter and the mounting estimate were each weighed on the validation person: shipped or not
    assert "sequence filter:" in e.stderr + e.stdout or "sequence" not in m
    mounting = m.get("mounting")
    if mounting is not None:
        assert mounting["flip"] == [1, -1, -1, 1, -1, -1] and mounting["chosen_on"].startswith("the validation")
        assert mounting["validation"]["off"]["worn"] - mounting["validation"][f"{mounting['prior']:g}"]["worn"] <= 0.005
    # the posture model was weighed on the validation person too: shipped only where it raised its accuracy
    posture = m.get("posture")
    if posture is not None:
        assert posture["classes"] == ["SITTING", "STANDING"] and posture["accelerometer"] == CHANNELS[:3]
        assert posture["validation"]["on"] > posture["validation"]["off"]
        gated = posture["validation"]["on_with_motion_gate"] > posture["validation"]["on"]
        assert (posture.get("max_motion_sd") == 0.1) == gated  # the motion gate only where it won too
        # both feature sets were weighed there (the phone has a gyroscope); the better one ships
        sets = posture["validation"]["features"]
        assert set(sets) == {"window+gravity+log_sd", "long-axis+sway"}
        best = max(sets, key=lambda f: (max(sets[f].values()), f == "window+gravity+log_sd"))
        assert posture["features"] == best and ("gyroscope" in posture) == (best == "long-axis+sway")
        assert posture["rule"].startswith("of the feature sets")
    # --posture-features reaches the posture model: one set weighed, said in the export's line and the manifest;
    # --alert-max-delay reaches the alert's manifest entry
    forced = subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(tmp_path / "any"),
                             "--posture-features", "long-axis+sway", "--alert-max-delay", "4.5"],
                            capture_output=True, text=True)
    assert forced.returncode == 0, forced.stderr
    line = next(x for x in (forced.stdout + forced.stderr).splitlines() if x.startswith("posture model:"))
    assert "each set" not in line, line
    fm = json.loads((tmp_path / "any" / "manifest.json").read_text())
    assert fm["alert"]["target_median_delay_s"] == 4.5 and "target_median_delay_s" not in alert
    fwb = fm["alert"].get("wearer_baseline")  # written only where it beat the plain score on the validation person
    if fwb is not None:
        assert fwb["target_median_delay_s"] == 4.5
    fp = fm.get("posture")
    assert fp is None or (fp["features"] == "long-axis+sway" and "--posture-features" in fp["rule"])
    # --alert-debounce cross-checked needs two validation people to judge a debounce on: one line, no bundle
    oos = subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(tmp_path / "oos"),
                          "--quiet", "--alert-debounce", "cross-checked"], capture_output=True, text=True)
    assert len(alert["streams"]["people"]) == 1  # the slice's one validation person
    assert oos.returncode == 2 and not (tmp_path / "oos").exists(), oos.stderr
    assert "--alert-debounce cross-checked: the validation streams hold one person" in oos.stderr, oos.stderr
    recs, _ = read_hapt_recordings(SLICE)
    csv = write_recordings_csv([r for r in recs if r.test], tmp_path / "csv")[0]
    text = csv.read_text().splitlines()
    csv.write_text("\n".join([text[0] + ",temperature"] + [r + ",20.5" for r in text[1:]]) + "\n")
    s = subprocess.run([sys.executable, "-m", "ssvae_edge", "stream", str(bundle), "--input", str(csv)],
                       capture_output=True, text=True)
    assert s.returncode == 0, s.stderr
    assert "ignoring column(s) 'temperature'" in s.stderr and len(s.stderr.strip().splitlines()) == 1
    lines = [json.loads(x) for x in s.stdout.strip().splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert summary["windows"] == (12500 - 128) // 64 + 1 == len(events)
    assert summary["smoothing_windows"] == m["smoothing"]["windows"] and summary["ignored_columns"] == ["temperature"]
    assert {ev["class"] for ev in events} <= set(m["classes"])


def test_requantizing_fits_the_wearer_baselines_int8_threshold_again(tmp_path: Path) -> None:
    """The int8 thresholds of `alert.wearer_baseline` and of its gate belong to the int8 graphs they were fitted on:
    `--requantize` fits them again on the validation person's recording (here from planted wrong values)."""
    from dataclasses import replace

    from ssvae_edge import Bundle
    from ssvae_edge.sections import AlertGate, WearerBaselineSection
    from ssvae_train.export.requantize import requantize_bundle
    from ssvae_train.export.wearer_baseline_fit import write_with_baseline

    run, bundle = tmp_path / "run", tmp_path / "bundle"
    # trained as before the held-out class's straddling windows left training: the rebuild must train-split alike
    p = cli("fit", "--dataset", "hapt", "--data-dir", str(SLICE), "--arch", "convlstm", "--hidden", "16",
            "--latent-dim", "4", "--epochs", "1", "--exclude-class", "2", "--held-out-windows", "whole",
            "--val-fraction", "0.3", "--out", str(run))
    assert p.returncode == 0, p.stderr
    e = subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(bundle), "--quiet",
                        "--quantize", "int8"], capture_output=True, text=True)
    assert e.returncode == 0, e.stderr
    m = Bundle.load(bundle, providers="cpu", threads=1).manifest
    planted = WearerBaselineSection(prior=dict.fromkeys(m.classes, 0.0), prior_windows=5, k=m.alert.k, m=m.alert.m,
                                    clear_k=1, threshold=1.0, threshold_int8=-12345.0, target_false_alerts_per_hour=0.5,
                                    gate=AlertGate(classes=tuple(m.classes), prior_windows=5, k=1, m=1, clear_k=1,
                                                   threshold=2.0, threshold_int8=-6789.0))
    write_with_baseline(bundle, tmp_path / "wb", planted)
    said: list[str] = []
    requantize_bundle(tmp_path / "wb", str(SLICE), say=said.append)
    wb = Bundle.load(tmp_path / "wb", providers="cpu", threads=1).manifest.alert.wearer_baseline
    assert any(line.startswith("wearer baseline: int8 threshold fitted again") for line in said), said
    assert any(line.startswith("alert gate: int8 threshold fitted again") for line in said), said
    assert wb.threshold_int8 != -12345.0 and np.isfinite(wb.threshold_int8)
    assert wb.gate.threshold_int8 != -6789.0 and np.isfinite(wb.gate.threshold_int8)
    same = {"threshold_int8": None, "gate": replace(planted.gate, threshold_int8=None)}
    assert replace(wb, **{**same, "gate": replace(wb.gate, threshold_int8=None)}) == replace(planted, **same)
    # the int8 graphs are calibrated on the same rows as at export (the producer's held_out_windows), bit for bit
    assert m.producer.held_out_windows == "whole"
    for f in sorted(bundle.glob("*.int8.onnx")):
        assert (tmp_path / "wb" / f.name).read_bytes() == f.read_bytes(), f.name


def test_a_run_saved_before_the_correction_reads_back_as_trained() -> None:
    from ssvae_train.config import FitConfig
    saved = FitConfig(dataset="hapt", exclude_class=2).to_dict()
    assert saved["held_out_windows"] == "any" and FitConfig.from_dict(saved).held_out_windows == "any"
    del saved["held_out_windows"]  # a checkpoint written before the option existed
    assert FitConfig.from_dict(saved).held_out_windows == "whole"
    plain = FitConfig(dataset="hapt").to_dict()
    del plain["held_out_windows"]  # no held-out class: nothing to keep as it was
    assert FitConfig.from_dict(plain).held_out_windows == "any"
    with pytest.raises(UserError, match="give --exclude-class"):
        FitConfig(dataset="hapt", arch="convlstm", held_out_windows="whole").validate()


def test_requantize_reads_the_runs_data_options_from_older_producers_too() -> None:
    from ssvae_edge.sections import Producer
    from ssvae_train.export.requantize import held_out_windows_of, transitions_of

    assert held_out_windows_of(Producer(held_out_windows="any")) == "any"
    assert held_out_windows_of(Producer(excluded_class=2, data_counts={"held_out_edge_windows_skipped": 502})) == "any"
    assert held_out_windows_of(Producer(excluded_class=2, data_counts={"train": 10})) == "whole"  # before the option
    assert held_out_windows_of(Producer(data_counts={"train": 10})) == "any"  # no held-out class: the default
    assert transitions_of(Producer(transitions=True), []) and not transitions_of(Producer(dataset="hapt"), ["SITTING"])
    assert transitions_of(Producer(dataset="hapt"), ["WALKING", "STAND_TO_SIT"])
