"""What a manifest says about its graphs beyond the contract's minimum: the test metrics (onnxruntime beside
PyTorch), the anomaly score (`score`: method, parts, fitted constants), and the alert operating point
(`alert`, with the threshold placed on it). `exporter.py` computes the numbers' inputs and writes them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import torch

from ssvae_edge.contract import file_sha256
from ssvae_edge.sections import (
    Alert,
    AlertCandidate,
    Frame,
    GraphEntry,
    Producer,
    Quantization,
    Score,
    ThresholdCalibration,
    Validation,
)
from ssvae_train import __version__
from ssvae_train.data.prepared import Prepared
from ssvae_train.export import alert_point as AP
from ssvae_train.export import graphs as G
from ssvae_train.export.loading import Loaded
from ssvae_train.names import CANONICAL_TURN
from ssvae_train.scoring import scores as S
from ssvae_train.scoring.inference import classification_metrics, predict
from ssvae_train.training.checkpoint import weights_epoch
from ssvae_train.training.evaluate import anomaly_metrics
from ssvae_train.training.progress import Progress


def producer(loaded: Loaded, meta: dict, metrics: dict) -> Producer:
    """The manifest's `producer`: versions, the exporter, the run (and its checkpoint's sha256), the data and
    training settings, and the test metrics measured at export."""
    cfg, mcfg, ckpt = loaded.cfg, loaded.model.cfg, loaded.ckpt
    return Producer(
        ssvae=__version__, torch=str(torch.__version__), onnx=onnx.__version__,
        onnxruntime=ort.__version__, exporter=G.EXPORTER, exporter_call=G.EXPORTER_DESCRIPTION,
        exporter_reason=G.EXPORTER_REASON, run=str(loaded.run),
        checkpoint_sha256=file_sha256(loaded.checkpoint_path), dataset=cfg.dataset, labels=cfg.labels,
        n_labelled=int(meta["n_labelled"]), seed=cfg.seed,
        split_seed=cfg.data_seed if cfg.data_seed != cfg.seed else None, val_fraction=cfg.val_fraction,
        val_split=cfg.val_split, arch=cfg.arch, model=cfg.model, objective=cfg.objective,
        latent_dim=mcfg.latent_dim, hidden=mcfg.hidden, epochs=int(ckpt["epoch"]),
        weights=loaded.weights, weights_epoch=weights_epoch(ckpt, loaded.weights),
        weight_ema=cfg.weight_ema or None,
        excluded_class=meta["excluded_class"], excluded_class_name=meta["excluded_name"],
        held_out_windows=cfg.held_out_windows if cfg.exclude_class is not None else None,
        transitions=True if cfg.transitions else None,
        data_counts=meta["counts"],  # rows/windows kept, unlabelled and skipped (no row dropped silently)
        metrics=metrics,
    )


def frame(model, channels: list[str] | None) -> Frame | None:
    """The `frame` section of a model that turns its windows (`--frame`); None for one that reads them as worn."""
    turner = getattr(model, "m1", model)  # M1+M2: M1 reads the windows, so its frame is the graphs'
    triples = getattr(getattr(turner, "cfg", None), "frame_triples", ())
    if not triples or not channels:
        return None
    return Frame(name=CANONICAL_TURN, by=tuple(channels[i] for i in triples[0]),
                 turned=tuple(channels[i] for _, j, k in triples for i in (j, k)),
                 what="each window is turned about the x axis until the mean of `by`'s y/z points along +y, inside "
                      "the graphs: the classifier and anomaly graphs take windows as worn; decoder.onnx draws "
                      "windows in the turned frame")


def validation(n: int, n_reference: int, export_batch: int, alt_len: int | None, checks: dict) -> Validation:
    """The manifest's `validation`: what each graph was checked against, on what, within which tolerance."""
    return Validation(
        checker="onnx.checker.check_model(full_check=True)", samples=n, reference_samples=n_reference,
        export_batch=export_batch, other_window_length=alt_len,
        tolerance={"probs_max_abs_diff": G.PROB_ATOL, "score_x_hat_relative_diff": G.REL_TOL},
        relative_diff="max |onnx - reference| / max |reference|", graphs=checks,
    )


def at_operating_point(sess, prep: Prepared, alert: dict, calibration: dict) -> tuple[float, dict]:
    """The operating point's threshold, and the quantile of the validation rows it sits at (contract keys)."""
    val = G.run_batched(sess, {"x": prep.ds.x_train[prep.split.val]})
    t = float(alert["threshold"])
    return t, {**calibration, "quantile": float(np.mean(val <= t)), "false_alarm_rate": float(np.mean(val > t)),
               "method": "alert operating point (manifest 'alert'): calibration streams, not a fixed quantile",
               "expected_false_alerts_per_hour": alert["false_alerts_per_hour"],
               "window_detection_rate": alert["window_detection_rate"]}


def alert_entry(alert: dict | None) -> Alert | None:
    """The manifest's `alert`: the debounce the runtime applies by default, and what it was measured to do."""
    if alert is None:
        return None
    keep = ("k", "m", "clear_k", "threshold", "target_false_alerts_per_hour", "false_alerts_per_hour",
            "window_detection_rate", "window_false_alarm_rate", "segment_recall", "detected", "held_out_segments",
            "median_delay_s", "normal_hours", "hop", "streams", "rule")
    shown = ("k", "m", "threshold", "false_alerts_per_hour", "segment_recall", "median_delay_s",
             "window_detection_rate")
    on_recordings = "recordings" in alert["streams"]
    return Alert(
        **{k: alert[k] for k in keep}, expected_false_alerts_per_hour=alert["false_alerts_per_hour"],
        measured_on="the validation people's continuous recordings, whole (never test)" if on_recordings
        else "calibration streams of training-split windows (never test)",
        candidates=tuple(AlertCandidate(**{k: c[k] for k in shown}) for c in alert["candidates"]),
        unlabelled_raises=alert.get("unlabelled_raises"), unlabelled_hours=alert.get("unlabelled_hours"),
        warnings=tuple(alert["warnings"]) if alert.get("warnings") else None,  # only when there is one
        false_alerts_per_hour_upper95=alert.get("false_alerts_per_hour_upper95"),
        target_median_delay_s=alert.get("target_median_delay_s"),
    )


def int8_entries(int8: dict[str, dict]) -> dict[str, GraphEntry]:
    """The manifest's `graphs_int8`: each int8 graph's file, sha256, size, what was quantized, and the anomaly
    graph's own threshold."""
    out = {}
    for name, e in int8.items():
        cal = e.get("threshold_calibration")
        out[name] = GraphEntry(**{**e, "threshold_calibration": ThresholdCalibration(**cal) if cal else None})
    return out


def score_description(method: str, fit: S.ScoreFit | None, kind: str, auto: dict | None = None) -> Score:
    """The manifest's `score`: what anomaly.onnx computes, and which constants it holds (fitted how)."""
    if method == "vae":
        return Score(method="vae", parts=("vae",), default_for_kind=None)
    return Score(method=method, **fit.describe(method), default_for_kind=S.default_score(kind) == method,
                 how_default_was_chosen="scores.py DEFAULT_SCORES (validation-only selection, RESULTS.md)",
                 chosen_by="--score auto" if auto else "--score (or the kind's default)", auto=auto)


def test_metrics(models: list, method: str | None, sessions: dict, ds, bar: Progress) -> dict:
    """Test metrics of the exported graphs in onnxruntime, beside PyTorch's on the same rows: each of `models`
    ((model, fitted score constants); several for an ensemble, whose graphs average them) scored on its own,
    then averaged."""
    normal = ds.y_test >= 0
    out: dict = {"n_test": int(len(ds.y_test)), "n_test_normal": int(normal.sum())}
    batches = -(-int(normal.sum()) // 500) if "classifier" in sessions else 0
    batches += -(-len(ds.y_test) // 500) if "anomaly" in sessions and not normal.all() else 0
    bar.total = batches
    if "classifier" in sessions:
        p_ort = G.run_batched(sessions["classifier"], {"x": ds.x_test[normal]}, progress=bar.step)
        p_pt = np.mean([predict(m, ds.x_test[normal]) for m, _ in models], axis=0)
        out["test_accuracy_onnxruntime"] = classification_metrics(p_ort, ds.y_test[normal])["accuracy"]
        out["test_accuracy_pytorch"] = classification_metrics(p_pt, ds.y_test[normal])["accuracy"]
        out["test_log_loss_onnxruntime"] = classification_metrics(p_ort, ds.y_test[normal])["log_loss"]
        out["prediction_agreement"] = float(np.mean(p_ort.argmax(1) == p_pt.argmax(1)))
    if "anomaly" in sessions and not normal.all():
        s_ort = G.run_batched(sessions["anomaly"], {"x": ds.x_test}, progress=bar.step)
        parts = S.parts_of(method) if method != "vae" else []
        s_pt = np.mean([S.combine(S.part_values(m, ds.x_test, parts, f), method, f) for m, f in models], axis=0)
        out["anomaly_class"] = ds.extra.get("excluded_name")
        out["anomaly_roc_auc_onnxruntime"] = anomaly_metrics(s_ort, ~normal)["roc_auc"]
        out["anomaly_roc_auc_pytorch"] = anomaly_metrics(s_pt, ~normal)["roc_auc"]
        out["anomaly_average_precision_onnxruntime"] = anomaly_metrics(s_ort, ~normal)["average_precision"]
    return out


def int8_at_operating_point(folder, files: dict, int8: dict, quant: Quantization, prep: Prepared, alert: dict,
                            threshold32: float, streams: AP.Streams | None = None) -> Quantization:
    """The int8 anomaly graph's own threshold at the fp32 operating point's debounce and target (in `int8`,
    in place); returns `quant` with how often its alerts on test rows agree with fp32's, each at its own
    threshold."""
    streams = streams or AP.calibration_streams(prep, int(alert["hop"]))
    sess8 = G.session(folder / int8["anomaly"]["file"])
    alert8 = AP.operating_point(sess8, streams, alert["target_false_alerts_per_hour"], ((alert["k"], alert["m"]),))
    t8, cal8 = at_operating_point(sess8, prep, alert8, int8["anomaly"]["threshold_calibration"])
    int8["anomaly"].update(threshold=t8, threshold_calibration=cal8)
    x = prep.ds.x_test
    agree = G.run_batched(sess8, {"x": x}) > t8
    agree = agree == (G.run_batched(G.session(files["anomaly"]), {"x": x}) > threshold32)
    return replace(quant, int8={**quant.int8, "alert_agreement_with_fp32": float(np.mean(agree))})
