"""`export_run`: cut a trained run into the bundle of docs/bundle-format.md, prove it, then put it in place.

    load (loading.py) -> plan the graphs (score, class prior, cuts) -> export and validate each graph
    (checker + io contract, onnxruntime == PyTorch on 256 test samples at another batch size and, for
    LSTM, another window length, ReferenceEvaluator == onnxruntime) -> calibrate the alert threshold on
    the validation split -> measure test metrics -> quantize to int8 (optional) -> write manifest.json
    (`ssvae_edge.contract.Manifest`) -> load the result with `ssvae_edge.Bundle` == PyTorch -> (a held-out
    class, whole validation recordings) the alert point on the wearer-adjusted score, kept where it wins

Everything is written into a hidden folder beside the destination, and only a bundle that passed every
check is renamed into place; on any failure the folder is removed, so a destination either holds a
complete, validated bundle or nothing at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ssvae_edge import contract as C
from ssvae_edge.sections import (
    Composition,
    Ensemble,
    LatentPrior,
    Mounting,
    Posture,
    Quantization,
    Refit,
    Sequence,
    Smoothing,
    ThresholdCalibration,
)
from ssvae_train.data.prepared import Prepared
from ssvae_train.errors import UserError
from ssvae_train.export import alert_point as AP
from ssvae_train.export import ensemble as E
from ssvae_train.export import graphs as G
from ssvae_train.export import manifest_entries as ME
from ssvae_train.export import refit as R
from ssvae_train.export import wearer_baseline_fit as WB
from ssvae_train.export.config import ExportConfig
from ssvae_train.export.cuts import Cut, make_cuts, score_method
from ssvae_train.export.decoding import choose_decoding
from ssvae_train.export.loading import Loaded, load_for_export, quant_data
from ssvae_train.export.measure import calibrate
from ssvae_train.export.quantize import quantize_bundle
from ssvae_train.export.staging import check_destination, staging
from ssvae_train.models import SSVAE
from ssvae_train.models.m1m2 import M1M2
from ssvae_train.scoring import scores as S
from ssvae_train.scoring.latent_prior import ClassPrior, fit_on_run
from ssvae_train.training.checkpoint import best_epoch_note
from ssvae_train.training.progress import Progress

N_VALIDATE = 256  # real test samples compared between onnxruntime and PyTorch
N_REFERENCE = 2  # samples run through the (slow, pure-Python) ONNX reference evaluator
N_PARITY = 32  # test samples the finished bundle, loaded as a device loads it, is compared on
EXAMPLE_BATCH = 2  # the export's example batch: validation runs other sizes, so none can be baked in

Say = Callable[[str], None]
Feeds = list[tuple[str, dict[str, np.ndarray]]]


def export_run(run: str | Path, out: str | Path, cfg: ExportConfig = ExportConfig(), force: bool = False,
               say: Say | None = None, progress: bool = False) -> dict:
    """Export the run in `run` (folder or checkpoint file) as a validated bundle in `out`, as `cfg` asks
    (`config.ExportConfig`: every setting with its help); returns the manifest as written to
    `out`/manifest.json. force: replace an earlier bundle in `out`. say: receives one-line progress notes
    (the CLI prints them). Raises UserError."""
    say = say or (lambda _line: None)
    out = Path(out)
    cfg.validate()
    _check_score(cfg.score)
    check_destination(out, force)
    loaded = load_for_export(run, cfg.data_dir, cfg.weights)
    if note := best_epoch_note(loaded.ckpt, cfg.weights):
        say(note)
    loaded, sibling = R.with_sibling(loaded, cfg.choices_from)  # a refit: its validated sibling's manifest
    members = E.load_members(loaded, cfg.member or ())  # an ensemble: more runs of the same rows
    plan = plan_graphs(loaded, cfg.score, cfg.latent_prior, say, members)
    alert_quantile = cfg.alert_quantile
    t0 = time.perf_counter()
    with staging(out, force) as tmp:
        graphs = export_and_validate(plan, loaded.model, loaded.prep, tmp, say)
        cal = calibrate_alert(graphs.sessions, loaded.prep, alert_quantile, cfg.alert_target, say, cfg.alert_max_delay)
        smoothing, sequence, mounting, posture = (
            choose_decoding(graphs.sessions.get("classifier"), loaded.prep, say, cfg.posture_features,
                            cfg.posture_context)
            if sibling is None
            else R.decoding(sibling, cfg.choices_from, say))
        if sibling is not None:
            alert, calibration = R.optimistic(cal.alert, cal.calibration)
            cal = replace(cal, alert=alert, calibration=calibration)
        bar = Progress(total=0, enabled=progress, label="measuring")
        metrics = ME.test_metrics(plan.models, plan.method, graphs.sessions, loaded.prep.ds, bar)
        bar.close()
        int8 = quantize_graphs(tmp, graphs.files, loaded, cal, alert_quantile, say) if cfg.quantize else None
        manifest = write_bundle(tmp, loaded, plan, graphs, cal, metrics, int8, smoothing, sequence, mounting,
                                posture, R.entry(sibling, cfg.choices_from),
                                E.describe(loaded, members) if members else None)
        check_parity(tmp, graphs, say, int8 is not None)
        manifest = WB.add_to_staged(tmp, loaded.prep, cal.streams if cal.alert else None, cfg.alert_target,
                                    say, cfg.alert_debounce, cfg.alert_max_delay) or manifest
    say(f"bundle written to {out} in {time.perf_counter() - t0:.1f}s")
    return manifest


def _check_score(score: str | None) -> None:
    if score is not None and score not in (*S.SCORES, S.AUTO):
        raise UserError(f"--score {score!r}: choose auto or one of {', '.join(S.SCORES)}")


# ---- plan: which graphs, which score --------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What will be exported: the cuts, the anomaly score (`method`), its fitted constants and the class prior."""

    cuts: list[Cut]
    method: str | None
    prior: ClassPrior | None
    auto: dict | None  # --score auto: the rule and the ROC AUC of every candidate
    models: list[tuple[SSVAE, S.ScoreFit | None]]  # each model the graphs average, with its fitted constants

    @property
    def fit(self) -> S.ScoreFit | None:
        """The run's own fitted constants (an ensemble's first member's: what the manifest's `score` describes)."""
        return self.models[0][1]


def plan_graphs(loaded: Loaded, score: str | None, latent_prior: str, say: Say,
                members: list[E.Member] | None = None) -> Plan:
    """Fit the class prior and the score constants on the run's training split (an ensemble: each member's
    constants on the same rows), and choose the score."""
    model, prep = loaded.model, loaded.prep
    prior = fit_on_run(model, prep) if latent_prior == "class" and model.cond_dim else None
    fit = S.fit_on_run(model, prep) if model.cond_dim else None
    fits = [(m.model, S.fit_on_run(m.model, prep) if m.model.cond_dim else None) for m in members or []]
    auto = None
    if score == S.AUTO and model.cond_dim:
        try:
            score, aucs = S.choose_on_held_out([(model, fit), *fits], prep)
        except ValueError as e:
            raise UserError(str(e)) from None
        auto = {"rule": "best ROC AUC of the validation rows against the held-out class's training rows "
                        "(training split only)" + (", each candidate as the mean of the members' scores" if fits
                                                   else ""), "roc_auc": aucs}
        say(f"--score auto: {score} (ROC AUC {aucs[score]:.3f} on the training split's held-out rows)")
    score = S.default_score(prep.ds.kind) if score in (None, S.AUTO) else score
    if model.cfg.kind == "supervised":
        say("supervised run: exporting classifier.onnx only (a supervised model has no decoder, "
            "so no anomaly or decoder graph)")
    elif model.cfg.kind == "vae":
        say("vae run: exporting anomaly.onnx and decoder.onnx only (a plain VAE has no classifier); the "
            "score is its negative ELBO (--score does not apply); decoder.onnx takes y but ignores it")
    method = score_method(model, score) if model.has_decoder else None
    if members:
        say(f"ensemble of {1 + len(members)} runs: classifier.onnx and anomaly.onnx average theirs, decoder.onnx "
            f"is {loaded.run}'s")
    return Plan(make_cuts(model, score, prior, fit, fits), method, prior, auto, [(model, fit), *fits])


# ---- export and validate ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Graphs:
    """The exported fp32 graphs: files, open sessions, what their validation measured, and the feeds."""

    files: dict[str, Path]
    sessions: dict
    checks: dict[str, dict]
    feeds: dict[str, Feeds]
    cuts: dict[str, Cut]
    n: int
    alt_len: int | None


def check_feeds(model: SSVAE, prep: Prepared) -> tuple[dict[str, Feeds], int, int | None]:
    """The named feeds each graph is validated on: real test samples (and for lstm, cut to another window
    length); the decoder gets the latent means of those samples under their labels."""
    ds = prep.ds
    n = min(N_VALIDATE, len(ds.x_test))
    x, y = ds.x_test[:n], np.where(ds.y_test[:n] >= 0, ds.y_test[:n], 0)
    alt_len = (3 * ds.x_test.shape[1]) // 4 if model.any_length else None
    samples: Feeds = [(f"{n} test samples", {"x": x})]
    if alt_len is not None:
        samples.append((f"{n} test samples cut to T={alt_len}", {"x": np.ascontiguousarray(x[:, :alt_len])}))
    codes: Feeds = [(f"z = mu of {n} test samples and their labels", {"z": _latent_means(model, x, y), "y": y})]
    return {"classifier": samples, "anomaly": samples, "decoder": codes}, n, alt_len


def export_and_validate(plan: Plan, model: SSVAE, prep: Prepared, tmp: Path, say: Say) -> Graphs:
    """Each cut to `tmp`/<graph>.onnx, checked (`graphs.check_graph`) and validated (`graphs.validate_graph`)."""
    feeds, n, alt_len = check_feeds(model, prep)
    sample_shape, latent = tuple(prep.ds.sample_shape), model.cfg.latent_dim
    files, checks = {}, {}
    for cut in plan.cuts:
        path = tmp / cut.file
        sig = G.signature(cut, sample_shape, prep.ds.n_classes, latent)
        fed = feeds[cut.name] if cut.time_axis else feeds[cut.name][:1]
        example = tuple(torch.from_numpy(fed[0][1][k][:EXAMPLE_BATCH]) for k in cut.inputs)
        G.export_cut(cut, example, path, sig, {"ssvae.score_method": plan.method} if cut.name == "anomaly" else {})
        ops = G.check_graph(path, sig, cut.lstm)
        diffs = G.validate_graph(cut, path, fed, N_REFERENCE)
        files[cut.name] = path
        checks[cut.name] = {"ops": len(ops), "lstm_node": "LSTM" in ops, **diffs}
        say(f"{cut.file}: checker ok, onnxruntime == PyTorch == ReferenceEvaluator (worst diff "
            f"{max(diffs.values()):.2g})" + (", LSTM node" if cut.lstm else "")
            + (f", T={alt_len} ok" if cut.time_axis else ""))
    sessions = {name: G.session(p) for name, p in files.items()}
    return Graphs(files, sessions, checks, feeds, {c.name: c for c in plan.cuts}, n, alt_len)


@torch.no_grad()
def _latent_means(model: SSVAE, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """mu of q(z|x) (or q(z|x,y) with the true class): realistic codes for checking the decoder."""
    if not model.has_decoder:
        return np.zeros((len(x), model.cfg.latent_dim), np.float32)
    h = model.features(torch.from_numpy(x))
    y1 = F.one_hot(torch.from_numpy(y), model.cfg.n_classes).float() if model.conditions_posterior else None
    return model.posterior(h, y1)[0].numpy().astype(np.float32)


# ---- calibrate --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """The anomaly threshold, how it was calibrated, and (sensor bundles) the alert operating point."""

    threshold: float | None = None
    calibration: dict | None = None
    alert: dict | None = None
    streams: AP.Streams | None = None


def calibrate_alert(sessions: dict, prep: Prepared, alert_quantile: float, alert_false_per_hour: float | None,
                    say: Say, max_delay: float | None = None) -> Calibration:
    """A quantile of the validation rows' scores; for sensor bundles, the alert operating point instead."""
    if "anomaly" not in sessions:
        return Calibration()
    ds, sess = prep.ds, sessions["anomaly"]
    threshold, calibration = calibrate(sess, ds.x_train[prep.split.val], alert_quantile)
    if ds.kind != "sensor" or alert_false_per_hour is None:
        say(f"threshold {threshold:.4g}: the {alert_quantile:g} quantile of {calibration['n_val']} "
            f"validation scores (false alarm rate there {calibration['false_alarm_rate']:.3g})")
        return Calibration(threshold, calibration)
    streams = AP.calibration_streams(prep, int(ds.hop))
    alert = AP.operating_point(sess, streams, alert_false_per_hour, max_delay=max_delay)
    threshold, calibration = ME.at_operating_point(sess, prep, alert, calibration)
    say(f"alert operating point: threshold {threshold:.4g}, {alert['k']} of {alert['m']} windows; on "
        f"{alert['normal_hours']:.1f} h of calibration streams {alert['false_alerts_per_hour']:.2f} "
        f"false alerts/h ({_upper(alert)}target {alert_false_per_hour:g}), {alert['detected']}/"
        f"{alert['held_out_segments']} held-out segments")
    return Calibration(threshold, calibration, alert, streams)


def _upper(alert: dict) -> str:
    upper = alert.get("false_alerts_per_hour_upper95")
    return "" if upper is None else f"95% upper bound {upper:.2f}; "


# ---- quantize ---------------------------------------------------------------------------------------
def quantize_graphs(tmp: Path, files: dict[str, Path], loaded: Loaded, cal: Calibration, alert_quantile: float,
                    say: Say) -> tuple[dict[str, dict], Quantization]:
    """`graphs_int8` and `quantization` (`quantize.quantize_bundle`); the int8 anomaly graph gets its own
    threshold at the fp32 operating point's debounce."""
    prep = loaded.prep
    int8, quant = quantize_bundle(tmp, files, quant_data(prep, alert_quantile, loaded.model.cfg.latent_dim), say)
    if cal.alert is not None and "anomaly" in int8:
        quant = ME.int8_at_operating_point(tmp, files, int8, quant, prep, {**cal.alert, "hop": int(prep.ds.hop)},
                                           cal.threshold, cal.streams)
    return int8, quant


# ---- write and check ----------------------------------------------------------------------------------
def write_bundle(tmp: Path, loaded: Loaded, plan: Plan, graphs: Graphs, cal: Calibration, metrics: dict,
                 int8: tuple[dict, dict] | None, smoothing: dict | None = None,
                 sequence: dict | None = None, mounting: dict | None = None, posture: dict | None = None,
                 refit: dict | None = None, ensemble: Ensemble | None = None) -> dict:
    """manifest.json (`ssvae_edge.contract.Manifest`), written last (a folder with a manifest is a finished
    bundle); returns it as written."""
    model, meta = loaded.model, loaded.prep.meta()
    int8_graphs, quant = int8 if int8 is not None else (None, None)
    manifest = C.Manifest.build(
        graphs.files,
        classes=tuple(meta["classes"]), sample_shape=tuple(meta["sample_shape"]), dtype="float32",
        units=meta["units"], channels=meta["channels"], sample_rate_hz=meta["sample_rate_hz"],
        window=meta["window"], hop=meta["hop"], max_value=meta["max_value"],
        time_axis_dynamic=model.any_length,  # lstm: any window length; convlstm: `window` only
        latent_dim=model.cfg.latent_dim if model.has_decoder else None,
        threshold=cal.threshold,
        threshold_calibration=ThresholdCalibration(**cal.calibration) if cal.calibration else None,
        alert=ME.alert_entry(cal.alert), score_method=plan.method,
        score=ME.score_description(plan.method, plan.fit, meta["kind"], plan.auto) if plan.method else None,
        latent_prior=LatentPrior(**plan.prior.describe()) if plan.prior is not None else LatentPrior("standard"),
        opset=G.OPSET,
        producer=ME.producer(loaded, meta, metrics),
        validation=ME.validation(graphs.n, N_REFERENCE, EXAMPLE_BATCH, graphs.alt_len, graphs.checks),
        graphs_int8=ME.int8_entries(int8_graphs) if int8_graphs is not None else None,
        quantization=quant,
        # only sensor bundles of continuous recordings: others keep their bytes
        smoothing=Smoothing(**smoothing) if smoothing is not None else None,
        sequence=Sequence(**sequence) if sequence is not None else None,
        mounting=Mounting(**mounting) if mounting is not None else None,
        posture=Posture(**posture) if posture is not None else None,
        refit=Refit(**refit) if refit is not None else None,
        # an M1+M2 run: how its graphs chain the two models
        composition=Composition(**model.describe()) if isinstance(model, M1M2) else None,
        ensemble=ensemble,
        frame=ME.frame(model, meta["channels"]),
    )
    manifest.write(tmp)
    return manifest.to_json()


def check_parity(tmp: Path, graphs: Graphs, say: Say, quantized: bool) -> None:
    """Load the finished bundle as a device does (`ssvae_edge.Bundle`: sha256, contract) and hold each graph's
    outputs to PyTorch's on the first test samples, within the validation tolerance."""
    from ssvae_edge import Bundle

    bundle = Bundle.load(tmp, providers="cpu", threads=1)
    for name, cut in graphs.cuts.items():
        feeds = {k: v[:N_PARITY] for k, v in graphs.feeds[name][0][1].items()}
        got = bundle.sessions[name].run(None, feeds)[0]
        with torch.no_grad():
            want = cut.module(*(torch.from_numpy(feeds[k]) for k in cut.inputs)).numpy()
        G.compare(cut.file, cut.outputs[0], got, want, "ssvae_edge.Bundle vs PyTorch")
    if quantized:
        Bundle.load(tmp, providers="cpu", threads=1, precision="int8")
    say(f"ssvae_edge.Bundle loads it{' (fp32 and int8)' if quantized else ''}: == PyTorch on {N_PARITY} samples")
