#!/usr/bin/env python3
"""Edge inference benchmark: onnxruntime fp32 and int8 against PyTorch eager, and the streaming runtime.

    python tools/bench_edge.py --bundle exported/har-lstm --run runs/har-lstm [--data-dir ../shared/data/uci-har]

In one run, on the same inputs (real UCI-HAR test windows, in g and rad/s) and the same model:

* per graph (classifier, anomaly) and per engine — onnxruntime fp32 (`classifier.onnx`, `anomaly.onnx`),
  onnxruntime int8 (the manifest's `graphs_int8`), PyTorch eager (the run's checkpoint, when `--run` is
  given and torch is importable) — with 1 and 2 threads (onnxruntime `intra_op_num_threads`,
  `torch.set_num_threads`): per-window latency p50/p99 at batch 1 (one call per window, a different test
  window each call, after a warm-up; the engines take turns of 20 windows so that a drift in the shared
  machine's speed hits them alike) and throughput (windows/s) at batch 64 and 256;
* a baseline beside the bundle's classifier: a plain two-layer LSTM-64 classifier over the same windows
  (random weights: only its cost matters), exported by the same exporter and run by the same engine with
  the same threads, taking turns with the others (`lstm64-baseline` rows; needs torch to build it). The
  classifier's p50 over the baseline's is the cost of our sensor model against the classic LSTM;
* the stream: a 1,000,000-sample stream (the test windows tiled end to end, generated lazily so the input
  costs no memory) fed to `StreamScorer` in 1000-sample chunks at hop 64, in a fresh process that imports
  no torch: windows/s, and the process's resident memory (VmRSS sampled every few chunks: start, peak,
  end, growth after warm-up, slope). Interleaved with it, chunk by chunk, the same windows go through the
  same onnxruntime sessions in the same calls (same batch sizes) with nothing else — "bare batched
  onnxruntime" — so the stream's overhead (ring buffer, window cuts, checks, events) is their ratio; and
  in full batches of the scorer's batch size (32), which also shows what smaller calls cost.

Writes `benchmarks/edge.json` (every number, the machine, versions, load averages) and
`benchmarks/edge.md` (the table). A benchmark measures; nothing here is asserted. The load averages at
start and end are recorded because the machine may be shared with other jobs (timings are then noisy and
2 threads may not beat 1).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import onnxruntime as ort
import typer

from ssvae_edge import Bundle, __version__
from ssvae_edge.bench import (
    LATENCY_BLOCK,
    SETTLE_S,
    graph_calls,
    interleaved_latency,
    latency_and_throughput,
    loadavg,
)
from ssvae_edge.bundle import session_options
from ssvae_edge.contract import file_sha256
from ssvae_edge.errors import EdgeError
from ssvae_train.files import write_text_atomic

GRAPHS = ("classifier", "anomaly")


# ---- engines ------------------------------------------------------------------------------------------
def eager_engine(run: Path | None, manifest: dict) -> tuple[Any, str | None]:
    """(model, None) or (None, why the eager rows are skipped)."""
    if run is None:
        return None, "no --run given (the training run directory holds the PyTorch checkpoint)"
    try:
        import torch  # noqa: F401
    except ImportError:
        return None, "torch is not installed (the edge runtime does not need it)"
    from ssvae_train.errors import UserError
    from ssvae_train.training.checkpoint import load_checkpoint, model_from_checkpoint

    try:
        ckpt = load_checkpoint(run)
    except UserError as e:
        return None, f"--run {run}: {e}"
    want = (manifest.get("producer") or {}).get("checkpoint_sha256")
    path = run / "checkpoint.pt" if run.is_dir() else run
    if want and file_sha256(path) != want:
        return None, f"{path} is not the checkpoint this bundle was exported from (sha256 differs)"
    return model_from_checkpoint(ckpt), None


def eager_calls(model: Any, method: str | None, run: Path | None = None, data_dir: Path | None = None
                ) -> dict[str, Callable]:
    import torch

    from ssvae_train.scoring.scores import SPACES, AnomalyScorer, fit_on_run, parts_of

    fit = None
    if method not in (None, "vae") and (len(parts_of(method)) > 1 or any(p in SPACES for p in parts_of(method))):
        from ssvae_train.training.evaluate import load_run  # the score's constants are fitted on the run's rows

        _, _, _, prep = load_run(run, str(data_dir) if data_dir else None)
        fit = fit_on_run(model, prep)
    scorer = AnomalyScorer(model, method or "min", fit).eval()

    # inference_mode, not just no_grad: the fastest eager setting a user would pick (no version counters)
    def classify(xb: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(xb)).numpy()

    def score(xb: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return scorer(torch.from_numpy(xb)).numpy()

    calls = {}
    if getattr(model, "has_classifier", True):
        calls["classifier"] = classify
    if getattr(model, "has_decoder", True):
        calls["anomaly"] = score
    return calls


BASELINE = "onnxruntime-lstm64-baseline"


def baseline_graph(folder: Path, window: int, channels: int, classes: int) -> tuple[Path | None, str | None]:
    """A plain two-layer LSTM-64 classifier ONNX graph (last step -> linear -> softmax), or why not."""
    try:
        import torch
    except ImportError:
        return None, "torch is not installed (it builds the baseline graph)"

    class PlainLSTM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(channels, 64, num_layers=2, batch_first=True)
            self.out = torch.nn.Linear(64, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.out(self.lstm(x)[0][:, -1]), dim=-1)

    torch.manual_seed(0)
    path = folder / "lstm64_baseline.onnx"
    with torch.no_grad():
        torch.onnx.export(PlainLSTM().eval(), (torch.zeros(1, window, channels),), str(path), input_names=["x"],
                          output_names=["probs"], dynamic_axes={"x": {0: "N"}, "probs": {0: "N"}},
                          opset_version=18, dynamo=False)
    return path, None


# ---- report -------------------------------------------------------------------------------------------
def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Edge inference benchmark", "",
        f"`tools/bench_edge.py` on `{report['bundle']}` ({report['inputs']}). Machine: {m['processor']}, "
        f"{m['cpus']} CPUs, {m['platform']}; onnxruntime {report['versions']['onnxruntime']}"
        + (f", torch {report['versions']['torch']}" if report["versions"].get("torch") else "") + ".",
        f"Load average (1, 5, 15 min) at start {m['loadavg_start']}, at end {m['loadavg_end']}"
        + (" — the machine was shared with other jobs, so timings are noisy." if m.get("shared") else "."),
        "",
        "Latency: one window per call (a different real window each time; the engines of one thread count take "
        f"turns of {LATENCY_BLOCK} windows, so drift in the machine's speed hits them alike), p50/p99 over "
        f"{report['settings']['latency_runs']} calls after {report['settings']['warmup']} warm-up calls "
        f"(fewer where a row hit the {report['settings']['budget_s']:g} s budget: see `calls`). "
        f"Throughput: windows/s at batch 64 and 256 over {report['settings']['throughput_reps']} timed call(s) "
        "after one warm-up call.", "",
        "| engine | precision | threads | graph | p50 ms | p99 ms | calls | windows/s @64 | windows/s @256 |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        tp = r["throughput"]
        cells = [r["engine"], r["precision"], str(r["threads"]), r["graph"], f"{r['p50_ms']:.3f}",
                 f"{r['p99_ms']:.3f}", str(r["latency_runs"]),
                 *(f"{tp[str(b)]['windows_per_s']:.0f}" if str(b) in tp else "–" for b in (64, 256))]
        lines.append("| " + " | ".join(cells) + " |")
    load = m.get("loadavg_start") or [0.0]
    over = [t for t in report["settings"]["threads"] if load[0] + t > (m["cpus"] or 1) + 0.5]
    if over and m.get("shared"):
        lines += ["", f"Caution: with a 1-minute load of {load[0]} on {m['cpus']} CPUs, the rows with "
                  f"{', '.join(map(str, over))} thread(s) had fewer free cores than threads; multi-threaded kernels "
                  "then wait at every barrier for a descheduled peer (PyTorch's OpenMP LSTM suffers most), so those "
                  "rows say more about the shared machine than about the engines."]
    if not report["eager"]["included"]:
        lines += ["", f"PyTorch eager rows skipped: {report['eager']['reason']}."]
    base = report.get("baseline") or {}
    if base.get("rows"):
        lines += ["", "The bundle's classifier against a plain two-layer LSTM-64 classifier over the same windows "
                  "(onnxruntime fp32, batch 1, same threads, taking turns):", "",
                  "| threads | classifier p50 ms | LSTM-64 p50 ms | classifier / LSTM-64 | eager / classifier |",
                  "|---|---:|---:|---:|---:|"]
        for r in base["rows"]:
            eager = f"{r['eager_over_classifier']:.2f}×" if r.get("eager_over_classifier") else "–"
            lines.append(f"| {r['threads']} | {r['classifier_p50_ms']:.3f} | {r['baseline_p50_ms']:.3f} | "
                         f"**{r['classifier_over_baseline']:.2f}** | {eager} |")
    elif base.get("reason"):
        lines += ["", f"LSTM-64 baseline rows skipped: {base['reason']}."]
    if report["speedup"]:
        lines += ["", "Speed-up of onnxruntime p50 latency (batch 1) over PyTorch eager p50:", "",
                  "| graph | threads | fp32 | int8 |", "|---|---|---:|---:|"]
        for s in report["speedup"]:
            cells = [s["graph"], str(s["threads"]),
                     *(f"{s[p]:.2f}×" if s.get(p) else "–" for p in ("fp32", "int8"))]
            lines.append("| " + " | ".join(cells) + " |")
    st = report["stream"]
    if st.get("error"):
        lines += ["", f"Stream: not measured ({st['error']})."]
    else:
        mem = st["memory"]
        lines += [
            "", f"## Stream ({st['samples']:,} samples, chunks of {st['chunk']}, hop {st['hop']}, "
            f"{st['threads']} onnxruntime thread(s))", "",
            f"- StreamScorer: {st['windows']:,} windows in {st['stream_seconds']:.1f} s = "
            f"**{st['stream_windows_per_s']:.0f} windows/s** ({st['realtime_factor']}× real time at the manifest "
            "rate); "
            f"{st['mean_windows_per_call']} windows per onnxruntime call on average (batch ≤ {st['batch']}).",
            f"- Bare batched onnxruntime, same windows and calls: {st['bare_windows_per_s']:.0f} windows/s; "
            f"stream / bare = **{st['stream_over_bare']:.3f}** "
            f"({'within' if st['within_10_percent_of_bare'] else 'NOT within'} 10%).",
            f"- Bare batched onnxruntime, same windows in full batches of {st['batch']}: "
            f"{st['bare_full_batch_windows_per_s']:.0f} windows/s; stream / bare = "
            f"**{st['stream_over_bare_full_batch']:.3f}** "
            f"({'within' if st['within_10_percent_of_bare_full_batch'] else 'NOT within'} 10%).",
            f"- Resident memory: {mem['rss_start_mib']:.1f} MiB at start, {mem['rss_after_warmup_mib']:.1f} after "
            f"warm-up ({mem['warmup_samples']:,} samples), peak sampled {mem['rss_peak_sampled_mib']:.1f}, end "
            f"{mem['rss_end_mib']:.1f} (process high-water mark {mem['peak_hwm_mib']:.1f}); max growth after "
            f"warm-up **{mem['max_growth_after_warmup_mib']:.2f} MiB**, slope "
            f"{mem['slope_mib_per_100k_samples']} MiB per 100k samples "
            f"({mem['points']} samples of VmRSS, every {mem['every_samples']:,} samples).",
        ]
    lines += ["", f"Raw numbers: `{report['json']}`. Regenerate: `{report['command']}`.", ""]
    return "\n".join(lines)


def _say(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ---- main ---------------------------------------------------------------------------------------------
def main(
    bundle: Annotated[Path, typer.Option("--bundle", help="Bundle folder (manifest.json + graphs).")] = Path(
        "exported/har-lstm"),
    run: Annotated[Path | None, typer.Option(
        "--run", help="Training run directory (checkpoint.pt) for the PyTorch eager rows; without it they "
                      "are skipped.")] = None,
    data_dir: Annotated[Path, typer.Option(
        "--data-dir", help="UCI-HAR zip or folder: its test windows are the inputs.")] = Path(
        "../shared/data/uci-har"),
    out: Annotated[Path, typer.Option("--out", help="Folder for edge.json and edge.md.")] = Path("benchmarks"),
    name: Annotated[str, typer.Option("--name", help="File stem of the outputs.")] = "edge",
    threads: Annotated[str, typer.Option("--threads", help="Comma list of thread counts.")] = "1,2",
    latency_runs: Annotated[int | None, typer.Option(
        "--latency-runs", min=10, help="Timed batch-1 calls per row (default 300; 40 with --quick).")] = None,
    throughput_reps: Annotated[int | None, typer.Option(
        "--throughput-reps", min=1, help="Timed calls per batch size (default 5; 1 with --quick).")] = None,
    stream_samples: Annotated[int | None, typer.Option(
        "--stream-samples", min=1000, help="Length of the stream (default 1,000,000; 100,000 with --quick).")
    ] = None,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Samples per feed() call.")] = 1000,
    hop: Annotated[int | None, typer.Option("--hop", min=1, help="Stream hop (default: the manifest's).")] = None,
    stream_batch: Annotated[int, typer.Option(
        "--stream-batch", min=1, help="StreamScorer's most windows per onnxruntime call.")] = 32,
    stream_threads: Annotated[int, typer.Option(
        "--stream-threads", min=1, help="onnxruntime threads for the stream.")] = 1,
    budget: Annotated[float | None, typer.Option(
        "--budget", min=0.1, help="Seconds at most for each row's latency loop and each batch size's throughput "
                                  "loop (default 30; 3 with --quick); rows cut short say so.")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Few iterations and a 100k-sample stream (tests).")] = False,
) -> None:
    """Benchmark onnxruntime fp32/int8 against PyTorch eager and the streaming runtime; write edge.json/.md."""
    try:
        thread_list = [int(t) for t in threads.split(",") if t.strip()]
        if not thread_list or min(thread_list) < 1:
            raise ValueError
    except ValueError:
        _say(f"bench_edge: error: --threads {threads!r}: give a comma list of positive integers")
        raise typer.Exit(2) from None
    latency_runs = latency_runs or (40 if quick else 300)
    warmup = 5 if quick else 20
    throughput_reps = throughput_reps or (1 if quick else 5)
    budget = budget or (3.0 if quick else 30.0)
    stream_samples = stream_samples or (100_000 if quick else 1_000_000)
    batch_sizes = (64, 256)

    from ssvae_train.data.uci_har import load_uci_har
    from ssvae_train.errors import UserError

    try:
        b = Bundle.load(bundle, providers="cpu")  # checks the bundle (sha256, contract) before anything runs
        ds = load_uci_har(data_dir)
    except (EdgeError, UserError, OSError) as e:
        _say(f"bench_edge: error: {e}")
        raise typer.Exit(2) from None
    manifest = b.manifest.to_json()
    x = np.ascontiguousarray(ds.x_test, dtype=np.float32)
    if tuple(x.shape[1:]) != tuple(b.sample_shape):
        _say(f"bench_edge: error: data windows {list(x.shape[1:])} do not fit the bundle {list(b.sample_shape)}")
        raise typer.Exit(2)
    del b

    load_start = loadavg()
    t_start = time.time()
    model, eager_reason = eager_engine(run, manifest)
    torch_version = None
    if model is not None:
        import torch

        torch_version = str(torch.__version__)
    _say(f"bench_edge: {len(x)} test windows from {ds.source}; load average {load_start}"
         + ("" if model is not None else f"; eager skipped: {eager_reason}"))

    results: list[dict[str, Any]] = []
    check: dict[str, Any] = {}
    base_dir = tempfile.TemporaryDirectory(prefix="bench_edge_baseline_")
    base_path, base_reason = baseline_graph(Path(base_dir.name), x.shape[1], x.shape[2], len(manifest["classes"]))
    for t in thread_list:
        engines: dict[tuple[str, str, str], Callable] = {
            ("onnxruntime", p, g): c for (p, g), c in graph_calls(bundle, t, GRAPHS).items()}
        if base_path is not None:
            sess = ort.InferenceSession(str(base_path), session_options(t), providers=["CPUExecutionProvider"])
            engines[(BASELINE, "fp32", "classifier")] = lambda xb, s=sess: s.run(["probs"], {"x": xb})[0]
        if model is not None:
            import torch

            torch.set_num_threads(t)
            engines.update({("pytorch-eager", "fp32", g): c
                            for g, c in eager_calls(model, manifest.get("score_method"), run, data_dir).items()})
        for (engine, _, graph), call in engines.items():
            if t == thread_list[0] and engine == "pytorch-eager":  # same model? compare with onnxruntime fp32
                ref = engines.get(("onnxruntime", "fp32", graph))
                if ref is not None:
                    a, e = ref(x[:64]), call(x[:64])
                    check[graph] = round(float(np.max(np.abs(a - e)) / max(1e-12, float(np.max(np.abs(e))))), 9)
        latency = interleaved_latency(engines, x, latency_runs, warmup, budget)
        for (engine, precision, graph), call in engines.items():
            r = latency_and_throughput(call, x, latency[(engine, precision, graph)], latency_runs, batch_sizes,
                                       throughput_reps, budget)
            results.append({"engine": engine, "precision": precision, "threads": t, "graph": graph, **r})
            tp = ", ".join(f"@{k} {v['windows_per_s']:.0f}/s" for k, v in r["throughput"].items())
            _say(f"  {engine:<13} {precision} {t} thread(s) {graph:<10} p50 {r['p50_ms']:.3f} ms "
                 f"p99 {r['p99_ms']:.3f} ms  {tp}")

    base_dir.cleanup()
    baseline = []
    for t in thread_list:
        ours = next((r for r in results if r["engine"] == "onnxruntime" and r["precision"] == "fp32"
                     and r["graph"] == "classifier" and r["threads"] == t), None)
        base = next((r for r in results if r["engine"] == BASELINE and r["threads"] == t), None)
        eager = next((r for r in results if r["engine"] == "pytorch-eager" and r["graph"] == "classifier"
                      and r["threads"] == t), None)
        if ours and base:
            baseline.append({"threads": t, "classifier_p50_ms": ours["p50_ms"], "baseline_p50_ms": base["p50_ms"],
                             "classifier_over_baseline": round(ours["p50_ms"] / base["p50_ms"], 3),
                             "eager_over_classifier": round(eager["p50_ms"] / ours["p50_ms"], 3) if eager else None})

    speedup = []
    for t in thread_list:
        for g in GRAPHS:
            eager = next((r for r in results if r["engine"] == "pytorch-eager" and r["graph"] == g
                          and r["threads"] == t), None)
            if eager is None:
                continue
            row: dict[str, Any] = {"graph": g, "threads": t, "eager_p50_ms": eager["p50_ms"]}
            for p in ("fp32", "int8"):
                o = next((r for r in results if r["engine"] == "onnxruntime" and r["precision"] == p
                          and r["graph"] == g and r["threads"] == t), None)
                if o is not None:
                    row[f"onnxruntime_{p}_p50_ms"] = o["p50_ms"]
                    row[p] = round(eager["p50_ms"] / o["p50_ms"], 3) if o["p50_ms"] > 0 else None
            speedup.append(row)

    # The stream, in a fresh process that holds only the runtime (its memory is the runtime's).
    _say(f"  stream: {stream_samples:,} samples, chunks of {chunk}, {stream_threads} thread(s) ...")
    with tempfile.TemporaryDirectory(prefix="bench_edge_") as tmp:
        np.save(Path(tmp) / "windows.npy", x)
        spec = {"bundle_path": str(bundle), "windows_npy": str(Path(tmp) / "windows.npy"),
                "samples": stream_samples, "chunk": chunk, "hop": hop, "batch": stream_batch,
                "threads": stream_threads, "rss_every": max(1, -(-stream_samples // chunk) // 50)}
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        proc = subprocess.run([sys.executable, "-m", "ssvae_edge.stream_bench", str(Path(tmp) / "spec.json")],
                              capture_output=True, text=True)
    if proc.returncode == 0:
        stream = json.loads(proc.stdout.strip().splitlines()[-1])
        _say(f"  stream: {stream['stream_windows_per_s']:.0f} windows/s, bare {stream['bare_windows_per_s']:.0f}"
             f" (ratio {stream['stream_over_bare']}), RSS growth after warm-up "
             f"{stream['memory']['max_growth_after_warmup_mib']} MiB")
    else:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        stream = {"error": f"stream worker failed: {tail}"}
        _say(f"  {stream['error']}")

    load_end = loadavg()
    shared = bool(load_start and load_start[0] > 0.5)
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    cmd = " ".join(["python tools/bench_edge.py", f"--bundle {bundle}"] + ([f"--run {run}"] if run else [])
                   + [f"--data-dir {data_dir}"] + (["--quick"] if quick else []))
    report: dict[str, Any] = {
        "tool": "tools/bench_edge.py", "command": cmd, "json": str(json_path),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
        "seconds": round(time.time() - t_start, 1), "quick": quick,
        "bundle": str(bundle), "run": str(run) if run else None,
        "graphs": {p: {g: (manifest.get(k) or {}).get(g, {}).get("file") for g in GRAPHS}
                   for p, k in (("fp32", "graphs"), ("int8", "graphs_int8"))},
        "inputs": f"{len(x)} real UCI-HAR test windows [{', '.join(map(str, x.shape[1:]))}] from {ds.source}",
        "machine": {
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "loadavg_start": load_start, "loadavg_end": load_end, "shared": shared,
            "note": "load averages are (1, 5, 15)-minute; a 1-minute load near or above the CPU count means other "
                    "jobs competed for the cores during the measurement" if shared else "",
        },
        "versions": {"onnxruntime": ort.__version__, "numpy": np.__version__, "torch": torch_version,
                     "ssvae": __version__, "python": platform.python_version()},
        "settings": {"threads": thread_list, "latency_runs": latency_runs, "warmup": warmup, "budget_s": budget,
                     "batch_sizes": list(batch_sizes), "throughput_reps": throughput_reps,
                     "latency_order": f"interleaved: per thread count, the engines take turns of {LATENCY_BLOCK} "
                                      f"windows (rotating order, {SETTLE_S} s untimed pause before each turn)",
                     "onnxruntime_session": "Bundle.load(providers='cpu', threads=threads): CPUExecutionProvider, "
                                            "intra_op_num_threads = threads, default graph optimisations",
                     "pytorch": "torch.set_num_threads(threads), torch.inference_mode(), model(x) and "
                                f"scores.AnomalyScorer(model, {manifest.get('score_method')!r}, fit on the run)(x)"},
        "eager": {"included": model is not None, "reason": eager_reason,
                  "max_relative_diff_vs_onnxruntime_fp32": check or None},
        "results": results,
        "baseline": {"rows": baseline, "reason": base_reason,
                     "graph": "plain 2-layer LSTM-64 -> linear -> softmax, random weights, same exporter (opset 18)"},
        "speedup": speedup,
        "speedup_note": "eager p50 / onnxruntime p50 at batch 1 with the same threads (> 1: onnxruntime is faster)",
        "stream": stream,
    }
    write_text_atomic(json_path, json.dumps(report, indent=2) + "\n")
    write_text_atomic(md_path, markdown(report))
    _say(f"bench_edge: wrote {json_path} and {md_path} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    typer.run(main)
