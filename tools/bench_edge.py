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
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import onnxruntime as ort
import typer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere: import the repo's packages
    sys.path.insert(0, str(ROOT))

from ssvae_edge import Bundle, StreamScorer, __version__  # noqa: E402
from ssvae_edge.contract import file_sha256, sha256_hex  # noqa: E402
from ssvae_edge.errors import EdgeError  # noqa: E402
from ssvae_train.files import write_text_atomic  # noqa: E402

GRAPHS = ("classifier", "anomaly")
OUTPUTS = {"classifier": "probs", "anomaly": "score"}


# ---- helpers ------------------------------------------------------------------------------------------
def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def rss_kib() -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of this process in KiB from /proc; (None, ru_maxrss) where /proc is missing."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
                      if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None, int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def percentile_ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(seconds) * 1e3, q)), 4)


sha256 = file_sha256  # the project's one file hash (ssvae_edge/contract.py)


def ort_session(path: Path, threads: int, expected_sha256: str | None) -> ort.InferenceSession:
    """A CPU session with `threads` intra-op threads on a bundle graph, after checking its sha256."""
    data = path.read_bytes()
    if expected_sha256 and sha256_hex(data) != expected_sha256:
        raise EdgeError(f"{path}: does not match its sha256 in the manifest")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def batches_of(x: np.ndarray, n: int, count: int) -> list[np.ndarray]:
    """`count` contiguous batches of `n` real windows, consecutive in the test set (wrapping around)."""
    out = []
    for i in range(count):
        idx = (i * n + np.arange(n)) % len(x)
        out.append(np.ascontiguousarray(x[idx]))
    return out


MIN_LATENCY_RUNS = 5


LATENCY_BLOCK = 20  # windows an engine runs in a row before the next engine's turn
SETTLE_S = 0.05  # untimed pause before each turn: the previous engine's idle threads stop spinning


def interleaved_latency(calls: dict[Any, Callable[[np.ndarray], Any]], x: np.ndarray, latency_runs: int,
                        warmup: int, budget_s: float) -> dict[Any, list[float]]:
    """Seconds per batch-1 call of every engine, measured in turns of LATENCY_BLOCK windows (the engines'
    order rotating every round), so a change in the machine's speed while the row runs (a shared VM
    drifts by 1.5x within minutes) hits every engine alike and their ratios hold. Turns are blocks, with
    a pause before each, because a thread pool keeps spinning for a while after its last call and would
    steal the cores of the next engine's pool.

    `budget_s` bounds each engine's share: past budget_s x engines, the rounds stop once every engine
    has MIN_LATENCY_RUNS calls — an oversubscribed configuration can take seconds per call.
    """
    keys = list(calls)
    singles = batches_of(x, 1, latency_runs + warmup)
    for k in keys:
        for b in singles[:warmup]:
            calls[k](b)
    timed = singles[warmup:]
    seconds: dict[Any, list[float]] = {k: [] for k in keys}
    t_row = time.perf_counter()
    for r, lo in enumerate(range(0, len(timed), LATENCY_BLOCK)):
        for k in keys[r % len(keys):] + keys[: r % len(keys)]:
            time.sleep(SETTLE_S)
            for b in timed[lo : lo + LATENCY_BLOCK]:
                t0 = time.perf_counter()
                calls[k](b)
                seconds[k].append(time.perf_counter() - t0)
        spent = time.perf_counter() - t_row - SETTLE_S * len(keys) * (r + 1)
        if lo + LATENCY_BLOCK >= MIN_LATENCY_RUNS and spent > budget_s * len(keys):
            break
    return seconds


def measure(call: Callable[[np.ndarray], Any], x: np.ndarray, seconds: list[float], latency_runs: int,
            batch_sizes: tuple[int, ...], throughput_reps: int, budget_s: float) -> dict[str, Any]:
    """Latency statistics of the batch-1 `seconds` (from `interleaved_latency`) and throughput per batch.

    `budget_s` bounds each batch size: past it, the throughput loop stops after one timed call.
    """
    out: dict[str, Any] = {
        "p50_ms": percentile_ms(seconds, 50), "p99_ms": percentile_ms(seconds, 99),
        "mean_ms": round(float(np.mean(seconds)) * 1e3, 4), "latency_runs": len(seconds),
        "latency_cut_by_budget": len(seconds) < latency_runs, "throughput": {},
    }
    for n in batch_sizes:
        batches = batches_of(x, n, throughput_reps + 1)
        t0 = time.perf_counter()
        call(batches[0])  # warm-up at this size (allocations, onnxruntime's shape-specific caches)
        warm = time.perf_counter() - t0
        done, t0 = 0, time.perf_counter()
        for b in batches[1:]:
            call(b)
            done += 1
            if warm + time.perf_counter() - t0 > budget_s:
                break
        dt = time.perf_counter() - t0
        out["throughput"][str(n)] = {"windows_per_s": round(n * done / dt, 1), "reps": done,
                                     "seconds": round(dt, 4)}
    return out


# ---- engines ------------------------------------------------------------------------------------------
def ort_engines(bundle: Path, manifest: dict, threads: int) -> dict[tuple[str, str], Callable]:
    """{(precision, graph): call} for the fp32 graphs and the int8 ones the manifest lists."""
    calls: dict[tuple[str, str], Callable] = {}
    for precision, key in (("fp32", "graphs"), ("int8", "graphs_int8")):
        for graph in GRAPHS:
            entry = (manifest.get(key) or {}).get(graph)
            if not entry:
                continue
            sess = ort_session(bundle / entry["file"], threads, entry.get("sha256"))
            out = OUTPUTS[graph]
            calls[(precision, graph)] = (lambda s, o: lambda xb: s.run([o], {"x": xb})[0])(sess, out)
    return calls


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
    want = manifest.get("producer", {}).get("checkpoint_sha256")
    path = run / "checkpoint.pt" if run.is_dir() else run
    if want and sha256(path) != want:
        return None, f"{path} is not the checkpoint this bundle was exported from (sha256 differs)"
    return model_from_checkpoint(ckpt), None


def eager_calls(model: Any, method: str | None, run: Path | None = None, data_dir: Path | None = None
                ) -> dict[str, Callable]:
    import torch

    from ssvae_train.scoring.scores import SPACES, AnomalyScorer, fit_on_run, parts_of

    fit = None
    if method not in (None, "vae") and (len(parts_of(method)) > 1 or any(p in SPACES for p in parts_of(method))):
        from ssvae_train.scoring.evaluate import load_run  # the score's constants are fitted on the run's rows

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


# ---- the stream (runs in a fresh process) ---------------------------------------------------------------
def tiled_chunks(flat: np.ndarray, total: int, chunk: int) -> Iterator[np.ndarray]:
    """`total` samples of `flat` [L, C] repeated end to end, in chunks (views where no wrap; no big copy)."""
    pos = 0
    n_flat = len(flat)
    while pos < total:
        n = min(chunk, total - pos)
        a = pos % n_flat
        yield flat[a:a + n] if a + n <= n_flat else flat[(a + np.arange(n)) % n_flat]
        pos += n


def stream_bench(bundle_path: str, windows_npy: str, samples: int, chunk: int, hop: int | None, batch: int,
                 threads: int, rss_every: int) -> dict[str, Any]:
    """Feed a tiled stream to StreamScorer; interleave bare onnxruntime on the same windows and calls."""
    rss0, _ = rss_kib()
    windows = np.load(windows_npy)
    flat = np.ascontiguousarray(windows.reshape(-1, windows.shape[-1]), dtype=np.float32)
    bundle = Bundle.load(bundle_path, providers="cpu", threads=threads)
    scorer = StreamScorer(bundle, hop=hop, batch=batch)
    w, h = scorer.window, scorer.hop
    sess = {g: bundle.sessions[g] for g in GRAPHS if bundle.has(g)}

    def bare(starts: list[int]) -> float:
        """Seconds for the same windows through the same sessions, in the same calls as the scorer."""
        spent = 0.0
        for i in range(0, len(starts), batch):
            s = np.asarray(starts[i:i + batch], dtype=np.int64)
            xb = flat[(s[:, None] + np.arange(w)[None, :]) % len(flat)]
            t0 = time.perf_counter()
            for g, ss in sess.items():
                ss.run([OUTPUTS[g]], {"x": xb})
            spent += time.perf_counter() - t0
        return spent

    # warm-up of the sessions on one batch, outside the measured stream
    bare(list(range(0, batch * h, h)))
    n_chunks = -(-samples // chunk)
    warm_chunks = max(1, n_chunks // 20)
    rss_points: list[tuple[int, int]] = []  # (samples fed, VmRSS KiB)
    rss_warm = rss_start = rss_kib()[0]
    stream_s = bare_s = full_s = 0.0
    windows_scored = calls = alerts = 0
    pending: list[int] = []  # windows waiting for a full batch (the "full batch" comparison)
    for i, x in enumerate(tiled_chunks(flat, samples, chunk)):
        t0 = time.perf_counter()
        events = scorer.feed(x)
        stream_s += time.perf_counter() - t0
        starts = [e["start"] for e in events]
        windows_scored += len(starts)
        calls += -(-len(starts) // batch)
        alerts += sum(e["alert"] for e in events)
        bare_s += bare(starts)
        pending += starts
        if len(pending) >= batch:
            cut = len(pending) - len(pending) % batch
            full_s += bare(pending[:cut])
            pending = pending[cut:]
        if i + 1 == warm_chunks:
            rss_warm = rss_kib()[0]
        if (i + 1) % rss_every == 0 or i + 1 == n_chunks:
            rss_points.append((scorer.samples, rss_kib()[0] or 0))
    full_s += bare(pending)
    summary = scorer.flush()
    rss_end, hwm = rss_kib()
    after = [r for s, r in rss_points if s > warm_chunks * chunk]
    rss_mib = [r / 1024 for _, r in rss_points]
    slope = None
    if len(after) >= 3:
        xs = np.array([s for s, _ in rss_points if s > warm_chunks * chunk], dtype=np.float64)
        slope = round(float(np.polyfit(xs, np.array(after, dtype=np.float64), 1)[0]) * 1e5 / 1024, 4)
    stream_wps = windows_scored / stream_s if stream_s else None
    bare_wps = windows_scored / bare_s if bare_s else None
    ratio = stream_wps / bare_wps if stream_wps and bare_wps else None
    full_wps = windows_scored / full_s if full_s else None
    full_ratio = stream_wps / full_wps if stream_wps and full_wps else None
    rate = bundle.sample_rate_hz or 0
    return {
        "samples": samples, "chunk": chunk, "hop": h, "window": w, "batch": batch, "threads": threads,
        "graphs": list(sess), "windows": windows_scored, "onnxruntime_calls_per_graph": calls,
        "mean_windows_per_call": round(windows_scored / calls, 2) if calls else None,
        "skipped": summary["skipped"], "alerts_raised": summary["alerts"], "alert_windows": alerts,
        "stream_seconds": round(stream_s, 3), "stream_windows_per_s": round(stream_wps or 0, 1),
        "stream_samples_per_s": round(samples / stream_s, 1) if stream_s else None,
        "realtime_factor": round(samples / stream_s / rate, 1) if stream_s and rate else None,
        "bare_seconds": round(bare_s, 3), "bare_windows_per_s": round(bare_wps or 0, 1),
        "stream_over_bare": round(ratio, 4) if ratio else None,
        "within_10_percent_of_bare": bool(ratio is not None and ratio >= 0.9),
        "bare_full_batch_seconds": round(full_s, 3), "bare_full_batch_windows_per_s": round(full_wps or 0, 1),
        "stream_over_bare_full_batch": round(full_ratio, 4) if full_ratio else None,
        "within_10_percent_of_bare_full_batch": bool(full_ratio is not None and full_ratio >= 0.9),
        "memory": {
            "source": "/proc/self/status VmRSS, VmHWM" if rss_end is not None else "resource.ru_maxrss",
            "rss_before_load_mib": round((rss0 or 0) / 1024, 2),
            "rss_start_mib": round((rss_start or 0) / 1024, 2),  # bundle loaded, one warm-up batch run
            "rss_after_warmup_mib": round((rss_warm or 0) / 1024, 2),
            "rss_peak_sampled_mib": round(max(rss_mib), 2) if rss_mib else None,
            "rss_end_mib": round((rss_end or 0) / 1024, 2),
            "peak_hwm_mib": round((hwm or 0) / 1024, 2),
            "warmup_samples": warm_chunks * chunk,
            "max_growth_after_warmup_mib": round((max(after) - (rss_warm or 0)) / 1024, 3) if after else None,
            "slope_mib_per_100k_samples": slope,
            "points": len(rss_points), "every_samples": rss_every * chunk,
            "ring_buffer_samples": scorer.buffer_capacity,
            "note": "resident memory of a process that holds only the runtime (no torch); the input stream is "
                    "generated chunk by chunk from the test windows (~"
                    f"{windows.nbytes / 2**20:.1f} MiB), so the 1M samples never exist at once",
        },
        "bare_note": "bare = the same windows through the same onnxruntime sessions (classifier + anomaly) in the "
                     "same calls (same batch sizes) as the scorer, timing session.run only; bare_full_batch = the "
                     "same windows in full batches of `batch` (the scorer never waits to fill a batch, so with "
                     "chunks shorter than batch x hop its calls are smaller); both interleaved chunk by chunk with "
                     "the stream so load changes hit all three",
    }


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
    stream_worker: Annotated[Path | None, typer.Option(
        "--stream-worker", hidden=True, help="Internal: run the stream part from this JSON spec.")] = None,
) -> None:
    """Benchmark onnxruntime fp32/int8 against PyTorch eager and the streaming runtime; write edge.json/.md."""
    if stream_worker is not None:
        spec = json.loads(stream_worker.read_text())
        print(json.dumps(stream_bench(**spec)))
        return
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
            ("onnxruntime", p, g): c for (p, g), c in ort_engines(bundle, manifest, t).items()}
        if base_path is not None:
            sess = ort_session(base_path, t, None)
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
            r = measure(call, x, latency[(engine, precision, graph)], latency_runs, batch_sizes, throughput_reps,
                        budget)
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
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--stream-worker",
                               str(Path(tmp) / "spec.json")], capture_output=True, text=True)
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
                     "onnxruntime_session": "CPUExecutionProvider, intra_op_num_threads = threads, "
                                            "inter_op_num_threads = 1, default graph optimisations",
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
