"""What `ssvae-edge info` shows of a loaded bundle: the JSON summary a tool reads, and the rows of the table a
person reads at a terminal (every optional manifest section in one line of words)."""

from __future__ import annotations

import json
from typing import Any

import onnxruntime as ort

from ssvae_edge.bundle import Bundle
from ssvae_edge.posture import per_window


def bundle_summary(b: Bundle, precision: str) -> dict[str, Any]:
    """The manifest's summary, every graph file with its verified sha256, the running graphs' inputs and outputs,
    and the providers used."""
    m = b.manifest
    return {
        "bundle": str(b.path), "format": m.format, "precision": precision,
        "graphs": {g: {"file": b.graph_file(g), "precision": b.precisions[g],
                       "sha256": m.graph_set(b.precisions[g])[g].sha256, "verified": True,
                       **b.io()[g]} for g in b.graphs},
        "files": [{"graph": g, "precision": prec, "file": e.file, "sha256": e.sha256, "verified": True,
                   "bytes": (b.path / e.file).stat().st_size}
                  for prec in ("fp32", "int8") for g, e in m.graph_set(prec).items()],
        "threshold_int8": m.threshold_int8,
        "classes": list(m.classes), "sample_shape": list(m.sample_shape), "units": m.units,
        "channels": list(m.channels) if m.channels else None, "sample_rate_hz": m.sample_rate_hz,
        "window": m.window, "hop": m.hop, "latent_dim": m.latent_dim, "threshold": m.threshold,
        **{k: v.to_json() if v is not None else None
           for k, v in (("threshold_calibration", m.threshold_calibration), ("alert", m.alert),
                        ("score", m.score))},
        "opset": m.opset, "producer": m.producer.to_json() if m.producer else None,
        "providers": b.providers, "provider_note": b.provider_note,
        "onnxruntime": ort.__version__,
    }


def summary_rows(b: Bundle, data: dict[str, Any]) -> list[tuple[str, str]]:
    """`bundle_summary` as (name, words) rows for a terminal."""
    m = b.manifest
    rows = [("bundle", data["bundle"]), ("format", str(m.format))]
    for g, d in data["graphs"].items():
        io = f"{'; '.join(d['inputs'])} -> {'; '.join(d['outputs'])}"
        rows.append((g, f"{d['file']} ({d['precision']}, sha256 ok)  {io}"))
    files = ", ".join(f"{f['file']} ({f['bytes'] / 1024:.0f} KiB)" for f in data["files"])
    rows.append(("files", f"{files}: every sha256 ok"))
    rows.append(("classes", f"{len(m.classes)}: {', '.join(m.classes)}"))
    rows.append(("sample", f"{list(m.sample_shape)} float32" + (f", units {m.units}" if m.units else "")))
    if m.channels:
        rows.append(("channels", f"{len(m.channels)}: {', '.join(m.channels)}"))
        rate = f"{m.sample_rate_hz:g} Hz, " if m.sample_rate_hz else ""
        secs = f" ({m.window / m.sample_rate_hz:g} s)" if m.sample_rate_hz and m.window else ""
        rows.append(("stream", f"{rate}window {m.window}{secs}, hop {m.hop}"))
    if m.latent_dim:
        rows.append(("latent_dim", str(m.latent_dim)))
    if m.threshold is not None:
        cal = data["threshold_calibration"]
        rows.append(("threshold", f"{m.threshold:g}" + (f"  {json.dumps(cal)}" if cal else "")))
    if m.alert_debounce is not None:
        k, mm, clear = m.alert_debounce
        a, fph = data["alert"], data["alert"].get("expected_false_alerts_per_hour")
        rate, upper = a.get("window_detection_rate"), a.get("false_alerts_per_hour_upper95")
        rows.append(("alert", f"raise on {k} of the last {mm} windows above the threshold, clear below {clear}"
                     + (f"; calibrated: {fph:.2g} false alerts/h" if fph is not None else "")
                     + (f" (95% upper bound {upper:.3g}/h)" if upper is not None else "")
                     + (f", {rate:.0%} of held-out windows above the threshold" if rate is not None else "")))
    if m.threshold_int8 is not None:
        rows.append(("threshold int8", f"{m.threshold_int8:g}  (the int8 anomaly graph's own)"))
    wb = m.wearer_baseline
    if wb is not None:
        point = "this point with --no-alert-gate: " if wb.gate is not None else ""
        rows.append(("wearer baseline", f"on: alerts on the score minus the wearer's running baseline of the class "
                     f"({point}prior weight {wb.prior_windows} windows), raise on {wb.k} of the last {wb.m} above "
                     f"{wb.threshold:g}" + (f" (int8 {wb.threshold_int8:g})" if wb.threshold_int8 is not None
                                            else "")
                     + (f"; calibrated: {wb.false_alerts_per_hour:.2g} false alerts/h" if wb.false_alerts_per_hour
                        is not None else "")
                     + (f" (95% upper bound {wb.false_alerts_per_hour_upper95:.3g}/h)"
                        if wb.false_alerts_per_hour_upper95 is not None else "")
                     + cross_checked(wb.cross_check, _applied(wb, "wearer_baseline"))
                     + "; the plain point above with --no-wearer-baseline"))
        g = wb.gate
        if g is not None:
            rows.append(("alert gate", f"on: only windows called {', '.join(g.classes)} can raise (prior weight "
                         f"{g.prior_windows}), raise on {g.k} of the last {g.m} above {g.threshold:g}"
                         + (f" (int8 {g.threshold_int8:g})" if g.threshold_int8 is not None else "")
                         + (f"; calibrated: {g.detected}/{g.held_out_segments} held-out segments at "
                            f"{g.false_alerts_per_hour:.2g} false alerts/h" if g.false_alerts_per_hour is not None
                            and g.detected is not None else "")
                         + cross_checked(g.cross_check, _applied(wb, "gate"))
                         + "; the wearer baseline's point above with --no-alert-gate"))
    if m.posture is not None:
        p, v = m.posture, m.posture.validation or {}
        gate = (f"; no window whose acceleration varies by more than {p.max_motion_sd:g} g is "
                f"{'/'.join(p.still_classes)}" if p.max_motion_sd is not None else "")
        shipped = v.get("on_with_motion_gate" if p.max_motion_sd is not None else "on")
        measured = (f" (validation accuracy {v['off']:.4f} without, {shipped:.4f} with)"
                    if "off" in v and shipped is not None else "")
        sway = {"window+gravity+log_sd": " and how much the body sways",
                "long-axis+sway": " along the phone's long axis and how much the body sways, whatever the "
                                  "phone's turn about that axis"}.get(per_window(p.features), "")
        if p.context_windows:
            sway += f", over the last {p.context_windows} windows too"
        rows.append(("posture", f"{p.classes[0]} or {p.classes[1]}: decided by a linear model of where gravity "
                     f"points{sway}{gate}{measured}; --no-posture turns it off"))
    if m.refit:
        taken = ", ".join(m.refit.taken_verbatim or ()) or "no decoding section"
        rows.append(("refit", f"graphs trained on every training person (no validation rows); {taken} from "
                     f"{m.refit.choices_from}, chosen there on its validation people; the alert's figures are "
                     "optimistic (measured on people these graphs trained on)"))
    if m.ensemble:
        seeds = ", ".join(str(member.seed) for member in m.ensemble.members)
        rows.append(("ensemble", f"{len(m.ensemble.members)} runs of one recipe on the same rows (seeds {seeds}): "
                     "the classifier averages their class probabilities, the anomaly graph their scores (each "
                     "window costs that many models); the decoder is the first run's"))
    if m.frame:
        rows.append(("frame", f"{m.frame.name}: the graphs turn each window about its x axis until the mean of "
                     f"{'/'.join(m.frame.by[1:])} points along +y (feed windows as worn; generated windows are drawn "
                     "in that frame)"))
    if m.opset:
        rows.append(("opset", str(m.opset)))
    if data["producer"]:
        rows.append(("producer", json.dumps(data["producer"])))
    rows.append(("providers", f"{', '.join(b.providers)}  ({b.provider_note})"))
    return rows


def _applied(wb, point: str) -> bool:
    """Whether `--alert-debounce cross-checked` chose this point's debounce (`debounce_choice.applied_to`)."""
    return (wb.debounce_choice or {}).get("applied_to") == point


def cross_checked(check, debounce_chosen_on_it: bool = False) -> str:
    """The `cross_check` of an alert point in a few words: how the same fit did on validation people it was not
    fitted on (what a device may expect on new wearers better than the in-sample figure), and whether its debounce
    was chosen on those same halves (`debounce_choice`), which makes it optimistic too."""
    if not check or check.get("false_alerts_per_hour") is None:
        return ""
    return (f"; fitted on half the validation people, on the other half: {check['detected']}/"
            f"{check['held_out_segments']} at {check['false_alerts_per_hour']:.2g} false alerts/h"
            + (" (its debounce was chosen on these halves)" if debounce_chosen_on_it else ""))

