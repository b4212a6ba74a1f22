"""Re-fit a sensor bundle's alert threshold on normal recordings from where it runs.

The exporter fits the operating point on validation sessions of the training people; normal activity of
other people can score higher than any of those (benchmarks/alerts.md: 0.18 false alerts per hour
expected, 14 measured on the test people). A device that has recorded its own normal activity re-fits
the threshold on it: the lowest threshold at which the bundle's own debounce (manifest `alert`, else the
runtime's) raises at most the target number of alerts per hour on those recordings, there and at every
higher threshold (`alert_metrics.lowest_meeting`, the exporter's rule). Every alert on normal data is
false, so no labels are needed. The int8 anomaly graph, when there is one, gets its own threshold.

The result is a copy of the bundle whose manifest holds the new thresholds and, under
`alert.recalibrated`, what they were fitted on; the graphs are copied unchanged (their sha256 still hold). A
wearer baseline (`alert.wearer_baseline`) is dropped, and `alert.recalibrated` says so: its point would
overrule the threshold fitted here.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ssvae_edge import alert_metrics as am
from ssvae_edge.alerts import DEFAULT_CLEAR_K, DEFAULT_K, DEFAULT_M
from ssvae_edge.bundle import Bundle
from ssvae_edge.contract import MANIFEST_FILE, Manifest
from ssvae_edge.errors import InputError
from ssvae_edge.sections import Alert
from ssvae_edge.windows import cut_windows

MIN_HOURS = 0.5  # less normal activity than this cannot say anything about a rate per hour


def fit_threshold(scores: list[np.ndarray], k: int, m: int, clear_k: int, hours: float, target: float) -> tuple:
    """(threshold, false alerts per hour there) for window scores of normal recordings, one array each."""
    grid = am.threshold_grid(np.concatenate(scores))
    alerts = np.zeros(len(grid), np.int64)
    for s in scores:
        alerts += am.raised(am.debounce_many(s[:, None] > grid[None, :], k, m, clear_k)).sum(0)
    rate = alerts / hours
    i = am.lowest_meeting(grid, rate, target)
    return float(grid[i]), float(rate[i])


def recalibrate(bundle: str | Path, recordings: list[np.ndarray], out: str | Path, target: float = 0.5,
                force: bool = False) -> dict:
    """Write a copy of `bundle` to `out` with thresholds re-fitted on normal `recordings` [T, C]; the new manifest."""
    src = Path(bundle)
    fp32 = Bundle.load(src, providers="cpu", threads=1)
    m = fp32.manifest
    if not m.is_sensor or not fp32.has("anomaly"):
        raise InputError(f"{src}: recalibration is for sensor bundles with an anomaly graph")
    if not np.isfinite(target) or target < 0:
        raise InputError(f"the target must be a non-negative number of false alerts per hour, got {target}")
    hours = sum(len(r) for r in recordings) / float(m.sample_rate_hz) / 3600
    if hours < MIN_HOURS:
        raise InputError(f"{hours * 60:.1f} min of normal recordings: give at least {MIN_HOURS * 60:.0f} min")
    out = Path(out)
    if out.exists() and not (force and (out / MANIFEST_FILE).is_file()):
        why = " and is not a bundle" if force else ": pass --force to replace it"
        raise InputError(f"{out} already exists{why}")
    hop = int(m.alert_hop)
    k, mm, clear = m.alert_debounce or (DEFAULT_K, DEFAULT_M, DEFAULT_CLEAR_K)
    windows = [cut_windows(r, m.window, hop) for r in recordings]
    fitted = {}
    for precision in ("fp32", "int8") if "anomaly" in m.graph_set("int8") else ("fp32",):
        b = fp32 if precision == "fp32" else Bundle.load(src, providers="cpu", threads=1, precision="int8")
        scores = [np.concatenate([b.anomaly_score(w[i:i + 256]) for i in range(0, len(w), 256)]).astype(np.float64)
                  for w in windows if len(w)]
        fitted[precision] = fit_threshold(scores, k, mm, clear, hours, target)
    recalibrated = {
        "on": f"{len(recordings)} normal recording(s), {hours:.2f} h", "target_false_alerts_per_hour": target,
        "false_alerts_per_hour": {p: v[1] for p, v in fitted.items()},
        "previous_threshold": m.threshold, "rule": "alert_metrics.lowest_meeting at the bundle's debounce",
    }
    if m.wearer_baseline is not None:
        # its point was fitted on validation people's adjusted scores: it would overrule the threshold fitted here
        recalibrated["wearer_baseline"] = "dropped: alerts use the plain score at the threshold fitted here"
    alert = replace(m.alert or Alert(k=k, m=mm), k=k, m=mm, clear_k=clear, threshold=fitted["fp32"][0], hop=hop,
                    recalibrated=recalibrated, wearer_baseline=None,
                    false_alerts_per_hour_upper95=None)  # the bound was of the previous threshold's count
    graphs_int8 = m.graphs_int8
    if "int8" in fitted:
        graphs_int8 = {**graphs_int8, "anomaly": replace(graphs_int8["anomaly"], threshold=fitted["int8"][0])}
    new = replace(m, threshold=fitted["fp32"][0], alert=alert, graphs_int8=graphs_int8).checked()
    write_copy(src, out, new)
    return new.to_json()


def write_copy(src: Path, out: Path, manifest: Manifest) -> None:
    """The bundle's files and the new manifest in a hidden folder beside `out`, renamed into place last."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        for p in src.iterdir():
            if p.is_file() and p.name != MANIFEST_FILE:
                shutil.copy2(p, tmp / p.name)
        manifest.write(tmp)
        Bundle.load(tmp, providers="cpu", threads=1)  # the copy must load as a bundle before it replaces anything
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
