"""The conventions every CLI keeps (ssvae-train, ssvae-export, ssvae-edge): -h and --version, choices
shown in --help, one `PROG: error:` line with exit 2 for usage mistakes too, --force meaning the same
everywhere, `bench` a table on a terminal and JSON elsewhere, a start line in `fit`, files written with
the user's umask, and a torch-free install whose training scripts say what to install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssvae_edge import cli as edge_cli

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"ssvae-train": "ssvae_train.cli", "ssvae-export": "ssvae_train.export.cli", "ssvae-edge": "ssvae_edge"}


def run(prog: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", MODULES[prog], *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)


def one_error_line(p: subprocess.CompletedProcess, prog: str) -> str:
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), p.stderr
    return lines[0]


@pytest.mark.parametrize("prog", list(MODULES))
def test_version_and_short_help(prog: str) -> None:
    v = run(prog, "--version")
    assert v.returncode == 0 and v.stdout.strip() == f"{prog} 0.1.0", v
    h = run(prog, "-h")
    assert h.returncode == 0 and "Usage:" in h.stdout and "--version" in h.stdout


@pytest.mark.parametrize(("prog", "args", "choices"), [
    ("ssvae-train", ["fit", "-h"], ["[ssvae|supervised|vae]", "[soft-label|m2]", "[auto|cpu|cuda]", "[fp32|bf16]",
                                    "[digits|mnist|uci-har|hapt|arrays|recordings]", "[dense|conv|lstm|convlstm]",
                                    "[random|blocks]"]),
    ("ssvae-train", ["evaluate", "-h"], ["[last|best]"]),
    ("ssvae-export", ["-h"], ["[auto|pi|min|maha_h|maha_z|energy|msp|a+b...]", "[int8]", "[last|best]"]),
    ("ssvae-edge", ["stream", "-h"], ["[fp32|int8]"]),
    ("ssvae-edge", ["bench", "-h"], ["[fp32|int8]", "--json"]),
])
def test_choices_are_shown_in_help(prog: str, args: list[str], choices: list[str]) -> None:
    out = run(prog, *args).stdout
    assert all(c in out for c in choices), out


@pytest.mark.parametrize(("prog", "args"), [
    ("ssvae-edge", ["info", "exported/har-lstm", "--bogus"]),
    ("ssvae-edge", ["stream", "exported/har-lstm"]),  # --input missing
    ("ssvae-train", ["fit", "--epochs", "many"]),
    ("ssvae-export", ["runs/x", "--threads", "some"]),
])
def test_usage_errors_are_one_line_too(prog: str, args: list[str]) -> None:
    assert f"(see {prog} -h)" in one_error_line(run(prog, *args), prog)


def test_force_means_the_same_in_demo(tmp_path: Path) -> None:
    from ssvae_train.cli import app as train_app
    from ssvae_train.export.cli import app as export_app

    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    r = CliRunner().invoke(train_app, ["demo", "--out", str(out), "--epochs", "1"])
    assert r.exit_code == 2
    assert r.stderr.strip() == f"ssvae-train: error: {out} already exists: pass --force to replace it"
    assert (out / "mine.txt").read_text() == "keep me"
    for app, args in ((train_app, ["fit", "-h"]), (train_app, ["demo", "-h"]), (export_app, ["-h"])):
        # one --force text, the same in every command that writes
        assert "Replace what --out already holds" in " ".join(CliRunner().invoke(app, args).stdout.split())


def test_bench_is_a_table_on_a_terminal_and_json_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["bench", str(ROOT / "exported" / "mnist-dense"), "--runs", "2", "--warmup", "0", "--batch-sizes", "1",
            "--threads", "1", "--precision", "int8"]
    runner = CliRunner()
    piped = runner.invoke(edge_cli.app, args)
    assert piped.exit_code == 0 and json.loads(piped.stdout)["precisions"]["classifier"] == "int8"
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    table = runner.invoke(edge_cli.app, args).stdout.splitlines()
    assert table[1].split() == ["graph", "precision", "batch", "median", "ms", "p90", "ms", "samples/s"]
    assert [r.split()[:3] for r in table[2:]] == [[g, "int8", "1"] for g in ("classifier", "anomaly", "decoder")]
    forced = runner.invoke(edge_cli.app, [*args, "--json"])
    assert json.loads(forced.stdout)["results"]


def test_fit_says_what_it_trains_before_the_first_batch(tmp_path: Path) -> None:
    from ssvae_train.cli import app as train_app

    r = CliRunner().invoke(train_app, ["fit", "--out", str(tmp_path / "r"), "--epochs", "1", "--labels", "50",
                                       "--device", "cpu"])
    assert r.exit_code == 0, r.output
    first = next(ln for ln in r.stderr.splitlines() if ln.startswith("fit: "))
    assert "digits [8, 8]" in first and "labels 50 (50 labelled)" in first and "device cpu" in first
    assert "train /" in first and "validation /" in first and "test rows" in first


def test_files_are_written_with_the_users_umask(tmp_path: Path) -> None:
    from ssvae_train.files import write_text_atomic

    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        os.umask(0o027)
        write_text_atomic(tmp_path / "b.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize(("entry", "prog", "args"), [
    ("export", "ssvae-export", ["--help"]),
    ("train", "ssvae-train", ["fit", "--dataset", "mnist", "--out", "runs/x"]),
])
def test_without_torch_the_training_scripts_name_the_extra(entry: str, prog: str, args: list[str]) -> None:
    code = ("import sys; sys.modules['torch'] = None; from ssvae_train import entry; "
            f"sys.argv = {[prog, *args]!r}; entry.{entry}()")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    line = one_error_line(p, prog)
    assert "pip install 'ssvae[train]'" in line and p.stdout == ""
