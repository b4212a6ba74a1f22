"""tools/bench_edge.py and tools/eval_alerts.py, run as scripts end to end in --quick mode on a real (tiny)
bundle: a 1-epoch LSTM trained on the committed UCI-HAR slice with one activity held out, exported with int8
graphs; and the package code they stand on (`ssvae_edge.labelled`: a labelled stream scored and its alerts
replayed at another operating point).

The benchmark's numbers are wall-clock measurements: only their presence and sanity are checked here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")


ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = 2  # WALKING_DOWNSTAIRS


@pytest.fixture(scope="module")
def novelty(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run, int8 bundle and demo stream, all from the real UCI-HAR slice."""
    import torch

    from ssvae_train.config import FitConfig
    from ssvae_train.data.uci_har import load_uci_har
    from ssvae_train.export import export_run
    from ssvae_train.export.config import ExportConfig
    from ssvae_train.training.trainer import fit

    root = tmp_path_factory.mktemp("tools_edge")
    data = ROOT / "tests" / "data" / "uci-har"
    cfg = FitConfig(dataset="uci-har", data_dir=str(data), arch="lstm", epochs=1, hidden=32, batch_size=32,
                    val_fraction=0.2, exclude_class=HELD_OUT)
    # One torch thread: on a busy machine, LSTM kernels with more threads than free cores run many times slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fit(cfg, root / "run", progress=False)
        export_run(root / "run", root / "bundle", ExportConfig(quantize="int8"))
    finally:
        torch.set_num_threads(threads)
    ds = load_uci_har(data / "UCI HAR Dataset.zip")
    from ssvae_train.data.har_streams import build_streams

    build_streams(ds.x_test, ds.y_test, list(ds.classes), list(ds.channels), root / "streams",
                                       demo_minutes=2.0, seed=1)
    return {"root": root, "data": data, "run": root / "run", "bundle": root / "bundle",
            "stream": root / "streams" / "demo_stream.csv"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


# ---- bench_edge -------------------------------------------------------------------------------------------
def test_bench_edge_quick_writes_every_number(novelty: dict[str, Path]) -> None:
    out = novelty["root"] / "bench"
    _run([str(ROOT / "tools" / "bench_edge.py"), "--bundle", str(novelty["bundle"]), "--run", str(novelty["run"]),
          "--data-dir", str(novelty["data"]), "--out", str(out), "--quick", "--threads", "1",
          "--latency-runs", "10", "--stream-samples", "10000"], cwd=novelty["root"])
    report = json.loads((out / "edge.json").read_text())
    md = (out / "edge.md").read_text()

    for key in ("bundle", "run", "inputs", "machine", "versions", "settings", "eager", "results", "speedup", "stream"):
        assert key in report, key
    assert report["quick"] is True
    m = report["machine"]
    assert len(m["loadavg_start"]) == 3 and len(m["loadavg_end"]) == 3 and m["cpus"] >= 1
    assert report["versions"]["onnxruntime"] and report["versions"]["torch"]
    assert report["eager"]["included"] is True
    # same model in both engines: PyTorch eager and onnxruntime fp32 agree
    assert all(d < 1e-4 for d in report["eager"]["max_relative_diff_vs_onnxruntime_fp32"].values())

    rows = {(r["engine"], r["precision"], r["threads"], r["graph"]) for r in report["results"]}
    for engine, precision in (("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("pytorch-eager", "fp32")):
        for graph in ("classifier", "anomaly"):
            assert (engine, precision, 1, graph) in rows
    for r in report["results"]:
        assert r["p99_ms"] >= r["p50_ms"] > 0
        assert 5 <= r["latency_runs"] <= 10  # fewer only when the row's time budget ran out
        assert set(r["throughput"]) == {"64", "256"}
        assert all(t["windows_per_s"] > 0 for t in r["throughput"].values())
    assert {(s["graph"], s["threads"]) for s in report["speedup"]} == {("classifier", 1), ("anomaly", 1)}
    assert all(s["fp32"] > 0 and s["int8"] > 0 for s in report["speedup"])
    # the plain LSTM-64 baseline took turns with the others, and its ratio is the classifier's p50 over its own
    assert ("onnxruntime-lstm64-baseline", "fp32", 1, "classifier") in rows
    (b,) = report["baseline"]["rows"]
    ratio = round(b["classifier_p50_ms"] / b["baseline_p50_ms"], 3)
    assert b["threads"] == 1 and b["classifier_over_baseline"] == ratio
    assert b["eager_over_classifier"] > 0 and "classifier / LSTM-64" in md

    st = report["stream"]
    assert "error" not in st, st
    assert st["samples"] == 10000 and st["hop"] == 64 and st["window"] == 128
    assert st["windows"] == (10000 - 128) // 64 + 1
    assert st["skipped"] == 0
    assert st["stream_windows_per_s"] > 0 and st["bare_windows_per_s"] > 0 and st["stream_over_bare"] > 0
    assert st["bare_full_batch_windows_per_s"] > 0 and st["stream_over_bare_full_batch"] > 0
    assert isinstance(st["within_10_percent_of_bare"], bool)
    mem = st["memory"]
    for key in ("rss_start_mib", "rss_after_warmup_mib", "rss_peak_sampled_mib", "rss_end_mib", "peak_hwm_mib",
                "max_growth_after_warmup_mib"):
        assert mem[key] is not None, key
    assert mem["peak_hwm_mib"] >= mem["rss_peak_sampled_mib"] > 0
    assert mem["ring_buffer_samples"] == 128 + 31 * 64

    assert "| engine | precision | threads | graph | p50 ms | p99 ms |" in md
    assert md.count("| onnxruntime | int8 |") == 2 and "Stream" in md and "stream / bare" in md


def test_bench_edge_without_run_skips_eager_and_says_so(novelty: dict[str, Path]) -> None:
    out = novelty["root"] / "bench-noeager"
    _run([str(ROOT / "tools" / "bench_edge.py"), "--bundle", str(novelty["bundle"]), "--data-dir",
          str(novelty["data"]), "--out", str(out), "--quick", "--threads", "1", "--latency-runs", "10",
          "--throughput-reps", "1", "--stream-samples", "5000"], cwd=novelty["root"])
    report = json.loads((out / "edge.json").read_text())
    assert report["eager"]["included"] is False and "--run" in report["eager"]["reason"]
    # no eager rows; the LSTM-64 baseline (built with torch, which the tests have) still runs
    assert {r["engine"] for r in report["results"]} == {"onnxruntime", "onnxruntime-lstm64-baseline"}
    assert report["speedup"] == []
    assert "PyTorch eager rows skipped" in (out / "edge.md").read_text()


# ---- eval_alerts ------------------------------------------------------------------------------------------
def test_eval_alerts_quick_scores_the_held_out_activity(novelty: dict[str, Path]) -> None:
    out = novelty["root"] / "alerts"
    _run([str(ROOT / "tools" / "eval_alerts.py"), "--bundle", str(novelty["bundle"]), "--stream",
          str(novelty["stream"]), "--run", str(novelty["run"]), "--out", str(out), "--quick", "--figures",
          str(out / "figures")], cwd=novelty["root"])
    report = json.loads((out / "alerts.json").read_text())
    manifest = json.loads((novelty["bundle"] / "manifest.json").read_text())

    assert report["held_out"] == {"index": HELD_OUT, "name": "WALKING_DOWNSTAIRS",
                                  "source": "manifest producer.excluded_class"}
    assert report["hop"] == manifest["hop"] and report["window"] == 128
    (s,) = report["streams"]
    assert s["path"] == str(novelty["stream"]) and s["samples"] > 0 and s["held_out_segments"] >= 1
    assert report["replay_matches_runtime"] is True
    assert set(report["definitions"]) >= {"detection", "delay", "false_alert", "false_alerts_per_hour"}

    t = report["thresholds"]
    assert t["manifest"] == manifest["threshold"]
    assert set(t["recalibrated"]) == {"0.95", "0.99", "0.999"}
    assert t["recalibrated"]["0.95"] <= t["recalibrated"]["0.99"] <= t["recalibrated"]["0.999"]
    # the manifest threshold is its alert operating point's (calibrated on training-split streams)
    op = manifest["alert"]
    assert report["operating_point"] == op and op["threshold"] == manifest["threshold"]

    auc = report["window_auc"]
    assert auc["positives"] > 0 and auc["negatives"] > 0 and 0.0 <= auc["roc_auc"] <= 1.0

    d = report["default"]
    # the default row is what `ssvae-edge stream` does with the bundle: its calibrated debounce and threshold
    assert (d["k"], d["m"], d["clear_k"], d["threshold"]) == (op["k"], op["m"], op["clear_k"], manifest["threshold"])
    assert report["debounce_defaults"]["source"] == "manifest 'alert'"
    assert len(report["sweep"]) == 12
    assert {(r["k"], r["m"]) for r in report["sweep"]} == {(1, 1), (2, 3), (3, 5), (4, 6)}
    for r in [d, *report["sweep"]]:
        assert 0.0 <= r["recall"] <= 1.0
        assert r["detected"] == len(r["delay_samples"]) <= r["held_out_segments"] == s["held_out_segments"]
        assert all(0 < x <= 10_000 for x in r["delay_samples"])
        assert r["false_alerts"] + r["true_alerts"] == r["alerts_raised"]
        assert r["false_alerts_per_hour"] == pytest.approx(r["false_alerts"] / r["normal_hours"])
    # a lower threshold puts at least as many windows above it, held-out and normal alike
    by_q = {r["quantile"]: r for r in report["sweep"] if (r["k"], r["m"]) == (3, 5)}
    assert by_q[0.95]["window_tpr"] >= by_q[0.99]["window_tpr"] >= by_q[0.999]["window_tpr"]
    assert by_q[0.95]["window_fpr"] >= by_q[0.99]["window_fpr"] >= by_q[0.999]["window_fpr"]
    md = (out / "alerts.md").read_text()
    assert "| default |" in md and "WALKING_DOWNSTAIRS" in md and "Operating point from the manifest" in md
    (fig,) = report["figures"]
    assert Path(fig).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and Path(fig).stat().st_size > 10_000


def test_a_labelled_stream_replayed_at_its_own_operating_point_gives_the_runtimes_alerts(novelty):
    from ssvae_edge import Bundle
    from ssvae_edge.labelled import alerts_at, replay_matches_runtime, score_stream

    b = Bundle.load(novelty["bundle"], providers="cpu", threads=1)
    s = score_stream(b, novelty["stream"], max_samples=3_000)
    assert len(s.labels) == 3_000 and len(s.events) == s.summary["windows"] > 0
    assert s.debounce == b.manifest.alert_debounce
    held = b.manifest.excluded_class_name
    as_raised = alerts_at([s], held, b.sample_rate_hz)
    assert replay_matches_runtime([s], b.threshold)
    assert alerts_at([s], held, b.sample_rate_hz, b.threshold, s.debounce) == as_raised
    # a threshold above every score raises nothing; one below every score raises at the first full debounce
    assert alerts_at([s], held, b.sample_rate_hz, float(s.scores.max()) + 1, s.debounce)["alerts_raised"] == 0
    assert alerts_at([s], held, b.sample_rate_hz, float(s.scores.min()) - 1, (1, 1, 1))["alerts_raised"] == 1
