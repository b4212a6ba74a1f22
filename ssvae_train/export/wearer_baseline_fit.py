"""Fit a sensor bundle's alert operating point on the wearer-adjusted score (`ssvae_edge.wearer_baseline`), and
keep it only where it beats the plain score's point on validation people.

Inputs are recordings, never test: the training people's (each class's prior = the median score of their windows
of that class, as the runtime classes them, leaving out those touching the held-out activity) and the validation
people's, with the held-out activity's segments (`alert_point`'s calibration streams), each streamed whole by
`StreamScorer`. Per prior weight in `PRIOR_WINDOWS` the point is fitted on the adjusted scores by the exporter's
rule (`alert_point.point_of_scores`: per debounce the lowest threshold meeting the target, then the debounce
detecting most; or one debounce judged out of sample, `--alert-debounce cross-checked`); the best (`rank`) is
kept when it detects more held-out segments than the plain score's point fitted the same way.

With a held-out activity, the point is also fitted with the alert gate (`ssvae_edge.alert_gate`; results/hapt-
bundles.md, W, AA): only windows of the classes `alert_gate_choice` chooses on the validation people can be above
the threshold. The gated point is written beside the ungated one (`gate`; a runtime that does not know it keeps the
ungated point) when it detects at least as many held-out validation segments; the section is written when the point
the runtime alerts at beats the plain score's and the ungated point is no worse. With a median delay asked
(`--alert-max-delay`), "more" and "at least as many" weigh the delay first (`alert_point.standing`). The point used
also gets its cross-check (`alert_cross_check`): the same fit on half of the validation people, counted on the other
half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ssvae_edge import alert_metrics as am
from ssvae_edge.alert_gate import gated
from ssvae_edge.bundle import Bundle
from ssvae_edge.contract import Manifest
from ssvae_edge.recalibrate import write_copy
from ssvae_edge.sections import AlertGate, WearerBaselineSection
from ssvae_edge.stream import StreamScorer
from ssvae_edge.wearer_baseline import adjusted_scores
from ssvae_train.data.prepared import Prepared
from ssvae_train.export.alert_cross_check import choose_debounce, wearer_fit, with_cross_check
from ssvae_train.export.alert_gate_choice import GATE_RULE, GATE_SHARE, any_normal_above, choose_gate, held_out_share
from ssvae_train.export.alert_point import (
    DEBOUNCES,
    DELAY_RULE,
    Streams,
    point_of_scores,
    rank,
    standing,
    training_recordings,
)
from ssvae_train.names import ALERT_DEBOUNCE

MEMORY_SECONDS = 3600.0  # the baseline's memory: about the last hour of each class (longer than any recording here)
PRIOR_WINDOWS = (5, 20)  # how many windows a class's prior counts as: the wearer takes over within a minute or so
RULE = ("per prior weight, the exporter's alert rule on the adjusted scores of the validation people's recordings; "
        "the best (most held-out segments, then shorter delay, then larger k) is kept only when it (or its gate, "
        "below) detects more held-out segments than the plain score's point fitted the same way on the same "
        "recordings, and it detects no fewer")


def stream_whole(bundle: Bundle, x: np.ndarray, hop: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(window starts, scores, event classes) of one recording streamed whole by the runtime (no baseline); the
    scores as the events give them, which is what the runtime's baseline adds up."""
    scorer = StreamScorer(bundle, hop=hop, wearer_baseline=False)
    events = scorer.feed(x)
    return (np.array([e["start"] for e in events], np.int64), np.array([e["score"] for e in events], np.float64),
            [e["class"] for e in events])


def class_priors(bundle: Bundle, recordings: Sequence[np.ndarray], hop: int,
                 labels: Sequence[np.ndarray] | None = None, held_out: str | None = None,
                 streamed: Sequence[tuple] | None = None) -> dict[str, float]:
    """Each class's median score over the training people's windows the runtime gives that class, leaving out
    those that touch a segment labelled `held_out` (a class no window got: the median of all windows).
    `streamed`: the recordings' `stream_whole`, when already computed."""
    scores, classes = [], []
    for i, x in enumerate(recordings):
        starts, s, c = streamed[i] if streamed is not None else stream_whole(bundle, x, hop)
        keep = np.ones(len(s), bool)
        if labels is not None and held_out is not None:
            keep = am.window_fraction_held_out(starts, bundle.window, labels[i][: len(x)] == held_out) == 0
        scores.append(s[keep])
        classes.append(np.asarray(c, dtype=object)[keep])
    score, cls = np.concatenate(scores), np.concatenate(classes)
    return {c: float(np.median(score[cls == c])) if (cls == c).any() else float(np.median(score))
            for c in bundle.classes}


def fit_gate(bundle_dir: str | Path, b: Bundle, streamed: Sequence[tuple], validation: Streams, target: float,
             prior: dict[str, float], memory: int, share: dict[str, float],
             prior_windows: Sequence[int] = PRIOR_WINDOWS, debounces: tuple | None = None,
             max_delay: float | None = None) -> AlertGate | None:
    """The gated point of `choose_gate` as the manifest's section, with its int8 threshold; None without one."""
    chosen = choose_gate(streamed, validation, target, prior, memory, share, prior_windows, debounces, max_delay)
    if chosen is None:
        return None
    gate, best, tried = chosen
    threshold_int8 = int8_threshold(bundle_dir, b.manifest, prior, best["prior_windows"], memory,
                                    (best["k"], best["m"]), validation, target, gate)
    return AlertGate(
        classes=gate, prior_windows=best["prior_windows"], k=best["k"], m=best["m"], clear_k=best["clear_k"],
        threshold=best["threshold"], threshold_int8=threshold_int8, target_false_alerts_per_hour=target,
        false_alerts_per_hour=best["false_alerts_per_hour"],
        false_alerts_per_hour_upper95=best["false_alerts_per_hour_upper95"], detected=best["detected"],
        held_out_segments=best["held_out_segments"], median_delay_s=best["median_delay_s"],
        unlabelled_raises=best.get("unlabelled_raises"), held_out_share=share, min_share=GATE_SHARE,
        rule=GATE_RULE + (DELAY_RULE if max_delay is not None else ""),
        warnings=tuple(best["warnings"]) or None, sets_tried=tuple(tried), target_median_delay_s=max_delay)


def fit(bundle_dir: str | Path, training: Sequence[np.ndarray], validation: Streams, target: float,
        training_labels: Sequence[np.ndarray] | None = None, held_out: str | None = None,
        prior_windows: Sequence[int] = PRIOR_WINDOWS, say=None,
        debounce_rule: str = ALERT_DEBOUNCE[0], max_delay: float | None = None) -> tuple[WearerBaselineSection, bool]:
    """The best wearer-baseline point on the validation streams, and whether the section is to be written (`written`).
    `training_labels`/`held_out`: the training recordings' labels, so the priors leave the held-out class out, and
    the alert gate is fitted (attached where it catches at least as many validation segments as the ungated point;
    `say` hears about a gate left out). `debounce_rule`: `--alert-debounce` (`alert_cross_check.choose_debounce`).
    `max_delay`: `--alert-max-delay` (`alert_point.rank`), for every point fitted here and in the cross-check."""
    b = Bundle.load(bundle_dir, providers="cpu", threads=1)
    if not (b.has("classifier") and b.has("anomaly")):
        raise ValueError(f"{bundle_dir}: a wearer baseline needs the classifier and the anomaly graph")
    hop = validation.hop
    memory = max(1, round(MEMORY_SECONDS * validation.rate_hz / hop))
    train_streamed = [stream_whole(b, x, hop) for x in training]
    prior = class_priors(b, training, hop, training_labels, held_out, train_streamed)
    streamed = [stream_whole(b, x, hop) for x in validation.x]
    plain = point_of_scores([(st, s) for st, s, _ in streamed], validation, target, max_delay=max_delay)
    share = (held_out_share(b, train_streamed, training_labels, held_out)
             if held_out is not None and training_labels is not None and validation.has_held_out else None)
    gate_of = None if not share else (  # the gate's set chosen again on each half
        lambda st, half, ds: choose_gate(st, half, target, prior, memory, share, prior_windows, ds, max_delay))
    own, gate_own, choice = None, None, None  # None: every debounce, each point choosing its own in sample
    if debounce_rule == ALERT_DEBOUNCE[1]:  # judged on the point the stream would use: the gate's where one fits
        on_gate = gate_of is not None and choose_gate(streamed, validation, target, prior, memory, share,
                                                      prior_windows, max_delay=max_delay) is not None
        fit_on = gate_of if on_gate else None
        choice = choose_debounce(validation, lambda ds: wearer_fit(streamed, validation, target, prior, memory,
                                                                   prior_windows, fit_on, ds, max_delay),
                                 target, max_delay)
        gate_own, own = ((tuple(choice["chosen"]),), None) if on_gate else (None, (tuple(choice["chosen"]),))
    candidates = []
    for n0 in prior_windows:
        scored = [(st, adjusted_scores(s, c, prior, n0, memory)) for st, s, c in streamed]
        candidates.append({**point_of_scores(scored, validation, target, own, max_delay), "prior_windows": int(n0)})
    best = min(candidates, key=rank)
    threshold_int8 = int8_threshold(bundle_dir, b.manifest, prior, best["prior_windows"], memory,
                                    (best["k"], best["m"]), validation, target)
    keys = ("k", "m", "threshold", "false_alerts_per_hour", "detected", "held_out_segments", "median_delay_s")
    section = WearerBaselineSection(
        prior=prior, prior_windows=best["prior_windows"], k=best["k"], m=best["m"], clear_k=best["clear_k"],
        threshold=best["threshold"], threshold_int8=threshold_int8, target_false_alerts_per_hour=target,
        false_alerts_per_hour=best["false_alerts_per_hour"], detected=best["detected"],
        held_out_segments=best["held_out_segments"], median_delay_s=best["median_delay_s"],
        unlabelled_raises=best.get("unlabelled_raises"),
        plain_score={key: plain[key] for key in keys},
        candidates=tuple({"prior_windows": c["prior_windows"], **{key: c[key] for key in keys}} for c in candidates),
        fitted_on={"validation": validation.sources, "training_recordings": len(training),
                   "held_out_left_out_of_priors": held_out, "hop": hop},
        rule=RULE + (DELAY_RULE if max_delay is not None else ""), warnings=tuple(best["warnings"]) or None,
        memory_windows=memory, false_alerts_per_hour_upper95=best["false_alerts_per_hour_upper95"],
        target_median_delay_s=max_delay)
    used = standing(best)  # the point alerts use: the gate's where it is kept
    if share is not None:
        gate = fit_gate(bundle_dir, b, streamed, validation, target, prior, memory, share, prior_windows, gate_own,
                        max_delay)
        if gate is not None and standing(vars(gate)) >= used:
            section = replace(section, gate=replace(gate, ungated={key: best[key] for key in keys}))
            used = standing(vars(gate))
        elif gate is not None and say is not None:
            say(f"alert gate ({', '.join(gate.classes)}): {gate.detected}/{gate.held_out_segments} validation "
                f"segments (median delay {gate.median_delay_s} s), below the ungated point's {best['detected']} "
                f"({best['median_delay_s']} s): left out")
    if choice is not None:  # the gate it was judged on may be left out: then no point alerts at it
        applied = ("gate" if section.gate else "none") if on_gate else "wearer_baseline"
        section = replace(section, debounce_choice={**choice, "applied_to": applied})
        if applied == "none" and say is not None:
            say("--alert-debounce cross-checked: the gate it was judged on was left out; no point uses its debounce")
    check = wearer_fit(streamed, validation, target, prior, memory, prior_windows, gate_of if section.gate else None,
                       (gate_own if section.gate else own) or DEBOUNCES, max_delay)
    section = with_cross_check(section, check, validation, target, say)
    return section, written(used, standing(best), standing(plain))


def written(used: tuple | int, ungated: tuple | int, plain: tuple | int) -> bool:
    """Whether the wearer section goes into the manifest: the point the runtime alerts at (the gate's, else the
    ungated one) stands above the plain score's, and the ungated point no lower (`alert_point.standing`: the
    delay asked met, then validation segments caught)."""
    return used > plain and ungated >= plain


def int8_threshold(bundle_dir: str | Path, manifest: Manifest, prior: dict[str, float], prior_windows: int,
                   memory: int | None, debounce: tuple[int, int], validation: Streams, target: float,
                   gate: Sequence[str] | None = None) -> float | None:
    """The int8 anomaly graph's own threshold on the adjusted score, at the fp32 point's debounce and prior
    (the exporter's rule on the same validation streams; with `gate`, only its classes' windows can be above);
    None without an int8 anomaly graph."""
    if "anomaly" not in manifest.graph_set("int8"):
        return None
    b8 = Bundle.load(bundle_dir, providers="cpu", threads=1, precision="int8")
    scored = [(st, adjusted_scores(s, c, prior, prior_windows, memory) if gate is None
               else gated(adjusted_scores(s, c, prior, prior_windows, memory), c, gate))
              for st, s, c in (stream_whole(b8, x, validation.hop) for x in validation.x)]
    if not any_normal_above(scored, validation):
        return None  # the int8 graphs call no normal window one of the gate's classes: nothing to fit on
    return point_of_scores(scored, validation, target, (debounce,))["threshold"]


def add_to_staged(tmp: Path, prep: Prepared, streams: Streams | None, target: float | None, say,
                  debounce_rule: str = ALERT_DEBOUNCE[0], max_delay: float | None = None) -> dict | None:
    """The exporter's step: for a finished bundle in `tmp` whose alert point was fitted on the validation people's
    whole recordings with a held-out class, weigh the wearer baseline against the plain score there and write it
    into the manifest when it wins. Returns the new manifest, or None."""
    if streams is None or target is None or streams.unlabelled is None or not streams.has_held_out:
        return None
    b = Bundle.load(tmp, providers="cpu", threads=1)
    recs = training_recordings(prep)
    if not recs or b.manifest.alert is None or not b.has("classifier"):  # the baseline is per class
        return None
    section, wins = fit(tmp, [r.x for r in recs], streams, target, [r.labels for r in recs],
                        prep.ds.extra.get("excluded_name"), say=say, debounce_rule=debounce_rule,
                        max_delay=max_delay)
    say(f"wearer baseline: {section.detected}/{section.held_out_segments} validation segments at "
        f"{section.false_alerts_per_hour:.2f} false alerts/h (prior weight {section.prior_windows}), the plain score "
        f"{section.plain_score['detected']}/{section.plain_score['held_out_segments']}: {'on' if wins else 'off'}")
    g = section.gate
    if g is not None:
        say(f"alert gate ({', '.join(g.classes)}): {g.detected}/{g.held_out_segments} validation segments at "
            f"{g.false_alerts_per_hour:.2f} false alerts/h (prior weight {g.prior_windows})"
            + ("" if wins else ", not written"))
    if not wins:
        return None
    new = with_section(b.manifest, section)
    new.write(tmp)
    return new.to_json()


def write_with_baseline(bundle_dir: str | Path, out: str | Path, section: WearerBaselineSection) -> None:
    """A copy of the bundle whose manifest's `alert` holds `section` (graphs unchanged)."""
    m = Bundle.load(bundle_dir, providers="cpu", threads=1).manifest
    if m.alert is None:
        raise ValueError(f"{bundle_dir}: no alert operating point to add a wearer baseline to")
    write_copy(Path(bundle_dir), Path(out), with_section(m, section))


def with_section(manifest: Manifest, section: WearerBaselineSection) -> Manifest:
    """The manifest with `section` as its `alert.wearer_baseline`, checked."""
    return replace(manifest, alert=replace(manifest.alert, wearer_baseline=section)).checked()
