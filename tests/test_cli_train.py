"""Bad input to `ssvae-train`: one clear line, a non-zero exit, no traceback, no half-written run."""

import gzip
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssvae_train.cli", *args], capture_output=True, text=True)


def assert_one_line_error(p: subprocess.CompletedProcess, needle: str) -> None:
    assert p.returncode != 0
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("ssvae-train: error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in p.stderr


def test_missing_data_directory(tmp_path):
    p = run("fit", "--out", str(tmp_path / "r"), "--dataset", "mnist", "--data-dir", str(tmp_path / "nope"))
    assert_one_line_error(p, "does not exist")
    assert not (tmp_path / "r").exists()


def test_truncated_gz(tmp_path):
    d = tmp_path / "mnist"
    shutil.copytree(DATA / "mnist", d)
    blob = (d / "train-images-idx3-ubyte.gz").read_bytes()
    (d / "train-images-idx3-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    p = run("fit", "--out", str(tmp_path / "r"), "--dataset", "mnist", "--data-dir", str(d))
    assert_one_line_error(p, "train-images-idx3-ubyte.gz")
    assert not (tmp_path / "r").exists()


def test_zip_that_is_not_uci_har(tmp_path):
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("hello.txt", "not a data set")
    p = run("fit", "--out", str(tmp_path / "r"), "--dataset", "uci-har", "--arch", "lstm", "--data-dir", str(z))
    assert_one_line_error(p, "not a UCI-HAR archive")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--labels", "5"], "fewer labels than"),
        (["--arch", "transformer"], "--arch 'transformer'"),
        (["--model", "gan"], "--model 'gan'"),
        (["--labels", "lots"], "--labels 'lots'"),
        (["--arch", "lstm"], "--arch lstm needs sequences"),
        (["--exclude-class", "12"], "--exclude-class 12"),
        (["--kl-weight", "0"], "--kl-weight must be positive"),
    ],
)
def test_bad_options(tmp_path, args, needle):
    p = run("fit", "--out", str(tmp_path / "r"), "--dataset", "digits", *args)
    assert_one_line_error(p, needle)
    assert not (tmp_path / "r").exists()


def test_existing_run_needs_resume_or_force(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "keep.txt").write_text("x")
    p = run("fit", "--out", str(tmp_path / "r"), "--dataset", "digits", "--epochs", "1")
    assert_one_line_error(p, "already holds a run")
    assert (tmp_path / "r" / "keep.txt").exists()


def test_evaluate_corrupt_checkpoint(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "checkpoint.pt").write_bytes(gzip.compress(b"garbage"))
    assert_one_line_error(run("evaluate", str(tmp_path / "r")), "not a readable ssvae checkpoint")


def test_help_explains_every_option():
    p = run("fit", "--help")
    assert p.returncode == 0
    for opt in ("--labels", "--arch", "--objective", "--exclude-class", "--resume", "--kl-warmup", "--kl-weight"):
        assert opt in p.stdout


def test_demo_runs_end_to_end_on_embedded_digits(tmp_path):
    """README command 1's job, shortened: train both models, export, score through the edge runtime."""
    p = subprocess.run(
        [sys.executable, "-m", "ssvae_train.cli", "demo", "--out", str(tmp_path / "demo"), "--epochs", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    summary = json.loads(p.stdout[p.stdout.index("{") :])
    assert summary["edge_runtime_accuracy"] == pytest.approx(summary["semi_supervised_accuracy"], abs=0.003)
    assert summary["supervised_accuracy"] > 0.3
    for f in ("classifier.onnx", "anomaly.onnx", "decoder.onnx", "manifest.json"):
        assert (tmp_path / "demo" / "bundle" / f).exists()
    assert (tmp_path / "demo" / "generated-digit-2.png").stat().st_size > 1000
