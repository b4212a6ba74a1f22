"""`requantize_bundle`: redo a bundle's int8 graphs from its own fp32 graphs, in place, atomically.

For bundles whose training run is gone (the committed ones): the data the run used is rebuilt from the
manifest's `producer` (data set, label budget, seed, held-out class, validation fraction), and proven
to be the same by recomputing the fp32 alert threshold on the rebuilt validation rows (or, with no
anomaly graph, the fp32 test accuracy) and comparing it with the manifest's. Then `quantize_bundle`,
the code `ssvae-export --quantize int8` runs, writes and measures the int8 graphs; the bundle is built
in a hidden folder beside the old one and swapped in only when complete. The fp32 graphs and every
other manifest key are kept as they are; `graphs_int8` and `quantization` are replaced.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ssvae_edge.bundle import Bundle
from ssvae_edge.contract import Manifest
from ssvae_edge.errors import BundleError
from ssvae_edge.sections import Producer
from ssvae_train import __version__
from ssvae_train.config import FitConfig
from ssvae_train.data.prepared import Prepared
from ssvae_train.errors import UserError
from ssvae_train.export import manifest_entries as ME
from ssvae_train.export import measure
from ssvae_train.export.alert_point import calibration_streams
from ssvae_train.export.graphs import session
from ssvae_train.export.loading import quant_data
from ssvae_train.export.quantize import quantize_bundle
from ssvae_train.export.staging import MANIFEST, staging
from ssvae_train.export.wearer_baseline_fit import int8_threshold, with_section
from ssvae_train.training.prepare import prepare

DEFAULT_VAL_FRACTION = 0.1  # what bundles exported before `producer.val_fraction` was recorded used
MATCH_RTOL = 1e-6


def held_out_windows_of(producer: Producer) -> str:
    """The run's --held-out-windows: the producer's, or for a bundle exported before the key, `any` only where its
    data counts show straddling windows dropped."""
    if producer.held_out_windows is not None:
        return producer.held_out_windows
    if producer.excluded_class is None:
        return FitConfig.held_out_windows  # no held-out class: the option does nothing
    return "any" if (producer.data_counts or {}).get("held_out_edge_windows_skipped") else "whole"


def transitions_of(producer: Producer, classes: list[str]) -> bool:
    """The run's --transitions: the producer's, or for a bundle exported before the key, whether its HAPT classes
    hold a postural transition (`STAND_TO_SIT`, ...)."""
    if producer.transitions is not None:
        return bool(producer.transitions)
    return producer.dataset == "hapt" and any("_TO_" in c for c in classes)


def requantize_bundle(bundle: str | Path, data_dir: str | None, say: Callable[[str], None] | None = None) -> dict:
    """Replace the int8 graphs of the bundle in `bundle`; returns the new manifest. Raises UserError."""
    say = say or (lambda _line: None)
    folder = Path(bundle)
    try:
        manifest = Manifest.load(folder)
    except BundleError as e:
        raise UserError(str(e)) from None
    folder = manifest.path.parent
    producer = manifest.producer or Producer()
    if producer.dataset is None:
        raise UserError(f"{folder}: the manifest's producer does not name the data set it was trained on")
    if producer.dataset != "digits" and data_dir is None:
        raise UserError(f"--requantize needs --data-dir: the folder of the {producer.dataset} files")
    cfg = FitConfig(
        dataset=producer.dataset, data_dir=data_dir, arch=producer.arch or "dense",
        model=producer.model or "ssvae", labels=str(producer.labels or "all"),
        seed=int(producer.seed or 0), split_seed=producer.split_seed, exclude_class=producer.excluded_class,
        val_fraction=float(producer.val_fraction if producer.val_fraction is not None else DEFAULT_VAL_FRACTION),
        val_split=producer.val_split or "random",
        held_out_windows=held_out_windows_of(producer), transitions=transitions_of(producer, manifest.classes),
    )
    prep = prepare(cfg)
    cal = manifest.threshold_calibration
    quantile = float(cal.quantile if cal is not None and cal.quantile is not None else 0.99)
    data = quant_data(prep, quantile, manifest.latent_dim)
    _check_same_data(manifest, data)
    say(f"{folder}: data rebuilt ({cfg.dataset}, {len(data.x_train)} training rows, {len(data.x_val)} validation "
        f"rows, {len(data.y_test)} test rows) and checked against the manifest")

    old_int8 = {e.file for e in manifest.graph_set("int8").values()}
    with staging(folder, force=True) as tmp:
        for p in folder.iterdir():
            if p.is_file() and p.name not in old_int8 and p.name != MANIFEST:
                shutil.copy2(p, tmp / p.name)
        files = {name: tmp / e.file for name, e in manifest.graphs.items()}
        int8, quant = quantize_bundle(tmp, files, data, say)
        if manifest.alert is not None and "anomaly" in int8:  # as the exporter: at the manifest's operating point
            quant = ME.int8_at_operating_point(tmp, files, int8, quant, prep, manifest.alert.to_json(),
                                               float(manifest.threshold))
        quant = replace(quant, requantized={"from": "the bundle's fp32 graphs", "by": "ssvae-export --requantize",
                                            "ssvae": __version__, "onnxruntime": ort.__version__})
        new = replace(manifest, graphs_int8=ME.int8_entries(int8) if int8 else None,
                      quantization=quant if int8 else None).checked()
        # The manifest is written last: a folder with a manifest is a finished bundle.
        new.write(tmp)
        refit_int8(tmp, prep, say)  # a wearer baseline's int8 threshold belongs to the old int8 graphs
    say(f"int8 graphs of {folder} replaced")
    return new.to_json()


def _check_same_data(manifest: Manifest, data) -> None:
    """Refuse unless the rebuilt rows reproduce what the manifest measured on the run's own rows."""
    folder = manifest.path.parent
    # a threshold from an alert operating point is not a quantile of the validation scores: check the accuracy
    if "anomaly" in manifest.graphs and manifest.threshold is not None and manifest.alert is None:
        got, _ = measure.calibrate(session(folder / manifest.graphs["anomaly"].file), data.x_val,
                                   data.alert_quantile)
        want, what = manifest.threshold, "fp32 alert threshold"
    elif "classifier" in manifest.graphs:
        normal = data.y_test >= 0
        got, _ = measure.accuracy(session(folder / manifest.graphs["classifier"].file), data.x_test[normal],
                                  data.y_test[normal])
        want = ((manifest.producer.metrics if manifest.producer else None) or {}).get("test_accuracy_onnxruntime")
        what = "fp32 test accuracy"
    else:
        return
    if want is None or not np.isclose(got, want, rtol=MATCH_RTOL, atol=0.0):
        raise UserError(f"{folder}: the rebuilt data gives an {what} of {got:.6g}, the manifest says {want}: "
                        "point --data-dir at the data the bundle was trained on")


def refit_int8(folder: Path, prep: Prepared, say) -> None:
    """After the int8 graphs of a bundle in `folder` were replaced (`--requantize`): its wearer baseline's
    `threshold_int8` fitted again on the same validation recordings, or dropped where they cannot be rebuilt."""
    m = Bundle.load(folder, providers="cpu", threads=1).manifest
    wb = m.wearer_baseline
    if wb is None:
        return
    streams = calibration_streams(prep, int(m.alert_hop))
    target = wb.target_false_alerts_per_hour
    rebuilt = streams.unlabelled is not None and streams.has_held_out and target is not None
    new_t = (int8_threshold(folder, m, dict(wb.prior), wb.prior_windows, wb.memory_windows, (wb.k, wb.m), streams,
                            target) if rebuilt else None)
    say("wearer baseline: int8 threshold " + (f"fitted again: {new_t:.6g}" if new_t is not None else "dropped"))
    g = wb.gate
    if g is not None:
        new_g = (int8_threshold(folder, m, dict(wb.prior), g.prior_windows, wb.memory_windows, (g.k, g.m), streams,
                                target, g.classes) if rebuilt else None)
        say("alert gate: int8 threshold " + (f"fitted again: {new_g:.6g}" if new_g is not None else "dropped"))
        g = replace(g, threshold_int8=new_g)
    with_section(m, replace(wb, threshold_int8=new_t, gate=g)).write(folder)
