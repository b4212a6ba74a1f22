"""How `ssvae-edge stream` and `bench` read at a terminal: the stream's events as an aligned table and its
summary as a sentence, the bench report as one row per graph and batch size. Pipes and files get JSON instead
(`ssvae_edge.cli`)."""

from __future__ import annotations

from typing import Any


class StreamTable:
    """A readable view of the events for a terminal; JSON lines everywhere else."""

    def __init__(self, timed: bool):
        self.timed = timed
        cols = ["window", "start"] + (["time"] if timed else []) + ["class", "prob", "score", "alert"]
        self.header = "  ".join(f"{c:>{w}}" if c not in ("class",) else f"{c:<{w}}"
                                for c, w in zip(cols, self._widths(), strict=True))

    def _widths(self) -> list[int]:
        return [6, 8] + ([9] if self.timed else []) + [20, 5, 10, 5]

    def row(self, e: dict[str, Any]) -> str:
        vals = [str(e["window"]), str(e["start"])]
        if self.timed:
            vals.append(f"{e['time']:.2f}" if e.get("time") is not None else "-")
        score = e.get("wearer_score", e["score"])  # the score the alert compares with the threshold
        vals += [e["class"] or "-", f"{e['prob']:.2f}" if e["prob"] is not None else "-",
                 f"{score:.4g}" if score is not None else "-", "ALERT" if e["alert"] else ""]
        return "  ".join(f"{v:<{w}}" if i == (3 if self.timed else 2) else f"{v:>{w}}"
                         for i, (v, w) in enumerate(zip(vals, self._widths(), strict=True)))


def summary_text(s: dict[str, Any]) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in s["skipped_reasons"].items() if v)
    text = f"scored {s['windows']} windows, skipped {s['skipped']}" + (f" ({reasons})" if reasons else "")
    text += f", alerts raised {s['alerts']}"
    if s.get("partial_windows"):
        text += f"; final partial window dropped ({s['partial_samples']} samples)"
    if s.get("bad_rows"):
        text += f"; bad rows {s['bad_rows']} (first at lines {s['first_bad_lines']})"
    return text


def bench_table(report: dict[str, Any]) -> str:
    """The bench report for a person: one row per graph and batch size."""
    head = (f"{report['bundle']}: {report['provider_note']}; threads {report['threads']}; "
            f"onnxruntime {report['onnxruntime']}")
    cols = f"{'graph':<11} {'precision':<9} {'batch':>5} {'median ms':>10} {'p90 ms':>9} {'samples/s':>11}"
    rows = [f"{r['graph']:<11} {report['precisions'][r['graph']]:<9} {r['batch']:>5} {r['median_ms']:>10.3f} "
            f"{r['p90_ms']:>9.3f} {r['samples_per_s'] or 0:>11.0f}" for r in report["results"]]
    return "\n".join([head, cols, *rows])
