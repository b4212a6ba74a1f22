"""The `ssvae-edge` CLI: info, stream (JSON lines, summary last), bench, and exit 2 with one line on
bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edge_fixtures import CHANNELS, make_bundle, noise_stream
from typer.testing import CliRunner

from ssvae_edge import Bundle, StreamScorer
from ssvae_edge import cli as edge_cli
from ssvae_edge.contract import Manifest

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle") / "b")


def write_csv(path: Path, x: np.ndarray, rate: float = 50.0) -> Path:
    lines = ["time," + ",".join(CHANNELS) + ",label"]
    lines += [f"{i / rate:.2f}," + ",".join(repr(float(v)) for v in row) + ",WALKING"
              for i, row in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    return path


def invoke(*args: str, input: str | None = None):
    return runner.invoke(edge_cli.app, [str(a) for a in args], input=input)


def one_error_line(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ssvae-edge: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_info_json(bundle_dir: Path) -> None:
    r = invoke("info", bundle_dir)
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["classes"][0] == "WALKING" and d["window"] == 128 and d["hop"] == 64
    assert set(d["graphs"]) == {"classifier", "anomaly", "decoder"}
    assert d["graphs"]["decoder"]["inputs"] == ["z: float [N, 16]", "y: int64 [N]"]
    assert d["providers"] == ["CPUExecutionProvider"] and d["provider_note"].startswith("auto:")


def test_info_text_on_a_terminal(bundle_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    r = invoke("info", bundle_dir, "--providers", "cpu", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert "classifier.onnx (fp32, sha256 ok)  x: float [N, 128, 9] -> probs: float [N, 6]" in r.stdout
    assert "50 Hz, window 128 (2.56 s), hop 64" in r.stdout
    assert "explicit: using CPUExecutionProvider" in r.stdout


def _info_row(monkeypatch: pytest.MonkeyPatch, bundle: str, row: str) -> str:
    """The one line of `ssvae-edge info`'s text (on a terminal) about a shipped bundle that starts with `row`."""
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    r = invoke("info", ROOT / "exported" / bundle, "--providers", "cpu", "--threads", "1")
    assert r.exit_code == 0, r.output
    (line,) = [x for x in r.stdout.splitlines() if x.startswith(row)]
    return line


def test_info_text_has_no_refit_row_for_a_bundle_that_held_validation_people_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    r = invoke("info", ROOT / "exported" / "har-phone", "--providers", "cpu", "--threads", "1")
    assert r.exit_code == 0, r.output
    rows = [x.split()[0] for x in r.stdout.splitlines() if x.strip()]
    assert Manifest.load(ROOT / "exported" / "har-phone").refit is None
    assert "posture" in rows and "refit" not in rows  # the text mode's rows are there, the refit's is not


def test_info_text_says_what_the_validation_time_can_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped novelty bundle met its target with no false alert on under an hour of validation time: info gives
    the rate's bound (0.94 h: 3.19/h), and says which point its alert gate uses."""
    wb = Manifest.load(ROOT / "exported" / "har-phone-novelty").wearer_baseline
    assert wb.false_alerts_per_hour == 0 and wb.false_alerts_per_hour_upper95 > 1.0
    row = _info_row(monkeypatch, "har-phone-novelty", "wearer baseline")
    assert f"calibrated: 0 false alerts/h (95% upper bound {wb.false_alerts_per_hour_upper95:.3g}/h)" in row
    assert "this point with --no-alert-gate" in row
    gate = _info_row(monkeypatch, "har-phone-novelty", "alert gate")
    assert f"only windows called {', '.join(wb.gate.classes)} can raise" in gate
    assert f"{wb.gate.detected}/{wb.gate.held_out_segments} held-out segments at 0 false alerts/h" in gate
    check = wb.gate.cross_check  # and how the same fit did on validation people it was not fitted on
    assert (f"fitted on half the validation people, on the other half: {check['detected']}/"
            f"{check['held_out_segments']} at {check['false_alerts_per_hour']:.2g} false alerts/h") in gate
    assert "other half" not in row  # the ungated point has no cross-check: the gate's point is the one streamed


def test_info_text_says_what_the_posture_model_does(monkeypatch: pytest.MonkeyPatch) -> None:
    row = _info_row(monkeypatch, "har-phone", "posture")
    assert "SITTING or STANDING: decided by a linear model of where gravity points and how much the body sways" in row
    assert "more than 0.1 g is SITTING/STANDING/LAYING" in row and "--no-posture" in row
    assert "(validation accuracy 0.9417 without, 0.9890 with)" in row  # the variant shipped: with its gate
    assert "over the last 8 windows too" in row  # its "+context" set


def test_stream_json_lines_with_summary_last(bundle_dir: Path, tmp_path: Path) -> None:
    x = noise_stream(1000)
    r = invoke("stream", bundle_dir, "--input", write_csv(tmp_path / "s.csv", x), "--batch", "4")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    events, summary = rows[:-1], rows[-1]
    assert summary["summary"] is True and summary["windows"] == len(events) == 14
    assert summary["partial_windows"] == 1 and summary["input"].endswith("s.csv")
    assert all("summary" not in e for e in events)
    ref = StreamScorer(Bundle.load(bundle_dir)).feed(x)
    assert [(e["start"], e["class"]) for e in events] == [(e["start"], e["class"]) for e in ref]
    assert events[2]["time"] == pytest.approx(2.56)


def test_stream_options_hop_and_alerts(bundle_dir: Path, tmp_path: Path) -> None:
    x = noise_stream(2000) * 2  # mean square ~4 + offsets: above the fixture threshold of 2
    r = invoke("stream", bundle_dir, "-i", write_csv(tmp_path / "s.csv", x), "--hop", "128",
               "--alert-k", "2", "--alert-m", "3", "--clear-k", "1", "--threshold", "1.5", "--json")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [e["start"] for e in rows[:-1]] == list(range(0, 2000 - 128 + 1, 128))
    assert rows[1]["alert"] is True and rows[-1]["alerts"] == 1 and rows[-1]["threshold"] == 1.5


def test_stream_from_stdin_and_npy(bundle_dir: Path, tmp_path: Path) -> None:
    x = noise_stream(400)
    text = write_csv(tmp_path / "s.csv", x).read_text()
    r = invoke("stream", bundle_dir, "--input", "-", input=text)
    assert r.exit_code == 0, r.output
    assert len(r.stdout.splitlines()) == 5 + 1
    np.save(tmp_path / "x.npy", x)
    r2 = invoke("stream", bundle_dir, "--input", tmp_path / "x.npy")
    assert r2.exit_code == 0, r2.output
    a = [json.loads(s) for s in r.stdout.splitlines()[:-1]]
    b = [json.loads(s) for s in r2.stdout.splitlines()[:-1]]
    assert [(e["start"], e["class"]) for e in a] == [(e["start"], e["class"]) for e in b]
    # stdin hands over a hop of rows at a time (windows scored one by one): same numbers up to rounding
    np.testing.assert_allclose([e["prob"] for e in a], [e["prob"] for e in b], rtol=1e-5)
    assert "time" in a[0] and "time" not in b[0]


def test_stream_table_on_a_terminal(bundle_dir: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_cli, "_tty", lambda: True)
    x = noise_stream(500)
    x[200, 1] = np.nan
    r = invoke("stream", bundle_dir, "--input", write_csv(tmp_path / "s.csv", x))
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    assert out[0].endswith("auto: CUDA not available, using CPUExecutionProvider")
    assert out[1].split() == ["window", "start", "time", "class", "prob", "score", "alert"]
    assert out[-1].startswith("scored 4 windows, skipped 2 (non_finite_input 2)")
    r = invoke("stream", bundle_dir, "--input", tmp_path / "s.csv", "--json")
    assert json.loads(r.stdout.splitlines()[-1])["summary"] is True


@pytest.mark.parametrize("case", ["missing_channel", "rate", "empty", "header_only", "no_file",
                                  "npy_channels", "provider", "clear_k", "tampered", "no_bundle"])
def test_bad_input_exits_2_with_one_line(bundle_dir: Path, tmp_path: Path, case: str) -> None:
    good = write_csv(tmp_path / "good.csv", noise_stream(300))
    bundle = bundle_dir
    args: list = ["--input", good]
    if case == "missing_channel":
        lines = good.read_text().splitlines()
        (tmp_path / "bad.csv").write_text("\n".join(",".join(ln.split(",")[:-2]) for ln in lines) + "\n")
        args = ["--input", tmp_path / "bad.csv"]
        expect = r"missing channel column\(s\) total_acc_z"
    elif case == "rate":
        args = ["--input", write_csv(tmp_path / "fast.csv", noise_stream(300), rate=100.0)]
        expect = "gives 100 Hz but the bundle expects 50 Hz"
    elif case == "empty":
        (tmp_path / "e.csv").write_text("")
        args = ["--input", tmp_path / "e.csv"]
        expect = "the input is empty"
    elif case == "header_only":
        (tmp_path / "h.csv").write_text(",".join(CHANNELS) + "\n")
        args = ["--input", tmp_path / "h.csv"]
        expect = "header but no samples"
    elif case == "no_file":
        args = ["--input", tmp_path / "nope.csv"]
        expect = "nope.csv: no such file"
    elif case == "npy_channels":
        np.save(tmp_path / "x.npy", np.zeros((300, 3), np.float32))
        args = ["--input", tmp_path / "x.npy"]
        expect = "expected 9 channels"
    elif case == "provider":
        args += ["--providers", "TensorrtExecutionProvider"]
        expect = "TensorrtExecutionProvider is not available"
    elif case == "clear_k":
        args += ["--clear-k", "4"]
        expect = r"clear_k \(4\) cannot exceed alert_k \(3\)"
    elif case == "tampered":
        bundle = tmp_path / "t"
        shutil.copytree(bundle_dir, bundle)
        with open(bundle / "classifier.onnx", "ab") as f:
            f.write(b"\0")
        expect = "does not match its sha256"
    else:
        bundle = tmp_path / "none"
        expect = "no such bundle"
    line = one_error_line(invoke("stream", bundle, *args))
    import re

    assert re.search(expect, line), line


def test_bench_prints_json_and_writes_file(bundle_dir: Path, tmp_path: Path) -> None:
    r = invoke("bench", bundle_dir, "--runs", "2", "--warmup", "0", "--batch-sizes", "1,4",
               "--out", tmp_path / "bench.json", "--threads", "1")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d == json.loads((tmp_path / "bench.json").read_text())
    assert {(x["graph"], x["batch"]) for x in d["results"]} == {
        (g, b) for g in ("classifier", "anomaly", "decoder") for b in (1, 4)}
    assert all(x["median_ms"] > 0 for x in d["results"]) and d["providers"] == ["CPUExecutionProvider"]
    one_error_line(invoke("bench", bundle_dir, "--batch-sizes", "one"))


def test_every_option_has_help() -> None:
    import typer.main

    group = typer.main.get_command(edge_cli.app)
    assert set(group.commands) == {"info", "stream", "bench", "web"}  # type: ignore[attr-defined]
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        assert cmd.help, name
        for p in cmd.params:
            assert getattr(p, "help", None), f"{name} {p.name} has no help"


def test_real_process_exit_code_and_stderr(bundle_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    r = subprocess.run([sys.executable, "-m", "ssvae_edge", "stream", str(bundle_dir), "--input", str(bad)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "missing channel column(s)" in r.stderr
