"""Latency and throughput of a bundle's graphs on this device: `bench` (what `ssvae-edge bench` prints)
and the timing parts a fuller benchmark (`tools/bench_edge.py`) builds on: each graph as a call
(`graph_calls`, sessions from `Bundle.load`), batch-1 latency with engines taking turns
(`interleaved_latency`), and throughput per batch size (`latency_and_throughput`).

`bench`'s inputs are "random but realistic": samples decoded from the bundle's own decoder (classes in turn,
z ~ N(0, 1)), so the classifier and anomaly graphs see data in raw units like real samples; a bundle
without a decoder gets standard-normal noise. The graphs are timed with `InferenceSession.run` alone
(what a device pays per call), after a few warm-up runs.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ssvae_edge.bundle import Bundle
from ssvae_edge.errors import InputError

OUTPUTS = {"classifier": "probs", "anomaly": "score", "decoder": "x_hat"}
Call = Callable[[np.ndarray], Any]


def realistic_batch(bundle: Bundle, n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """`n` samples [n, *sample_shape] for timing, and a word on where they came from."""
    rng = np.random.default_rng(seed)
    if bundle.has("decoder"):
        z = rng.standard_normal((n, bundle.latent_dim)).astype(np.float32)
        y = (np.arange(n) % len(bundle.classes)).astype(np.int64)
        (x,) = bundle.sessions["decoder"].run(["x_hat"], {"z": z, "y": y})
        return x.astype(np.float32), "decoder samples (classes in turn, z ~ N(0,1))"
    return rng.standard_normal((n, *bundle.sample_shape)).astype(np.float32), "standard-normal noise"


def _feeds(bundle: Bundle, graph: str, n: int, seed: int) -> tuple[dict[str, np.ndarray], str]:
    if graph == "decoder":
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, bundle.latent_dim)).astype(np.float32)
        y = (np.arange(n) % len(bundle.classes)).astype(np.int64)
        return {"z": z, "y": y}, "z ~ N(0,1), classes in turn"
    x, how = realistic_batch(bundle, n, seed)
    return {"x": x}, how


def bench(bundle: Bundle, batch_sizes: Sequence[int] = (1, 32), runs: int = 30, warmup: int = 3,
          seed: int = 0) -> dict[str, Any]:
    """Time every graph at every batch size; return a JSON-ready report."""
    if runs < 1 or warmup < 0 or not batch_sizes or any(b < 1 for b in batch_sizes):
        raise InputError("runs and batch sizes must be positive, warmup non-negative")
    results = []
    inputs: dict[str, str] = {}
    for graph in bundle.graphs:
        session = bundle.sessions[graph]
        for b in batch_sizes:
            feeds, how = _feeds(bundle, graph, int(b), seed)
            inputs[graph] = how
            for _ in range(warmup):
                session.run([OUTPUTS[graph]], feeds)
            arr = np.asarray([_timed(session.run, [OUTPUTS[graph]], feeds) * 1e3 for _ in range(runs)])
            median = float(np.median(arr))
            results.append({
                "graph": graph, "batch": int(b), "runs": runs,
                "median_ms": round(median, 4), "p90_ms": round(float(np.percentile(arr, 90)), 4),
                "min_ms": round(float(arr.min()), 4),
                "samples_per_s": round(b / (median / 1e3), 1) if median > 0 else None,
            })
    return {
        "bundle": str(bundle.path),
        "providers": bundle.providers,
        "provider_note": bundle.provider_note,
        "threads": bundle.threads or "onnxruntime default",
        "onnxruntime": ort.__version__,
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count()},
        "inputs": inputs,
        "results": results,
    }


# ---- the parts of a fuller benchmark -------------------------------------------------------------------
def _timed(fn: Callable, *args: Any) -> float:
    """Seconds one call of `fn(*args)` takes."""
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def graph_calls(path: str | Path, threads: int, graphs: Sequence[str] = ("classifier", "anomaly")) -> dict[
        tuple[str, str], Call]:
    """{(precision, graph): x -> output} for the bundle's fp32 graphs and the int8 ones it lists, each on a CPU
    session with `threads` intra-op threads, loaded (and sha256-checked) by `Bundle.load`."""
    fp32 = Bundle.load(path, providers="cpu", threads=threads)
    loaded = [fp32]
    if fp32.manifest.graphs_int8:
        loaded.append(Bundle.load(path, providers="cpu", threads=threads, precision="int8"))
    calls: dict[tuple[str, str], Call] = {}
    for b in loaded:
        for g in graphs:
            if b.has(g) and b.precisions[g] == b.precision:
                calls[(b.precision, g)] = (lambda s, o: lambda xb: s.run([o], {"x": xb})[0])(b.sessions[g], OUTPUTS[g])
    return calls


def percentile_ms(seconds: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(seconds) * 1e3, q)), 4)


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


def latency_and_throughput(call: Callable[[np.ndarray], Any], x: np.ndarray, seconds: list[float], latency_runs: int,
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


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


