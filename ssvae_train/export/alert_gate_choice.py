"""Which classes the alert gate takes (`ssvae_edge.alert_gate`; results/hapt-bundles.md, W and AA), chosen on the
validation people: the classes that received at least `GATE_SHARE` of the held-out activity's windows in the training
people's recordings (never trained on), as the runtime classes them, nested in order of share ({first}, {first,
second}, ...), each set's point fitted by the exporter's rule on the validation people's adjusted scores with only its
windows able to be above; the set whose point catches the most held-out segments is kept (ties: fewer classes), and
with a delay asked (`--alert-max-delay`) the sets whose point meets it come first (`alert_point.rank`).
`wearer_baseline_fit` writes the chosen set and its point into the manifest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssvae_edge import alert_metrics as am
from ssvae_edge.alert_gate import gated
from ssvae_edge.bundle import Bundle
from ssvae_edge.wearer_baseline import adjusted_scores
from ssvae_train.export.alert_point import HELD_OUT, Streams, point_of_scores, rank

GATE_SHARE = 0.10  # a class is a gate candidate when it gets at least this share of the held-out activity's windows
GATE_RULE = (f"the classes that received at least {GATE_SHARE:.0%} of the held-out activity's windows in the training "
             "people's recordings, as the runtime classes them, taken as nested sets in order of share ({first}, "
             "{first, second}, ...); per set and prior weight the exporter's alert rule on the adjusted scores of the "
             "validation people's recordings, only the set's windows able to be above; the set whose point detects "
             "the most held-out segments (ties: fewer classes, then shorter delay), kept when it detects at least as "
             "many as the ungated point")


def held_out_share(bundle: Bundle, streamed: Sequence[tuple], labels: Sequence[np.ndarray], held_out: str
                   ) -> dict[str, float]:
    """How the runtime classes the held-out activity's windows (those lying wholly in its segments) in the training
    people's recordings: each class's share of them, or {} when there are none."""
    classes = []
    for (starts, _, c), lab in zip(streamed, labels, strict=True):
        inside = am.window_fraction_held_out(starts, bundle.window, lab == held_out) == 1
        classes += list(np.asarray(c, dtype=object)[inside])
    if not classes:
        return {}
    names, counts = np.unique(np.array(classes, dtype=object), return_counts=True)
    return {str(k): int(v) / len(classes) for k, v in zip(names, counts, strict=True)}


def gate_sets(share: dict[str, float]) -> list[tuple[str, ...]]:
    """The candidate gates: the classes with at least `GATE_SHARE` of the held-out windows, nested in order of share."""
    order = sorted((c for c, v in share.items() if v >= GATE_SHARE), key=lambda c: (-share[c], c))
    return [tuple(order[: j + 1]) for j in range(len(order))]


def set_rank(classes: Sequence[str], point: dict) -> tuple:
    """Lower is better among gate sets: the delay asked met (`rank`), more held-out segments detected, then fewer
    classes, then `rank`'s rest."""
    slow, detected, *rest = rank(point)
    return (slow, detected, len(classes), *rest)


def choose_gate(streamed: Sequence[tuple], validation: Streams, target: float, prior: dict[str, float], memory: int,
                share: dict[str, float], prior_windows: Sequence[int],
                debounces: tuple | None = None, max_delay: float | None = None) -> tuple | None:
    """(classes, point, sets tried) of the best of `gate_sets` on the validation streams (`streamed`: their
    `stream_whole`), or None when no class gets `GATE_SHARE` of the held-out windows (or no set's windows include a
    normal one). `debounces`, `max_delay`: as `point_of_scores`'s (the cross-check's halves give every debounce)."""
    chosen, tried = None, []
    for classes in gate_sets(share):
        candidates = []
        for n0 in prior_windows:
            scored = [(st, gated(adjusted_scores(s, c, prior, n0, memory), c, classes)) for st, s, c in streamed]
            if not any_normal_above(scored, validation):
                break
            candidates.append({**point_of_scores(scored, validation, target, debounces, max_delay),
                               "prior_windows": int(n0)})
        else:
            point = min(candidates, key=rank)
            tried.append({"classes": sorted(classes), "detected": point["detected"],
                          "false_alerts_per_hour": point["false_alerts_per_hour"],
                          "median_delay_s": point["median_delay_s"]})
            key = set_rank(classes, point)
            if chosen is None or key < chosen[0]:
                chosen = (key, tuple(sorted(classes)), point)
    return None if chosen is None else (chosen[1], chosen[2], tried)


def any_normal_above(scored: Sequence[tuple], validation: Streams) -> bool:
    """Whether any normal validation window can be above a threshold (a gate scores the others -inf): without one,
    no threshold can be fitted."""
    return any(np.isfinite(a[am.window_fraction_held_out(st, validation.window, lab == HELD_OUT) == 0]).any()
               for (st, a), lab in zip(scored, validation.labels, strict=True))
