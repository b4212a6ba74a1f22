"""`export_run`: cut a trained run into the bundle of DESIGN.md, prove it, then put it in place.

    checkpoint -> cuts -> ONNX files -> checker + io contract -> onnxruntime == PyTorch (256 test samples,
    another batch size than the export's, another window length for LSTM) -> ReferenceEvaluator ==
    onnxruntime -> threshold on the validation split -> test metrics -> int8 (optional) -> manifest.json

Everything is written into a hidden folder beside the destination, and only a bundle that passed every
check is renamed into place; on any failure the folder is removed, so a destination either holds a
complete, validated bundle or nothing at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F

from ssvae_edge.manifest import file_sha256
from ssvae_train import __version__
from ssvae_train import scores as S
from ssvae_train.checkpoint import CHECKPOINT, load_checkpoint, model_from_checkpoint, weights_epoch
from ssvae_train.config import FitConfig
from ssvae_train.data.prepared import Prepared, prepare
from ssvae_train.errors import UserError
from ssvae_train.export import alert_point as AP
from ssvae_train.export import graphs as G
from ssvae_train.export import manifest_entries as ME
from ssvae_train.export.cuts import Cut, make_cuts, score_method
from ssvae_train.export.measure import calibrate
from ssvae_train.export.quantize import QuantData, quantize_bundle
from ssvae_train.export.staging import MANIFEST, check_destination, staging
from ssvae_train.latent_prior import LATENT_PRIORS, fit_on_run
from ssvae_train.models import SSVAE
from ssvae_train.progress import Progress

FORMAT = 1
N_VALIDATE = 256  # real test samples compared between onnxruntime and PyTorch
N_REFERENCE = 2  # samples run through the (slow, pure-Python) ONNX reference evaluator
EXAMPLE_BATCH = 2  # the export's example batch: validation runs other sizes, so none can be baked in
QUANTIZE = ("int8",)

Say = Callable[[str], None]


def export_run(
    run: str | Path,
    out: str | Path,
    score: str | None = None,
    alert_quantile: float = 0.99,
    alert_false_per_hour: float | None = AP.TARGET_FALSE_PER_HOUR,
    quantize: str | None = None,
    force: bool = False,
    data_dir: str | None = None,
    say: Say | None = None,
    progress: bool = False,
    weights: str = "last",
    latent_prior: str = "class",
) -> dict:
    """Export the run in `run` (folder or checkpoint file) as a validated bundle in `out`.

    Returns the manifest (as written to `out`/manifest.json).

    score: the anomaly graph's score, one of `scores.SCORES` (None: the default for the data's kind,
    `scores.default_score`); a plain VAE has one score and ignores it. alert_quantile: the quantile
    of the validation rows' scores taken as the alert threshold (images, vectors, and sensor bundles when
    alert_false_per_hour is None). alert_false_per_hour: sensor bundles only, the target rate of the
    alert operating point (`alert_point.py`: threshold and debounce fitted on training-split streams,
    written to the manifest's `alert`). quantize: `int8` also writes
    `<graph>.int8.onnx`. force: replace an earlier bundle in `out`. data_dir: where the run's data set
    lives now. say: receives one-line progress notes (the CLI prints them). weights: the run's `last` or
    `best` (best validation epoch) weights, recorded in the manifest's producer. latent_prior: `class`
    (decoder.onnx draws class y from where y lies in latent space, `latent_prior.py`) or `standard`
    (z goes to the decoder as it is). Raises UserError.
    """
    say = say or (lambda _line: None)
    out = Path(out)
    if score is not None and score not in (*S.SCORES, S.AUTO):
        raise UserError(f"--score {score!r}: choose auto or one of {', '.join(S.SCORES)}")
    if not 0.0 < alert_quantile < 1.0:
        raise UserError(f"--alert-quantile {alert_quantile}: must lie strictly between 0 and 1")
    if quantize is not None and quantize not in QUANTIZE:
        raise UserError(f"--quantize {quantize!r}: choose one of {', '.join(QUANTIZE)}")
    if latent_prior not in LATENT_PRIORS:
        raise UserError(f"--latent-prior {latent_prior!r}: choose one of {', '.join(LATENT_PRIORS)}")
    check_destination(out, force)
    ckpt, model, cfg, prep = _load(run, data_dir, weights)
    prior = fit_on_run(model, prep) if latent_prior == "class" and model.cond_dim else None
    fit = S.fit_on_run(model, prep) if model.cond_dim else None
    auto = None
    if score == S.AUTO and model.cond_dim:
        try:
            score, aucs = S.choose_on_held_out(model, prep, fit)
        except ValueError as e:
            raise UserError(str(e)) from None
        auto = {"rule": "best ROC AUC of the validation rows against the held-out class's training rows "
                        "(training split only)", "roc_auc": aucs}
        say(f"--score auto: {score} (ROC AUC {aucs[score]:.3f} on the training split's held-out rows)")
    score = S.default_score(prep.ds.kind) if score in (None, S.AUTO) else score
    cuts = make_cuts(model, score, prior, fit)
    method = score_method(model, score) if model.has_decoder else None
    if model.cfg.kind == "supervised":
        say(
            "supervised run: exporting classifier.onnx only (a supervised model has no decoder, "
            "so no anomaly or decoder graph)"
        )
    elif model.cfg.kind == "vae":
        say(
            "vae run: exporting anomaly.onnx and decoder.onnx only (a plain VAE has no classifier); the "
            "score is its negative ELBO (--score does not apply); decoder.onnx takes y but ignores it"
        )

    ds, meta = prep.ds, prep.meta()
    n = min(N_VALIDATE, len(ds.x_test))
    x_check, y_check = ds.x_test[:n], np.where(ds.y_test[:n] >= 0, ds.y_test[:n], 0)
    z_check = _latent_means(model, x_check, y_check)
    alt_len = (3 * ds.x_test.shape[1]) // 4 if model.any_length else None
    latent = model.cfg.latent_dim
    sample_shape = tuple(meta["sample_shape"])

    def feeds(cut: Cut) -> list[tuple[str, dict[str, np.ndarray]]]:
        if cut.name == "decoder":
            return [(f"z = mu of {n} test samples and their labels", {"z": z_check, "y": y_check})]
        out = [(f"{n} test samples", {"x": x_check})]
        if cut.time_axis:
            out.append(
                (f"{n} test samples cut to T={alt_len}", {"x": np.ascontiguousarray(x_check[:, :alt_len])})
            )
        return out

    t0 = time.perf_counter()
    with staging(out, force) as tmp:
        files: dict[str, Path] = {}
        checks: dict[str, dict] = {}
        probes: dict[str, dict[str, np.ndarray]] = {}
        for cut in cuts:
            path = tmp / cut.file
            sig = G.signature(cut, sample_shape, ds.n_classes, latent)
            first = feeds(cut)[0][1]
            example = tuple(torch.from_numpy(first[k][:EXAMPLE_BATCH]) for k in cut.inputs)
            meta_props = {"ssvae.score_method": method} if cut.name == "anomaly" else {}
            G.export_cut(cut, example, path, sig, meta_props)
            ops = G.check_graph(path, sig, cut.lstm)
            diffs = G.validate_graph(cut, path, feeds(cut), N_REFERENCE)
            files[cut.name] = path
            probes[cut.name] = {k: v[:4] for k, v in first.items()}
            checks[cut.name] = {"ops": len(ops), "lstm_node": "LSTM" in ops, **diffs}
            worst = max(diffs.values())
            say(
                f"{cut.file}: checker ok, onnxruntime == PyTorch == ReferenceEvaluator "
                f"(worst diff {worst:.2g})"
                + (", LSTM node" if cut.lstm else "")
                + (f", T={alt_len} ok" if cut.time_axis else "")
            )

        bar = Progress(total=0, enabled=progress, label="measuring")
        sessions = {name: G.session(p) for name, p in files.items()}
        threshold, calibration, alert, streams = None, None, None, None
        if "anomaly" in sessions:
            threshold, calibration = calibrate(sessions["anomaly"], ds.x_train[prep.split.val], alert_quantile)
            if ds.kind == "sensor" and alert_false_per_hour is not None:
                streams = AP.calibration_streams(prep, int(meta["hop"]))
                alert = AP.operating_point(sessions["anomaly"], streams, alert_false_per_hour)
                threshold, calibration = ME.at_operating_point(sessions["anomaly"], prep, alert, calibration)
                say(
                    f"alert operating point: threshold {threshold:.4g}, {alert['k']} of {alert['m']} windows; on "
                    f"{alert['normal_hours']:.1f} h of calibration streams {alert['false_alerts_per_hour']:.2f} "
                    f"false alerts/h (target {alert_false_per_hour:g}), {alert['detected']}/"
                    f"{alert['held_out_segments']} held-out segments"
                )
            else:
                say(
                    f"threshold {threshold:.4g}: the {alert_quantile:g} quantile of {calibration['n_val']} "
                    f"validation scores (false alarm rate there {calibration['false_alarm_rate']:.3g})"
                )
        metrics = ME.test_metrics(model, method, fit, sessions, ds, bar)
        bar.close()

        int8: dict[str, dict] = {}
        quant: dict | None = None
        if quantize == "int8":
            int8, quant = quantize_bundle(tmp, files, quant_data(prep, alert_quantile, latent), say)
            if alert is not None and "anomaly" in int8:  # the int8 graph's own threshold, at the same debounce
                ME.int8_at_operating_point(tmp, files, int8, quant, prep, {**alert, "hop": int(meta["hop"])},
                                           threshold, streams)

        manifest = {
            "format": FORMAT,
            "graphs": {name: {"file": p.name, "sha256": file_sha256(p)} for name, p in files.items()},
            "classes": list(meta["classes"]),
            "sample_shape": list(sample_shape),
            "dtype": "float32",
            "units": meta["units"],
            "channels": meta["channels"],
            "sample_rate_hz": meta["sample_rate_hz"],
            "window": meta["window"],
            "hop": meta["hop"],
            "max_value": meta["max_value"],
            "time_axis_dynamic": model.any_length,  # lstm: any window length; convlstm: `window` only
            "latent_dim": latent if model.has_decoder else None,
            "threshold": threshold,
            "threshold_calibration": calibration,
            "alert": ME.alert_entry(alert),
            "score_method": method,
            "score": ME.score_description(method, fit, prep.ds.kind, auto) if method is not None else None,
            "latent_prior": prior.describe() if prior is not None else {"kind": "standard"},
            "opset": G.OPSET,
            "producer": {
                "ssvae": __version__,
                "torch": str(torch.__version__),
                "onnx": onnx.__version__,
                "onnxruntime": ort.__version__,
                "exporter": G.EXPORTER,
                "exporter_call": G.EXPORTER_DESCRIPTION,
                "exporter_reason": G.EXPORTER_REASON,
                "run": str(run),
                "checkpoint_sha256": file_sha256(_checkpoint_path(run)),
                "dataset": cfg.dataset,
                "labels": cfg.labels,
                "n_labelled": int(meta["n_labelled"]),
                "seed": cfg.seed,
                "val_fraction": cfg.val_fraction,
                "val_split": cfg.val_split,
                "arch": cfg.arch,
                "model": cfg.model,
                "objective": cfg.objective,
                "latent_dim": model.cfg.latent_dim,
                "hidden": model.cfg.hidden,
                "epochs": int(ckpt["epoch"]),
                "weights": weights,
                "weights_epoch": weights_epoch(ckpt, weights),
                "excluded_class": meta["excluded_class"],
                "excluded_class_name": meta["excluded_name"],
                "data_counts": meta["counts"],  # rows/windows kept, unlabelled and skipped (no row dropped silently)
                "metrics": metrics,
            },
            "validation": {
                "checker": "onnx.checker.check_model(full_check=True)",
                "samples": n,
                "reference_samples": N_REFERENCE,
                "export_batch": EXAMPLE_BATCH,
                "other_window_length": alt_len,
                "tolerance": {"probs_max_abs_diff": G.PROB_ATOL, "score_x_hat_relative_diff": G.REL_TOL},
                "relative_diff": "max |onnx - reference| / max |reference|",
                "graphs": checks,
            },
        }
        if quant is not None:
            manifest["graphs_int8"] = int8
            manifest["quantization"] = quant
        # The manifest is written last: a folder with a manifest is a finished bundle.
        (tmp / MANIFEST).write_text(json.dumps(_plain(manifest), indent=2) + "\n")
    say(f"bundle written to {out} in {time.perf_counter() - t0:.1f}s")
    return _plain(manifest)


# ---- pieces -------------------------------------------------------------------------------------------
@torch.no_grad()
def _latent_means(model: SSVAE, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """mu of q(z|x) (or q(z|x,y) with the true class): realistic codes for checking the decoder."""
    if not model.has_decoder:
        return np.zeros((len(x), model.cfg.latent_dim), np.float32)
    h = model.features(torch.from_numpy(x))
    y1 = F.one_hot(torch.from_numpy(y), model.cfg.n_classes).float() if model.conditions_posterior else None
    return model.posterior(h, y1)[0].numpy().astype(np.float32)


def quant_data(prep: Prepared, alert_quantile: float, latent_dim: int | None) -> QuantData:
    """The rows int8 is calibrated (training split), thresholded (validation split) and measured (test) on."""
    ds = prep.ds
    return QuantData(x_train=ds.x_train[prep.split.train], x_val=ds.x_train[prep.split.val], x_test=ds.x_test,
                     y_test=ds.y_test, n_classes=ds.n_classes, latent_dim=latent_dim, alert_quantile=alert_quantile)


def _load(run: str | Path, data_dir: str | None, weights: str = "last") -> tuple[dict, SSVAE, FitConfig, Prepared]:
    """`evaluate.load_run`, plus the checks an export needs: a complete checkpoint whose config builds its
    model, and data rebuilt exactly (the threshold is calibrated on the run's validation rows)."""
    ckpt = load_checkpoint(run)
    missing = [k for k in ("fit_config", "model_config", "state_dict", "epoch") if k not in ckpt]
    if missing:
        raise UserError(f"{run}: not a complete ssvae checkpoint (no {', '.join(missing)})")
    try:
        cfg = FitConfig.from_dict(ckpt["fit_config"])
        model = model_from_checkpoint(ckpt, weights)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(
            f"{run}: the checkpoint's config does not describe an ssvae model ({G.first_line(e)})"
        ) from None
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir)
    prep = prepare(cfg)
    if cfg.val_anomaly_class is not None:
        raise UserError(f"{run} holds a second class out to choose scores on (--val-anomaly-class): its test "
                        "rows mix two anomalous classes; export a run with --exclude-class only")
    if prep.ds.kind == "features":
        raise UserError(f"{run} models M1's latent means (--m1-run): its graphs would not take raw samples")
    saved = ckpt.get("split", {}).get("val") if isinstance(ckpt.get("split"), dict) else None
    if saved is not None and not np.array_equal(np.asarray(saved), prep.split.val):
        raise UserError(
            "the data found now is not the data this run was trained on (its validation rows "
            "differ): point --data-dir at the run's data"
        )
    return ckpt, model, cfg, prep


def _checkpoint_path(run: str | Path) -> Path:
    run = Path(run)
    return run / CHECKPOINT if run.is_dir() else run


def _plain(obj):
    """JSON-ready copy: numpy scalars to Python numbers, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
