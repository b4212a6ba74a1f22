"""The streaming runtime benchmarked in a process that holds only the runtime: a long stream (real windows
tiled end to end, generated chunk by chunk) fed to `StreamScorer`, its windows per second against the same
windows through the same sessions with nothing else ("bare" onnxruntime), and the process's resident memory
as the stream runs.

    python -m ssvae_edge.stream_bench SPEC.json     # prints the result as one JSON line

`SPEC.json` holds `stream_bench`'s arguments (`tools/bench_edge.py` writes it and reads the line).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ssvae_edge.bench import OUTPUTS
from ssvae_edge.bundle import Bundle
from ssvae_edge.stream import StreamScorer

GRAPHS = ("classifier", "anomaly")


def rss_kib() -> tuple[int | None, int | None]:
    """(VmRSS, VmHWM) of this process in KiB from /proc; (None, ru_maxrss) where /proc is missing."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
                      if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None, int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


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


if __name__ == "__main__":
    print(json.dumps(stream_bench(**json.loads(Path(sys.argv[1]).read_text()))))
