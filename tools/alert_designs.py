#!/usr/bin/env python3
"""Alert designs on an alert test bed, out of sample (results/hapt-bundles.md, twenty-eighth round, U and V).

The shipped design reads the wearer-adjusted score (`ssvae_edge.wearer_baseline`) with a k-of-m debounce
(`ssvae_edge.alerts`); the other accumulates it (Page's CUSUM):

    S_t = min(h, max(0, S_{t-1} + min(a_t - r, h / k)))   raised when S_t reaches h, cleared when it falls to 0

and the shipped design *gated* (V): only windows whose event class is in the gate set can be above the threshold,
the gate set being the classes that get at least `GATE_SHARE` of the held-out activity's windows in the training
people's recordings (never trained on), as the runtime classes them; and the gate with its set *chosen* (AA,
twenty-ninth round): the nested sets of those classes in order of share ({first}, {first, second}, ...), each
with its point fitted, the set whose point detects the most held-out segments kept (ties: fewer classes, then
the shorter delay), the set chosen on the same half of the people as its point.

Each design's point is fitted by the exporter's rule (`alert_point`: per configuration the lowest threshold, h
for CUSUM, meeting the false-alert target there and at every higher one; then the configuration catching the
most held-out segments, ties the shorter median delay, then the larger k) on half of the test bed's validation
people and counted on the other half, both ways; the halves' counts are added. Nothing here is shipped: the
runtime is unchanged unless the round's rule adopts the design.

    python tools/alert_designs.py --bundle runs/hapt-bundles/novelty-tr-ds-turn-v0.45-s0 \\
        --training runs/hapt-csv/train-nv --validation runs/hapt-csv/val-nv --name alert-designs-testbed-s0

(the folders are written by `tools/hapt_recordings.py`, as in `tools/wearer_tradeoff.py`'s docstring.) Writes
benchmarks/<name>.json and .md; no test recording is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from ssvae_edge import Bundle
from ssvae_edge import alert_metrics as am
from ssvae_edge.alert_gate import gated
from ssvae_edge.wearer_baseline import adjusted_scores
from ssvae_train.export.alert_cross_check import people_halves
from ssvae_train.export.alert_gate_choice import GATE_SHARE, gate_sets, held_out_share, set_rank
from ssvae_train.export.alert_point import HELD_OUT, rank
from ssvae_train.export.labelled_recordings import labelled_streams, read_labels_of, read_recordings
from ssvae_train.export.wearer_baseline_fit import MEMORY_SECONDS, PRIOR_WINDOWS, class_priors, stream_whole

TARGETS = (0.5, 1.0, 2.0)
DEBOUNCES = ((1, 1), (2, 2), (2, 3), (3, 4), (3, 5))  # alert_point.DEBOUNCES
REFERENCE_QUANTILES = (0.5, 0.75, 0.9)  # r: of the training people's adjusted normal scores
CUSUM_K = (1, 2, 3)  # at least k windows to raise: one window adds at most h / k
N_H = 300  # h candidates, geometric
DESIGNS = {"debounce": "k of m (shipped)", "cusum": "CUSUM", "gated": "k of m, gated",
           "chosen": "k of m, gated, set chosen"}


def cusum_states(a: np.ndarray, r: float, h: np.ndarray, k: int) -> np.ndarray:
    """The CUSUM's alert state after each window [T, P] for the P limits `h` at once."""
    s = np.zeros(len(h))
    state = np.zeros(len(h), bool)
    out = np.empty((len(a), len(h)), bool)
    cap = h / k
    for t, x in enumerate(a):
        s = np.minimum(h, np.maximum(0.0, s + np.minimum(x - r, cap)))
        state = np.where(state, s > 0.0, s >= h)
        out[t] = state
    return out


def debounce_states(a: np.ndarray, thresholds: np.ndarray, k: int, m: int) -> np.ndarray:
    return am.debounce_many(a[:, None] > thresholds[None, :], k, m, 1)


def match(streams, idx, states_of, col: int) -> dict:
    """The runtime's matching (`alert_metrics.match_alerts`) of candidate `col` over the streams `idx`, added."""
    results = []
    for i in idx:
        st, lab = streams["starts"][i], streams["labels"][i]
        results.append(am.match_alerts(am.segments(list(lab)), st, list(states_of(i)[:, col]), streams["window"],
                                       HELD_OUT, streams["rate"], ""))
    return am.combine(results, streams["rate"])


def normal_hours(streams, idx) -> float:
    return sum(int(((lab != HELD_OUT) & (lab != "")).sum()) for lab in (streams["labels"][i] for i in idx)) \
        / streams["rate"] / 3600


def fit_config(streams, idx, states_of, grid, target: float, k: int) -> dict:
    """The lowest candidate of `grid` meeting the target over the streams `idx`, and what it gives there."""
    false = caught_and_false(streams, idx, states_of)[1]
    lowest = am.lowest_meeting(grid, false / normal_hours(streams, idx), target)
    r = match(streams, idx, states_of, lowest)
    return {"index": lowest, "value": float(grid[lowest]), "detected": r["detected"], "k": k,
            "median_delay_s": r["delay_seconds_median"]}


def design_points(streams, adjusted, ref, fit_idx, target: float, design: str) -> tuple:
    """The design's point fitted on the streams `fit_idx`: (its description, a function stream -> states)."""
    cands = []
    for n0 in PRIOR_WINDOWS:
        a = adjusted[n0]
        normal = np.concatenate([a[i][am.window_fraction_held_out(streams["starts"][i], streams["window"],
                                                                   streams["labels"][i] == HELD_OUT) == 0]
                                 for i in fit_idx])
        normal = normal[np.isfinite(normal)]  # gated: windows outside the gate set can never be above
        if design in ("debounce", "gated"):
            grid = am.threshold_grid(normal)
            for k, m in DEBOUNCES:
                cache = {}

                def states(i, a=a, grid=grid, k=k, m=m, cache=cache):
                    if i not in cache:
                        cache[i] = debounce_states(a[i], grid, k, m)
                    return cache[i]
                p = fit_config(streams, fit_idx, states, grid, target, k)
                cands.append(({**p, "prior_windows": n0, "m": m}, lambda i, a=a, t=p["value"], k=k, m=m:
                              debounce_states(a[i], np.array([t]), k, m)))
        else:
            for q in REFERENCE_QUANTILES:
                r = float(np.quantile(ref[n0], q))
                excess = np.maximum(normal - r, 0)
                top = max(float(excess.max()), 1e-9)
                grid = np.geomspace(top / 100, top * 40, N_H)
                for k in CUSUM_K:
                    cache = {}

                    def states(i, a=a, r=r, grid=grid, k=k, cache=cache):
                        if i not in cache:
                            cache[i] = cusum_states(a[i], r, grid, k)
                        return cache[i]
                    p = fit_config(streams, fit_idx, states, grid, target, k)
                    cands.append(({**p, "prior_windows": n0, "reference_quantile": q, "reference": r},
                                  lambda i, a=a, r=r, h=p["value"], k=k: cusum_states(a[i], r, np.array([h]), k)))
    return min(cands, key=lambda c: rank(c[0]))


def chosen_set_points(streams, by_set, ref, fit_idx, target: float) -> tuple:
    """AA: each candidate gate set's point fitted on the streams `fit_idx`; the set whose point detects the most
    held-out segments (ties: fewer classes, then the shorter delay), with its point."""
    best = None
    for classes, scores in by_set.items():
        point, states_of = design_points(streams, scores, ref, fit_idx, target, "gated")
        key = set_rank(classes, point)
        if best is None or key < best[0]:
            best = (key, {**point, "gate": list(classes)}, states_of)
    return best[1], best[2]


def caught_and_false(streams, idx, states_of) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate [P]: held-out segments caught and false alerts over the streams `idx` (`tally_many`)."""
    caught, false = 0, 0
    for i in idx:
        c, f = am.tally_many(states_of(i), streams["starts"][i], streams["labels"][i], streams["window"], HELD_OUT, "")
        caught, false = caught + c, false + f
    return np.asarray(caught), np.asarray(false)


def frontier(streams, adjusted, rates) -> dict:
    """The most held-out segments any configuration of the k-of-m design catches over all the streams at each
    false-alert rate in `rates` (its trade-off curve's upper edge; nothing is fitted, so nothing is out of sample)."""
    idx = range(len(streams["labels"]))
    hours = normal_hours(streams, idx)
    best = dict.fromkeys(rates, 0)
    for n0 in PRIOR_WINDOWS:
        a = adjusted[n0]
        normal = np.concatenate([a[i] for i in idx])
        grid = am.threshold_grid(normal[np.isfinite(normal)])
        for k, m in DEBOUNCES:
            caught, false = caught_and_false(streams, idx,
                                             lambda i, a=a, g=grid, k=k, m=m: debounce_states(a[i], g, k, m))
            for f in rates:
                ok = false / hours <= f
                best[f] = max(best[f], int(caught[ok].max()) if ok.any() else 0)
    return best


def out_of_sample(streams, halves, fit_point) -> dict:
    """Fit on one half (`fit_point(idx)` -> (point, stream -> states)), count on the other, both ways; added."""
    results, points = [], []
    for fit_idx, eval_idx in (halves, halves[::-1]):
        point, states_of = fit_point(fit_idx)
        points.append({k: v for k, v in point.items() if k != "index"})
        results.append(match(streams, eval_idx, lambda i, f=states_of: f(i), 0))
    r = am.combine(results, streams["rate"])
    return {"detected": r["detected"], "held_out_segments": r["held_out_segments"],
            "false_alerts": r["false_alerts"], "normal_hours": r["normal_hours"],
            "false_alerts_per_hour": r["false_alerts_per_hour"], "median_delay_s": r["delay_seconds_median"],
            "unlabelled_raises": r.get("unlabelled_raises"), "points": points}


def main(
    bundle: Annotated[Path, typer.Option(help="The test bed's novelty bundle.")],
    training: Annotated[Path, typer.Option(help="CSV recordings of the people it trained on.")],
    validation: Annotated[Path, typer.Option(help="Labelled CSV recordings of its validation people.")],
    name: Annotated[str, typer.Option(help="Output: benchmarks/<name>.json and .md.")],
) -> None:
    """Fit each alert design on half of the validation people, count it on the other half (both ways)."""
    b = Bundle.load(bundle, providers="cpu", threads=1)
    m = b.manifest
    train_files = sorted(training.glob("*.csv"))
    train_x = read_recordings(train_files, m)
    train_labels = read_labels_of(train_files, train_x)
    val = labelled_streams(sorted(validation.glob("*.csv")), m)
    hop = val.hop
    memory = max(1, round(MEMORY_SECONDS * val.rate_hz / hop))
    prior = class_priors(b, train_x, hop, train_labels, m.excluded_class_name)
    streamed = [stream_whole(b, x, hop) for x in val.x]
    people = [s.split("_")[1] for s in val.sources["recordings"]]
    halves = people_halves(people)  # the export's cross-check splits the same way
    half = [{people[i] for i in idx} for idx in halves]
    streams = {"starts": [st for st, _, _ in streamed], "labels": val.labels, "window": val.window,
               "rate": val.rate_hz}
    adjusted = {n0: [adjusted_scores(s, c, prior, n0, memory) for _, s, c in streamed] for n0 in PRIOR_WINDOWS}
    ref = {}
    train_streamed = [stream_whole(b, x, hop) for x in train_x]
    for n0 in PRIOR_WINDOWS:  # the training people's adjusted normal scores: where r comes from
        vals = []
        for (st, s, c), x, lab in zip(train_streamed, train_x, train_labels, strict=True):
            a = adjusted_scores(s, c, prior, n0, memory)
            vals.append(a[am.window_fraction_held_out(st, val.window, lab[: len(x)] == m.excluded_class_name) == 0])
        ref[n0] = np.concatenate(vals)
    share = held_out_share(b, train_streamed, [lab[: len(x)] for lab, x in zip(train_labels, train_x, strict=True)],
                           m.excluded_class_name)
    gate = sorted(k for k, v in share.items() if v >= GATE_SHARE)
    typer.echo(f"gate set: {gate} (held-out windows of the training people by class: {share})", err=True)

    def gated_to(classes) -> dict:
        return {n0: [gated(a, c, classes) for a, (_, _, c) in zip(adjusted[n0], streamed, strict=True)]
                for n0 in adjusted}
    gated_scores = gated_to(gate)
    by_set = {classes: gated_to(classes) for classes in gate_sets(share)}
    rows = []
    for target in TARGETS:
        row = {"target": target}
        fitters = {
            "debounce": lambda idx, t=target: design_points(streams, adjusted, ref, idx, t, "debounce"),
            "cusum": lambda idx, t=target: design_points(streams, adjusted, ref, idx, t, "cusum"),
            "gated": lambda idx, t=target: design_points(streams, gated_scores, ref, idx, t, "gated"),
            "chosen": lambda idx, t=target: chosen_set_points(streams, by_set, ref, idx, t),
        }
        for design in DESIGNS:
            row[design] = out_of_sample(streams, halves, fitters[design])
        rows.append(row)
        typer.echo(f"target {target:g}: " + json.dumps({d: {k: row[d][k] for k in ("detected", "false_alerts",
                   "median_delay_s")} for d in DESIGNS}), err=True)
    hours = normal_hours(streams, range(len(val.x)))
    rates = (0.5, 1.0, 2.0, 3.0, 5.0)
    edges = {d: frontier(streams, gated_scores if d == "gated" else adjusted, rates) for d in ("debounce", "gated")}
    edges.update({f"gated to {', '.join(c)}": frontier(streams, sc, rates)
                  for c, sc in by_set.items() if len(c) < len(gate)})
    Path("benchmarks").mkdir(exist_ok=True)
    record = {"bundle": str(bundle), "halves": [sorted(h) for h in half], "normal_hours": hours,
              "gate": {"classes": gate, "held_out_windows_by_class": share}, "rows": rows,
              "frontier": {d: {str(f): v for f, v in e.items()} for d, e in edges.items()}}
    Path(f"benchmarks/{name}.json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    lines = [f"# Alert designs on {bundle}, out of sample", "",
             "Made by `python tools/alert_designs.py` (docstring; results/hapt-bundles.md, twenty-eighth round, U; "
             "twenty-ninth, AA). "
             f"The test bed's validation people in two halves ({', '.join(sorted(half[0]))} | "
             f"{', '.join(sorted(half[1]))}); each design's point fitted on one half by the exporter's rule, counted "
             f"on the other, both ways, added ({hours:.2f} h of labelled normal time in all). Gate set (V): "
             f"{', '.join(gate)}. No test recording read.",
             "", "| target /h | design | caught | false alerts (per h) | median delay | unlabelled raises |",
             "|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        for d in DESIGNS:
            x = r[d]
            delay = "-" if x["median_delay_s"] is None else f"{x['median_delay_s']:.1f} s"
            lines.append(f"| {r['target']:g} | {DESIGNS[d]} | "
                         f"{x['detected']}/{x['held_out_segments']} | {x['false_alerts']} "
                         f"({x['false_alerts_per_hour']:.2f}) | {delay} | {x['unlabelled_raises']} |")
    n_held = rows[0]["debounce"]["held_out_segments"]
    lines += ["", "The trade-off curves' upper edge (a measurement written after V's table: nothing fitted, every "
              "person in-sample, the same 10 configurations per design): the most held-out segments any "
              "configuration catches over all the people at a false-alert rate no higher than each of these.", "",
              "| design | " + " | ".join(f"≤ {f:g}/h" for f in rates) + " |", "|---|" + "---:|" * len(rates)]
    for d, e in edges.items():
        lines.append(f"| {DESIGNS.get(d, 'k of m, ' + d)} | " + " | ".join(f"{e[f]}/{n_held}" for f in rates) + " |")
    lines += ["", "Sets chosen by AA (fitted on the first half, then on the second): " + "; ".join(
        f"{r['target']:g}/h: " + " | ".join(", ".join(pt["gate"]) for pt in r["chosen"]["points"]) for r in rows)]
    Path(f"benchmarks/{name}.md").write_text("\n".join(lines) + "\n")
    typer.echo("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
