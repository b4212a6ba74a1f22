"""Quick latency/throughput numbers for a bundle's graphs on this device.

Inputs are "random but realistic": samples decoded from the bundle's own decoder (classes in turn,
z ~ N(0, 1)), so the classifier and anomaly graphs see data in raw units like real samples; a bundle
without a decoder gets standard-normal noise. The graphs are timed with `InferenceSession.run` alone
(what a device pays per call), after a few warm-up runs.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from ssvae_edge.bundle import Bundle
from ssvae_edge.errors import InputError


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
    outputs = {"classifier": "probs", "anomaly": "score", "decoder": "x_hat"}
    results = []
    inputs: dict[str, str] = {}
    for graph in bundle.graphs:
        session = bundle.sessions[graph]
        for b in batch_sizes:
            feeds, how = _feeds(bundle, graph, int(b), seed)
            inputs[graph] = how
            for _ in range(warmup):
                session.run([outputs[graph]], feeds)
            ms = []
            for _ in range(runs):
                t0 = time.perf_counter()
                session.run([outputs[graph]], feeds)
                ms.append((time.perf_counter() - t0) * 1e3)
            arr = np.asarray(ms)
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
