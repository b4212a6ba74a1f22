"""Your own data: `.npz` arrays and folders of CSV recordings, `data check`, and the pipeline after them.

Every file is made in the test (small, from the committed UCI-HAR slice or scikit-learn's digits)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssvae_train.data.arrays import load_arrays, save_arrays
from ssvae_train.data.digits import load_digits
from ssvae_train.data.har_recordings import write_har_recordings
from ssvae_train.data.recordings import load_recordings, scan_recordings
from ssvae_train.data.uci_har import load_uci_har
from ssvae_train.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ["ax", "ay", "gz"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssvae_train.cli", *args], capture_output=True, text=True, cwd=cwd)


def write_csv(path: Path, x: np.ndarray, labels: list[str] | None, columns: list[str] = CHANNELS,
              rate: float | None = 50.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow((["time"] if rate else []) + columns + (["label"] if labels is not None else []))
        for i, row in enumerate(x):
            w.writerow(([f"{i / rate:.4f}"] if rate else []) + [repr(float(v)) for v in row]
                       + ([labels[i]] if labels is not None else []))
    return path


def recording(seed: int, n: int = 80, label: str = "walk", blank: slice | None = None) -> tuple[np.ndarray, list[str]]:
    x = np.random.default_rng(seed).normal(size=(n, len(CHANNELS))).astype(np.float32)
    labels = [label] * n
    if blank is not None:
        labels[blank] = [""] * len(labels[blank])
    return x, labels


def small_folder(root: Path, n_train: int = 6) -> Path:
    for i in range(n_train):
        write_csv(root / f"r{i}.csv", *recording(i, label="walk" if i % 2 else "sit"))
    write_csv(root / "test" / "t0.csv", *recording(100, label="walk"))
    write_csv(root / "test" / "t1.csv", *recording(101, label="sit"))
    (root / "dataset.json").write_text(json.dumps({"sample_rate_hz": 50, "classes": ["sit", "walk"], "units": "g"}))
    return root


# ---- recordings ---------------------------------------------------------------------------------------
def test_windows_take_the_label_their_samples_agree_on(tmp_path: Path) -> None:
    x, labels = recording(0, n=70)
    labels[35:] = ["sit"] * 35  # windows of 20, hop 10: [0,20) [10,30) walk; [20,40) [30,50) mixed; [40,60) sit
    labels[62] = ""  # a blank sample: [50,70) is not wholly labelled
    write_csv(tmp_path / "a.csv", x, labels)
    write_csv(tmp_path / "b.csv", *recording(1, n=25))  # 1 window, 5 samples left over
    write_csv(tmp_path / "c.csv", *recording(2, n=15))  # shorter than a window: skipped
    write_csv(tmp_path / "test" / "t.csv", *recording(3, n=40, label="sit"))
    ds = load_recordings(tmp_path, window=20, hop=10)
    assert ds.classes == ["sit", "walk"] and ds.channels == CHANNELS and ds.sample_rate_hz == 50
    a = ds.groups_train == ds.groups_train[0]
    assert ds.y_train[a].tolist() == [1, 1, -1, -1, 0, -1]  # starts 0, 10, ..., 50
    assert np.array_equal(ds.x_train[a][2], x[20:40])
    c = ds.counts
    assert c["windows_mixed_labels"] == 3 and c["recordings_skipped_short"] == 1
    assert c["samples_skipped"] == 5 + 15  # b: the 5 after its one window; c: all of it
    assert c["recordings_test"] == 1 and len(ds.y_test) == 3 and c["test_split"].startswith("given")


def test_without_test_folder_whole_recordings_are_held_out(tmp_path: Path) -> None:
    for i in range(10):
        write_csv(tmp_path / f"r{i}.csv", *recording(i, label="walk" if i % 2 else "sit"))
    (tmp_path / "dataset.json").write_text(json.dumps({"sample_rate_hz": 50}))
    ds = load_recordings(tmp_path, window=20, hop=10)
    assert ds.counts["recordings_test"] == 2 and ds.counts["recordings_train"] == 8
    assert len(np.unique(ds.groups_train)) == 8 and len(ds.y_test) == 2 * 7
    assert load_recordings(tmp_path, window=20, hop=10).counts == ds.counts  # fixed, whatever the seed


def test_har_converter_rebuilds_the_loader_windows_exactly(har_slice_zip: Path, tmp_path: Path) -> None:
    har = load_uci_har(har_slice_zip)
    report = write_har_recordings(har, tmp_path / "rec", keep_fraction=0.5, seed=1)
    ds = load_recordings(tmp_path / "rec")  # window 128, hop 64: the defaults are UCI-HAR's
    assert np.array_equal(ds.x_train, har.x_train) and np.array_equal(ds.x_test, har.x_test)
    assert np.array_equal(ds.y_test, har.y_test) and ds.classes == har.classes
    kept = ds.y_train >= 0
    assert np.array_equal(ds.y_train[kept], har.y_train[kept])  # a kept label is the true one
    expect = [int(round(0.5 * n)) for n in np.bincount(har.y_train, minlength=6)]
    assert np.bincount(ds.y_train[kept], minlength=6).tolist() == expect
    assert report["train"]["labelled_windows"] == sum(expect)
    assert report["train"]["recordings"] == len(np.unique(ds.groups_train))


# ---- arrays -------------------------------------------------------------------------------------------
def test_arrays_images_with_unlabelled_rows(tmp_path: Path) -> None:
    d = load_digits()
    y = d.y_train.copy()
    y[50:] = -1
    save_arrays(tmp_path / "d.npz", x_train=d.x_train, y_train=y, x_test=d.x_test,
                y_test=np.where(np.arange(len(d.y_test)) < 5, -1, d.y_test), classes=d.classes, max_value=16.0)
    ds = load_arrays(tmp_path / "d.npz")
    assert ds.kind == "image" and ds.max_value == 16.0 and (ds.y_train == -1).sum() == len(y) - 50
    assert len(ds.y_test) == len(d.y_test) - 5 and ds.counts["test_rows_skipped_unlabelled"] == 5


def test_arrays_sensor_windows_without_a_test_set(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(100, 16, 3)).astype(np.float32)
    y = np.where(np.arange(100) % 4 == 0, (np.arange(100) // 4) % 2, -1)
    save_arrays(tmp_path / "s.npz", x_train=x, y_train=y, channels=CHANNELS, sample_rate_hz=25.0, units="g")
    ds = load_arrays(tmp_path / "s.npz")
    assert ds.kind == "sensor" and ds.window == 16 and ds.hop == 8 and ds.channels == CHANNELS
    assert len(ds.y_test) == 5 and (ds.y_test >= 0).all()  # a fifth of the 25 labelled rows
    assert len(ds.y_train) == 95 and (ds.y_train >= 0).sum() == 20


# ---- problems: one line each from `data check`, one line and no run from `fit` ------------------------
def _folder_problem(root: Path, what: str) -> tuple[Path, list[str], str]:
    small_folder(root)
    extra = ["--window", "20"]
    if what == "nan":
        x, lab = recording(7)
        x[9, 1] = np.nan
        write_csv(root / "r2.csv", x, lab)
        return root, extra, "r2.csv: NaN or inf in 1 row(s), first at line 11"
    if what == "columns":
        write_csv(root / "r3.csv", *recording(8), columns=["ax", "ay", "gy"])
        return root, extra, "r3.csv: its columns differ from the other recordings' (missing gz; extra gy)"
    if what == "class":
        write_csv(root / "r4.csv", *recording(9, label="jog"))
        return root, extra, "r4.csv: unknown class name(s) 'jog' (first at line 2)"
    if what == "budget":
        return root, [*extra, "--labels", "30"], "labelled training rows, 15 labels were asked for"
    if what == "rate":
        write_csv(root / "r5.csv", *recording(10), rate=100.0)
        return root, extra, "r5.csv: the time column gives 100 Hz, but dataset.json says 50 Hz"
    raise AssertionError(what)


def _arrays_problem(root: Path, what: str) -> tuple[Path, list[str], str]:
    d = load_digits()
    x, y = d.x_train.copy(), d.y_train.copy()
    if what == "nan":
        x[3, 2, 2] = np.inf
    if what == "class":
        y[7] = 10
    save_arrays(root / "d.npz", x_train=x, y_train=y, classes=d.classes, max_value=16.0)
    return root / "d.npz", [], {"nan": "x_train has NaN or inf in 1 row(s), first row 3",
                                "class": "y_train holds an unknown class 10"}[what]


PROBLEMS = [("recordings", w) for w in ("nan", "columns", "class", "budget", "rate")] + [
    ("arrays", w) for w in ("nan", "class")]


@pytest.mark.parametrize("fmt, what", PROBLEMS)
def test_each_problem_is_one_line_and_exit_2(tmp_path: Path, fmt: str, what: str) -> None:
    make = _folder_problem if fmt == "recordings" else _arrays_problem
    path, extra, needle = make(tmp_path / "data", what)
    p = cli("data", "check", str(path), *extra)
    problems = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(problems) == 1, p.stderr
    assert problems[0].startswith("problem: ") and needle in problems[0], problems[0]
    arch = ["--arch", "lstm"] if fmt == "recordings" else []
    p = cli("fit", "--dataset", fmt, "--data-dir", str(path), *arch, *extra, "--epochs", "1",
            "--out", str(tmp_path / "run"))
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 2 and len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr, p.stderr
    assert not (tmp_path / "run").exists()


def test_a_clean_folder_checks_ok_and_several_problems_are_all_listed(tmp_path: Path) -> None:
    root = small_folder(tmp_path / "ok")
    p = cli("data", "check", str(root), "--window", "20")
    assert p.returncode == 0, p.stderr
    assert "channels (3): ax, ay, gz" in p.stdout and "class walk: 21 labelled" in p.stdout and "ok:" in p.stdout
    x, lab = recording(7)
    x[0, 0] = np.inf
    write_csv(root / "bad1.csv", x, lab)
    write_csv(root / "bad2.csv", *recording(9, label="jog"))
    p = cli("data", "check", str(root), "--window", "20")
    assert p.returncode == 2 and len([ln for ln in p.stderr.splitlines() if ln.startswith("problem: ")]) == 2
    p = cli("fit", "--dataset", "recordings", "--data-dir", str(root), "--window", "20", "--arch", "lstm",
            "--out", str(tmp_path / "r"))
    assert p.returncode == 2 and "(and 1 more: run `ssvae-train data check" in p.stderr


def test_sensor_data_needs_a_sequence_arch_whatever_its_name(tmp_path: Path) -> None:
    root = small_folder(tmp_path / "ok")
    p = cli("fit", "--dataset", "recordings", "--data-dir", str(root), "--window", "20", "--out", str(tmp_path / "r"))
    assert p.returncode == 2 and "holds sensor windows (sequences): use --arch lstm" in p.stderr
    assert not (tmp_path / "r").exists()


# ---- the same pipeline after it -----------------------------------------------------------------------
def test_recordings_fit_evaluate_export_stream_with_the_users_columns(tmp_path: Path) -> None:
    root = small_folder(tmp_path / "rec")
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    p = cli("fit", "--dataset", "recordings", "--data-dir", str(root), "--window", "20", "--arch", "lstm",
            "--epochs", "1", "--out", str(run))
    assert p.returncode == 0, p.stderr
    assert "data: 42 training windows (42 labelled, 0 unlabelled" in p.stderr
    ev = json.loads(cli("evaluate", str(run)).stdout)
    assert ev["n_test"] == 14 and 0 <= ev["test_accuracy"] <= 1
    g = cli("generate", str(run), "--out", str(tmp_path / "grid.png"))
    assert g.returncode == 0 and (tmp_path / "grid.png").stat().st_size > 0, g.stderr
    from ssvae_train.scoring.generate import plotted_channels

    assert plotted_channels(CHANNELS, 3) == ([0, 1, 2], "ax, ay, gz")
    assert plotted_channels(None, 9) == ([6, 7, 8], "total_acc_x, total_acc_y, total_acc_z")
    torch = pytest.importorskip("torch")
    counts = torch.load(run / "checkpoint.pt", weights_only=True)["data"]["counts"]
    assert counts["windows_kept"] == 56 and counts["recordings_train"] == 6
    e = subprocess.run([sys.executable, "-m", "ssvae_train.export.cli", str(run), "--out", str(bundle)],
                       capture_output=True, text=True)
    assert e.returncode == 0, e.stderr
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["channels"] == CHANNELS and m["sample_rate_hz"] == 50 and m["classes"] == ["sit", "walk"]
    assert m["window"] == 20 and m["hop"] == 10 and m["producer"]["data_counts"] == counts
    s = subprocess.run([sys.executable, "-m", "ssvae_edge", "stream", str(bundle), "--input", str(root / "r0.csv")],
                       capture_output=True, text=True)
    assert s.returncode == 0, s.stderr
    summary = json.loads(s.stdout.strip().splitlines()[-1])
    assert summary["windows"] == 7 and summary["skipped"] == 0 and summary["measured_rate_hz"] == 50


def test_scan_reports_what_check_shows(tmp_path: Path) -> None:
    scan = scan_recordings(small_folder(tmp_path / "rec"), window=20)
    assert scan.problems == [] and scan.summary["duration_s"] == pytest.approx(8 * 80 / 50)
    assert scan.summary["recordings"] == {"train": 6, "test": 2}
    with pytest.raises(UserError, match="takes a folder"):
        load_recordings(tmp_path / "nope")


def test_the_readme_worked_example_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- own-data example -->\n```bash\n", 1)[1].split("\n```", 1)[0]
    for name in ("tests", "tools"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "runs").mkdir()
    p = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-3000:]
    assert (tmp_path / "runs" / "my-bundle" / "manifest.json").is_file()
    assert (tmp_path / "runs" / "my-digits-run" / "checkpoint.pt").is_file()
    assert '"summary": true' in p.stdout
