"""The `ssvae-edge web` page in headless Chromium, measured: ms per window of the classifier and anomaly
graphs in onnxruntime-web (wasm, one thread) next to onnxruntime in Python (one thread) on the same
window, same machine, same run; the page's weight (bytes downloaded, plain and gzip as `--serve` and most
HTTPS hosts send them); the time from navigation to the first scored window of a replay (cold browser).

    python tools/bench_web.py --bundle exported/har-lstm-novelty --recording exported/har-demo/demo_stream.csv

Writes benchmarks/web.json and benchmarks/web.md. Per-window times are the median over blocks of
`--per-block` runs of one window (performance.now() is coarse in a page), the graphs taking turns block by
block, and Python's blocks run before and after the browser's, so a drift of the machine shows.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import typer

from ssvae_edge.bundle import Bundle
from ssvae_edge.csvinput import read_recording
from ssvae_edge.headless import Chromium
from ssvae_edge.web import build_site, page_bytes, vendored
from ssvae_edge.webserve import serve_in_background

GOAL_MS, GOAL_BYTES = 2.0, 16_000_000
RESOURCES = """performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .filter(e => !e.name.includes('/recordings/'))
  .map(e => ({name: e.name, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize}))"""


def python_blocks(b: Bundle, x: np.ndarray, blocks: int, per_block: int) -> dict[str, list[float]]:
    """ms per window, one window per run, each graph in turn, as the page measures it."""
    out: dict[str, list[float]] = {g: [] for g in ("classifier", "anomaly") if b.has(g)}
    names = {"classifier": "probs", "anomaly": "score"}
    for g in out:
        for _ in range(3):
            b.sessions[g].run([names[g]], {"x": x})
    for _ in range(blocks):
        for g in out:
            t0 = time.perf_counter()
            for _ in range(per_block):
                b.sessions[g].run([names[g]], {"x": x})
            out[g].append((time.perf_counter() - t0) * 1000 / per_block)
    return out


def cold_replay(url: str, recording: str) -> dict:
    """A fresh browser (empty cache) replays the recording: timings and what it downloaded."""
    with Chromium() as browser:
        page = browser.open(f"{url}index.html?replay=recordings/{recording}")
        if page.wait_for("document.documentElement.dataset.done") != "1":
            status = page.evaluate("document.getElementById('status').textContent")
            raise SystemExit(f"the page refused the replay: {status}")
        timing = page.evaluate("window.ssvaeTiming")
        resources = page.evaluate(RESOURCES)
        windows = page.evaluate("window.ssvaeEvents.length - 1")
        return {"first_window_ms": timing["firstWindowMs"], "loaded_ms": timing["loadedMs"],
                "windows": windows, "resources": resources, "browser": browser.version}


def measure(bundle: Path, recording: Path, blocks: int, per_block: int, cold_runs: int) -> dict:
    b = Bundle.load(bundle, providers="cpu", threads=1)
    rec = read_recording(recording, b.channels, b.sample_rate_hz)
    x = np.ascontiguousarray(rec.samples[None, : b.window], dtype=np.float32)  # the recording's first window
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(bundle, Path(tmp) / "site", [recording])
        server, url = serve_in_background(site.path)
        try:
            cold = [cold_replay(url, recording.name) for _ in range(cold_runs)]
            py_before = python_blocks(b, x, blocks, per_block)
            with Chromium() as browser:
                page = browser.open(f"{url}index.html")
                page.wait_for("window.ssvaeBench && document.getElementById('status').textContent.startsWith('ready')")
                web = page.evaluate(f"window.ssvaeBench({json.dumps(x.ravel().tolist())}, {blocks}, {per_block})",
                                    timeout=1800)
            py_after = python_blocks(b, x, blocks, per_block)
        finally:
            server.shutdown()
        weight = page_bytes(site)
    res = cold[0]["resources"]
    graphs = {}
    for g in web:
        py = py_before[g] + py_after[g]
        graphs[g] = {"web_ms": statistics.median(web[g]), "python_ms": statistics.median(py),
                     "web_min_ms": min(web[g]), "python_min_ms": min(py),
                     "python_before_ms": statistics.median(py_before[g]),
                     "python_after_ms": statistics.median(py_after[g]),
                     "web_blocks_ms": [round(v, 4) for v in web[g]]}
    web_total = sum(v["web_ms"] for v in graphs.values())
    return {
        "bundle": str(bundle), "recording": str(recording), "browser": cold[0]["browser"],
        "graphs": graphs,
        "ms_per_window": {"web": web_total, "python": sum(v["python_ms"] for v in graphs.values()),
                          "web_min": sum(v["web_min_ms"] for v in graphs.values()),
                          "python_min": sum(v["python_min_ms"] for v in graphs.values()),
                          "goal": GOAL_MS, "meets_goal": web_total <= GOAL_MS},
        "page_bytes": {"on_disk": weight, "downloaded_plain": sum(r["decoded"] for r in res),
                       "downloaded_gzip": sum(r["transfer"] for r in res), "goal": GOAL_BYTES,
                       "files": {r["name"].split("/", 3)[-1] or "index": r["decoded"] for r in res}},
        "first_window_ms": {"median": statistics.median(c["first_window_ms"] for c in cold),
                            "runs": [round(c["first_window_ms"], 1) for c in cold],
                            "graphs_loaded_ms": statistics.median(c["loaded_ms"] for c in cold)},
        "replay_windows": cold[0]["windows"],
    }


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# The web page (`ssvae-edge web`) in headless Chromium", "",
             f"Measured by `python tools/bench_web.py` on {m['cpu']} ({m['cores']} cores, load average "
             f"{m['load_before']} before, {m['load_after']} after; other jobs were running), {report['browser']}, "
             f"onnxruntime-web {report['ort_web']} (wasm, 1 thread) vs onnxruntime {report['onnxruntime']} in Python "
             f"(1 thread). ms per window: one window per run, median over {report['settings']['blocks']} blocks of "
             f"{report['settings']['per_block']} runs; the first window of the recording.", "",
             "Median (and in brackets the fastest block: the machine's speed when the other jobs left it a core).",
             "", "| bundle | graph | browser ms/window | Python ms/window | browser / Python |",
             "|---|---|---|---|---|"]
    for r in report["results"]:
        for g, v in r["graphs"].items():
            lines.append(f"| {Path(r['bundle']).name} | {g} | {v['web_ms']:.3f} ({v['web_min_ms']:.3f}) | "
                         f"{v['python_ms']:.3f} ({v['python_min_ms']:.3f}) | {v['web_ms'] / v['python_ms']:.2f} |")
        w = r["ms_per_window"]
        lines.append(f"| {Path(r['bundle']).name} | **both** | **{w['web']:.3f}** ({w['web_min']:.3f}) | "
                     f"{w['python']:.3f} ({w['python_min']:.3f}) | {w['web'] / w['python']:.2f} |")
    lines += ["", f"Goal: ≤ {GOAL_MS:g} ms per window (both graphs) in the browser, ≤ {GOAL_BYTES / 1e6:g} MB page.",
              "", "| bundle | page on disk (bytes) | downloaded, plain | downloaded, gzip (`--serve`) "
              "| first scored window, cold (ms) |", "|---|---|---|---|---|"]
    for r in report["results"]:
        p, f = r["page_bytes"], r["first_window_ms"]
        runs = ", ".join(f"{v:.0f}" for v in f["runs"])
        lines.append(f"| {Path(r['bundle']).name} | {p['on_disk']:,} | {p['downloaded_plain']:,} | "
                     f"{p['downloaded_gzip']:,} | {f['median']:.0f} (runs {runs}) |")
    lines += ["", "The page weight is the page, its scripts, onnxruntime-web (its 14.2 MB wasm binary, shipped gzipped "
              "as 3.7 MB and inflated in the page, is most of it) and the bundle's manifest, classifier and anomaly "
              "graphs; the replayed recording is not counted. 'downloaded, gzip' is what `--serve` (and a host that "
              "compresses) sends. "
              "The first scored window counts from navigation: download, wasm compile, the graphs' sha256 check, "
              "session creation, reading the CSV and scoring the first batch.", ""]
    return "\n".join(lines)


def main(
    bundle: list[Path] = typer.Option(..., metavar="BUNDLE", help="A sensor bundle to measure (repeatable)."),
    recording: list[Path] = typer.Option(..., metavar="CSV", help="A recording per bundle, in the same order."),
    out: Path = typer.Option(Path("benchmarks"), help="Folder for web.json and web.md."),
    blocks: int = typer.Option(30, min=1, help="Timed blocks per graph (graphs take turns block by block)."),
    per_block: int = typer.Option(20, min=1, help="Runs of one window per block."),
    cold_runs: int = typer.Option(3, min=1, help="Cold browsers that replay the recording (first-window time)."),
) -> None:
    """Measure the page in headless Chromium against onnxruntime in Python; write web.json and web.md."""
    if len(recording) != len(bundle):
        raise typer.BadParameter("give one --recording per --bundle")
    load_before = [round(v, 2) for v in os.getloadavg()]
    results = [measure(b, r, blocks, per_block, cold_runs) for b, r in zip(bundle, recording, strict=True)]
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name")), platform.processor())
    report = {"machine": {"cpu": cpu, "cores": os.cpu_count(), "load_before": load_before,
                          "load_after": [round(v, 2) for v in os.getloadavg()]},
              "browser": results[0]["browser"], "ort_web": vendored()["version"],
              "onnxruntime": ort.__version__, "settings": {"blocks": blocks, "per_block": per_block,
                                                           "cold_runs": cold_runs, "threads": 1},
              "results": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "web.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "web.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    typer.run(main)
