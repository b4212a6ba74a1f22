"""RESULTS.md § hapt, the alerts' bound: what any operating point of the novelty recipe's graphs could do on the test
people (results/hapt-bundles.md, AL). For nine trainings of the recipe, the most held-out segments any threshold and
debounce catch within the issue's false-alert target (`tools/alert_curve.py --debounce`), beside the exporter's own
point (`tools/eval_phone.py`): whether the limit is the fitting rule or the detector. A file not written yet is
reported as not measured."""

from __future__ import annotations

import numpy as np

from ssvae_train.experiments.hapt_labels_section import read_bench

# AL (results/hapt-bundles.md, thirty-fourth round): nine trainings of the novelty recipe, their curves on test
# (`tools/alert_curve.py --debounce ...`) and their exporter points (`tools/eval_phone.py`)
NINE = {"split 0, init 0 (shipped)": ("ad", "hapt-phone-novelty"),
        "split 0, init 1": ("af1", "hapt-phone-novelty-init1"), "split 0, init 2": ("af2", "hapt-phone-novelty-init2"),
        "split 1, init 1": ("ae1", "hapt-phone-novelty-seed1"),
        "split 1, init 0": ("s1i0", "hapt-phone-novelty-al-s1i0"),
        "split 1, init 2": ("s1i2", "hapt-phone-novelty-al-s1i2"),
        "split 2, init 2": ("ae2", "hapt-phone-novelty-seed2"),
        "split 2, init 0": ("s2i0", "hapt-phone-novelty-al-s2i0"),
        "split 2, init 1": ("s2i1", "hapt-phone-novelty-al-s2i1")}
RECALL_TARGET, FALSE_PER_HOUR_TARGET, DELAY_TARGET_S = 0.9, 1.0, 5.0  # the alert targets


def any_point() -> list[str]:
    """Per training, the most segments any threshold and debounce catch on test within the false-alert target, for
    the design the bundle streams with (its gate's classes and prior weight as fitted), beside the exporter's own
    point: whether any operating point of that design could meet the alert target. "Some" needs a training whose
    best point catches enough within the delay target too; a point catching enough more slowly leaves it open."""
    rate = f"{FALSE_PER_HOUR_TARGET:.1f}"
    lines = ["| training | exporter's point: caught, delay, false/h | any point at ≤ 1 false alert/h: caught "
             "(k of m, delay) |", "|---|---:|---:|"]
    edges, fast = [], []
    for name, (key, bench) in NINE.items():
        curve, point = read_bench(f"alert-curve-debounce-test-{key}.json"), read_bench(f"{bench}.json")
        if curve is None or point is None:
            return [f"`benchmarks/alert-curve-debounce-test-{key}.json` or `{bench}.json`: not measured yet.", ""]
        a = point["fp32"]["alerts"]
        best = max(curve["designs"].values(), key=lambda r: (r["upper_edge"][rate],
                                                             -(r["upper_edge_median_delay_s"][rate] or 0.0)))
        n, d = best["upper_edge"][rate], best["upper_edge_median_delay_s"][rate]
        edges.append(n)
        fast.append(d is not None and d <= DELAY_TARGET_S)
        delay = "-" if a["delay_seconds_median"] is None else f"{a['delay_seconds_median']:.2f} s"
        lines.append(f"| {name} | {a['detected']}/{a['held_out_segments']}, {delay}, {a['false_alerts_per_hour']:.2f} "
                     f"| {n}" + ("" if d is None else f" ({best['k']} of {best['m']}, {d:.2f} s)") + " |")
    e, segments = np.array(edges, float), curve["held_out_segments"]
    need = int(np.ceil(RECALL_TARGET * segments))
    allowed = int(np.floor(FALSE_PER_HOUR_TARGET * curve["normal_hours"]))
    verdict = ("no operating point of these designs meets it" if e.max() < need else
               "some operating point meets it" if any(n >= need and f for n, f in zip(e, fast, strict=True)) else
               f"points catch enough, but their median delay is above {DELAY_TARGET_S:g} s")
    sd = float(np.std(e, ddof=1)) if len(e) > 1 else float("nan")
    return [*lines, "", f"At ≤ {FALSE_PER_HOUR_TARGET:g} false alert/h ({allowed} in the test's "
            f"{curve['normal_hours']:.2f} h of normal time), any point catches at most {int(e.max())} of {segments} "
            f"({e.mean():.1f} ± {sd:.1f}, n = {len(e)}); the target asks for {need} within a median of "
            f"{DELAY_TARGET_S:g} s: {verdict}. Each training's curve is the design its bundle streams with (the gate's "
            "classes and prior weight as fitted; the plain score where no wearer section was written), every threshold "
            "and every debounce of the exporter's set. Curves at every rate and on each training's validation people: "
            "`benchmarks/alert-curve-debounce-*.md`.", ""]
