"""How an alert operating point fitted on the validation people holds on people it was not fitted on.

The exporter's own fit is repeated on half of the validation people and counted on the other half, both ways, and
the two halves' counts are added (the people sorted, every other one in each half). A point fitted at no false
alert on under an hour of a few people's time says little about unseen wearers: on HAPT, points fitted at 0 false
alerts/h on seven validation people read 0 to 9.5/h on the test people (results/hapt-bundles.md, thirtieth round,
AE). The cross-check shows that optimism at export, from the validation people alone, without touching test data.
It does not predict a given bundle's test figures: each half's fit has half the people and hours, so its count is
noisy (on three HAPT seeds it did not rank their test false-alert rates). The figures go into the manifest beside
the point (`cross_check`, the fp32 point), with a warning when out of sample the fit misses its false-alert target
or catches few held-out segments. The point shipped is still the one fitted on all the validation people.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ssvae_edge import alert_metrics as am
from ssvae_edge.alert_gate import gated
from ssvae_edge.alerts import DEFAULT_CLEAR_K
from ssvae_edge.wearer_baseline import adjusted_scores
from ssvae_train.errors import UserError
from ssvae_train.export.alert_point import DEBOUNCES, HELD_OUT, RECALL_FLOOR, Streams, point_of_scores, rank
from ssvae_train.names import ALERT_DEBOUNCE

WHAT = ("the exporter's fit repeated on half of the validation people (sorted, every other one) and counted on "
        "the other half, both ways, the halves' counts added; the shipped point is the one fitted on all of them")

# fit(idx) -> (point, scored): the point fitted on the streams `idx`, and (window starts, scores) of every
# stream as that point reads them (its prior weight, its gate); None when nothing can be fitted there
HalfFit = Callable[[list[int]], tuple[dict, list[tuple[np.ndarray, np.ndarray]]] | None]


def people_halves(groups: Sequence[str]) -> tuple[list[int], list[int]] | None:
    """The stream indices of the two halves of the people (sorted, alternately), or None with under 2 people."""
    order = sorted(set(groups))
    if len(order) < 2:
        return None
    half = [{p for j, p in enumerate(order) if j % 2 == h} for h in (0, 1)]
    first, second = ([i for i, g in enumerate(groups) if g in half[h]] for h in (0, 1))
    return first, second


def cross_check(streams: Streams, fit: HalfFit, target: float) -> dict | str:
    """The point of `fit` fitted on each half of the people and counted on the other, added; or why none was made
    (the streams do not say whose they are, hold under 2 people, or a half gives no point)."""
    if not streams.groups:
        return "the validation streams do not say whose they are"
    halves = people_halves(streams.groups)
    if halves is None:
        return "the validation streams hold one person"
    results, people = [], []
    for fit_idx, count_idx in (halves, halves[::-1]):
        fitted = fit(fit_idx)
        if fitted is None:
            return "no point could be fitted on one half of the validation people"
        point, scored = fitted
        people.append(sorted({streams.groups[i] for i in fit_idx}))
        for i in count_idx:
            starts, s = scored[i]
            alerts = am.debounce(s > point["threshold"], point["k"], point["m"], DEFAULT_CLEAR_K)
            results.append(am.match_alerts(am.segments(list(streams.labels[i])), starts, alerts, streams.window,
                                           HELD_OUT, streams.rate_hz, streams.unlabelled))
    r = am.combine(results, streams.rate_hz)
    out = {"fitted_on": people, "detected": r["detected"], "held_out_segments": r["held_out_segments"],
           "false_alerts": r["false_alerts"], "normal_hours": r["normal_hours"],
           "false_alerts_per_hour": r["false_alerts_per_hour"], "median_delay_s": r["delay_seconds_median"],
           "unlabelled_raises": r.get("unlabelled_raises"), "target_false_alerts_per_hour": target, "what": WHAT}
    return {**out, "warnings": warnings(out)}


def warnings(check: dict) -> list[str]:
    """What the cross-check says a person must know: the point misses its target or catches few segments."""
    said = "the same fit made on half of the validation people and counted on the other half"
    out = []
    if check["held_out_segments"] and check["detected"] / check["held_out_segments"] < RECALL_FLOOR:
        out.append(f"{said} catches {check['detected']}/{check['held_out_segments']} held-out segments (below "
                   f"{RECALL_FLOOR:.0%}): on unseen people this point may catch fewer than on the validation people")
    fph = check["false_alerts_per_hour"]
    if fph is not None and fph > check["target_false_alerts_per_hour"]:
        out.append(f"{said} gives {check['false_alerts']} false alerts in {check['normal_hours']:.2f} h "
                   f"({fph:.2f}/h), above the target {check['target_false_alerts_per_hour']:g}: on unseen people this "
                   "point may give more than its validation figure")
    return out


def with_cross_check(section, fit: HalfFit, streams: Streams, target: float, say=None):
    """A wearer-baseline section with the cross-check of the point the stream alerts at (its `gate`'s when it has
    one, else its own), the check's warnings added to that point's; `say` hears why when none could be made."""
    check = cross_check(streams, fit, target)
    if isinstance(check, str):
        if say is not None:
            say(f"alert cross-check: not made ({check})")
        return section
    point = section.gate if section.gate is not None else section
    point = replace(point, cross_check=check, warnings=(*(point.warnings or ()), *check["warnings"]) or None)
    return replace(section, gate=point) if section.gate is not None else point


DEBOUNCE_RULE = ("each debounce judged by the cross-check of the whole fit restricted to it (made on half of the "
                 "validation people, counted on the other half, both ways): of those catching at least 90 % there, "
                 "the fewest false alerts (ties: more caught, shorter delay, larger k), else the most caught (ties: "
                 "fewer false alerts, shorter delay, larger k); the "
                 "point it was judged on (the gate's where a gate can be fitted) then fitted on all the validation "
                 "people at it. Its cross-check took part in the choice")
CHECK_KEYS = ("detected", "held_out_segments", "false_alerts", "normal_hours", "false_alerts_per_hour",
              "median_delay_s")


def choose_debounce(streams: Streams, fit_at: Callable[[tuple], HalfFit], target: float,
                    max_delay: float | None = None) -> dict:
    """The debounce judged out of sample (`ssvae-export --alert-debounce cross-checked`): each of `DEBOUNCES` gets
    the cross-check of `fit_at((debounce,))`; among those catching `RECALL_FLOOR` of the held-out segments out of
    sample, the one with the fewest false alerts there (ties: more caught, shorter delay, larger k), else the one
    catching the most (ties: fewer false alerts, shorter delay, larger k). Returns the manifest's `debounce_choice`
    (`rule`, `chosen` [k, m], every debounce's figures); UserError when a debounce cannot be judged (fewer than two
    validation people, streams that do not say whose they are, or a half that gives no point). Chosen on the hours
    that then check it, so the chosen point's cross-check is no longer unbiased. `max_delay` (`--alert-max-delay`):
    of those catching `RECALL_FLOOR`, the ones within that median delay out of sample are taken first."""
    checks = []
    for debounce in DEBOUNCES:
        check = cross_check(streams, fit_at((debounce,)), target)
        if isinstance(check, str):
            raise UserError(f"--alert-debounce cross-checked: {check}")
        checks.append({"k": debounce[0], "m": debounce[1], **{key: check[key] for key in CHECK_KEYS}})
    floor = [c for c in checks if c["held_out_segments"] and c["detected"] / c["held_out_segments"] >= RECALL_FLOOR]

    def delay(c: dict) -> float:
        return c["median_delay_s"] if c["median_delay_s"] is not None else np.inf

    floor = [c for c in floor if max_delay is None or delay(c) <= max_delay] or floor

    best = (min(floor, key=lambda c: (c["false_alerts"], -c["detected"], delay(c), -c["k"])) if floor
            else min(checks, key=lambda c: (-c["detected"], c["false_alerts"], delay(c), -c["k"])))
    rule = DEBOUNCE_RULE + ("" if max_delay is None else
                            f"; of those catching {RECALL_FLOOR:.0%}, the ones within the median delay asked "
                            f"({max_delay:g} s) there first")
    return {"rule": rule, "chosen": [best["k"], best["m"]], "debounces": checks}


def debounce_rule_of(manifest) -> str:
    """The `--alert-debounce` a bundle's wearer section was fitted with (a tool refitting it keeps the rule)."""
    wb = manifest.wearer_baseline
    return ALERT_DEBOUNCE[1] if wb is not None and wb.debounce_choice is not None else ALERT_DEBOUNCE[0]


def wearer_fit(streamed: Sequence[tuple], validation: Streams, target: float, prior: dict[str, float], memory: int,
               prior_windows: Sequence[int], gate: Callable | None = None,
               debounces: tuple = DEBOUNCES, max_delay: float | None = None) -> HalfFit:
    """The wearer-baseline point's fit (per prior weight the exporter's rule, the best by `rank`) as a `HalfFit`,
    every one of `debounces` tried as on all the people (a half may hold no held-out segment). `gate(streamed_half,
    streams_half, debounces)` -> (classes, point, ...) or None replaces it by the gate's choice (`choose_gate`, which
    carries its own `max_delay`). `max_delay`: as `point_of_scores`'s."""
    adjusted: dict[int, list[np.ndarray]] = {}  # per prior weight, every stream's: both halves read them

    def scored_at(n0: int, classes: Sequence[str] | None) -> list[tuple[np.ndarray, np.ndarray]]:
        if n0 not in adjusted:
            adjusted[n0] = [adjusted_scores(s, c, prior, n0, memory) for _, s, c in streamed]
        return [(st, a if classes is None else gated(a, c, classes))
                for (st, _, c), a in zip(streamed, adjusted[n0], strict=True)]

    def fit(idx: list[int]):
        half = validation.subset(idx)
        if gate is not None:
            chosen = gate([streamed[i] for i in idx], half, debounces)
            if chosen is None:
                return None
            classes, point = chosen[:2]
            return point, scored_at(point["prior_windows"], classes)
        points = []
        for n0 in prior_windows:
            scored = scored_at(n0, None)
            points.append(({**point_of_scores([scored[i] for i in idx], half, target, debounces, max_delay),
                            "prior_windows": n0}, scored))
        return min(points, key=lambda p: rank(p[0]))
    return fit
