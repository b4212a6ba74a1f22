"""Exporting a refit (`ssvae-export RUN --choices-from BUNDLE`): a run trained with `--val-fraction 0` has no
validation people to make the export's choices on, so they come from the bundle of its validated sibling (same
recipe, same data, validation people held out).

Why: once the choices are made on validation people, training again on every person gives the graphs more
people to learn from (on HAPT, 11 -> 17-18 training people raised the validation people's accuracy by 4 points:
`results/hapt-bundles.md`, fourteenth round). The sibling's class smoothing, sequence filter, mounting estimate
and posture model are taken verbatim (their `validation` figures are the sibling's, measured with its graphs);
everything the export computes from validation rows (the anomaly threshold and alert operating point, the score's
standardisation) is computed on the sibling's validation people, whom the refit trained on: the manifest's
`refit` says so and the alert gains a warning that its figures are optimistic.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ssvae_edge.contract import Manifest, file_sha256
from ssvae_edge.errors import BundleError
from ssvae_train.data.budgets import contiguous_blocks, make_split
from ssvae_train.errors import UserError
from ssvae_train.export.loading import Loaded

DECODING = ("smoothing", "sequence", "mounting", "posture")  # the manifest sections taken verbatim
SAME_DATA = ("classes", "channels", "window", "hop", "sample_rate_hz")  # must match between refit and sibling
SAME_RECIPE = ("arch", "model", "objective", "hidden", "latent_dim", "labels")  # the sibling's producer against ours
OPTIMISTIC = ("a refit: the alert was calibrated on the sibling's validation people, whom these graphs trained on, "
              "so its figures are optimistic")


def is_refit(loaded: Loaded) -> bool:
    """A run trained without validation rows (`--val-fraction 0`)."""
    return len(loaded.prep.split.val) == 0


def with_sibling(loaded: Loaded, choices_from: str | None) -> tuple[Loaded, dict | None]:
    """A refit: (`loaded` calibrating on its sibling's validation rows, the sibling: its manifest as JSON plus
    `_sha256` and `_people`); any other run: (`loaded`, None). UserError with one line when a refit has no
    --choices-from, another run has one, or the sibling is not a validated bundle of the same data and recipe."""
    if not is_refit(loaded):
        if choices_from is not None:
            raise UserError("--choices-from is for a run trained without validation people (fit --val-fraction "
                            "0); this run has its own, so the export makes its choices on them")
        return loaded, None
    if choices_from is None:
        raise UserError(f"{loaded.run} was trained without validation people (--val-fraction 0): give "
                        "--choices-from with the bundle of its validated sibling (same recipe and data)")
    sibling = read_sibling(choices_from)
    check_sibling(loaded, sibling, choices_from)
    return with_sibling_validation(loaded, sibling, choices_from)


def read_sibling(path: str | Path) -> dict:
    """The sibling bundle's manifest, validated as a runtime validates it (`Manifest.load`), as JSON."""
    try:
        manifest = Manifest.load(path)
    except BundleError as e:
        raise UserError(f"--choices-from {e}") from None
    for key in DECODING:
        section = getattr(manifest, key)
        if section is not None and section.extra:
            raise UserError(f"--choices-from {path}: its '{key}' has keys this exporter does not know "
                            f"({', '.join(section.extra)}): export the refit with the version that wrote it")
    raw = manifest.to_json()
    raw["_sha256"] = file_sha256(manifest.path)
    return raw


def check_sibling(loaded: Loaded, sibling: dict, path: str | Path) -> None:
    """UserError with one line when the sibling is not a validated bundle of the same data and recipe."""
    meta, producer = loaded.prep.meta(), sibling.get("producer") or {}
    if producer.get("dataset") != loaded.cfg.dataset:
        raise UserError(f"--choices-from {path}: its run is on {producer.get('dataset')!r}, this one on "
                        f"{loaded.cfg.dataset!r}")
    for key in SAME_DATA:
        mine, theirs = meta.get(key), sibling.get(key)
        if (list(mine) if isinstance(mine, list | tuple) else mine) != theirs:
            raise UserError(f"--choices-from {path}: its {key} ({theirs}) differ from this run's ({mine})")
    for key in SAME_RECIPE:
        mine, theirs = getattr(loaded.cfg, key, None), producer.get(key)
        if str(mine) != str(theirs):
            raise UserError(f"--choices-from {path}: its run has {key} {theirs}, this one {mine}: a sibling is "
                            "the same recipe with validation people held out")
    if sibling.get("ensemble") is not None:
        raise UserError(f"--choices-from {path}: an ensemble bundle's choices were made on its averaged graphs: take "
                        "them from a bundle of one run")
    if not producer.get("val_fraction") or producer.get("seed") is None:
        raise UserError(f"--choices-from {path}: that bundle's run had no validation people either")
    if producer.get("excluded_class") is not None or loaded.cfg.exclude_class is not None:
        raise UserError("--choices-from: a refit is exported as a classifier bundle only (no --exclude-class): a "
                        "novelty bundle's alert point needs validation people its graphs did not train on")


def with_sibling_validation(loaded: Loaded, sibling: dict, path: str | Path) -> tuple[Loaded, dict]:
    """`loaded` with the sibling's validation rows (drawn as its `fit` drew them) as the rows the export
    calibrates on; the refit trained on them too. UserError when they are not the rows the sibling's manifest
    says it calibrated on (other data, another split)."""
    p, ds = sibling["producer"], loaded.prep.ds
    groups = ds.groups_train
    if groups is None and p.get("val_split") == "blocks":
        groups = contiguous_blocks(len(ds.y_train))
    seed = p["split_seed"] if p.get("split_seed") is not None else p["seed"]  # the split's own seed, when it had one
    val = make_split(ds.y_train, ds.n_classes, None, int(seed), float(p["val_fraction"]), groups,
                     list(ds.classes)).val
    people = (sorted({ds.group_names[g] for g in np.unique(ds.groups_train[val])})
              if ds.groups_train is not None and ds.group_names else None)
    said_people = ((sibling.get("alert") or {}).get("streams") or {}).get("people")
    said_rows = (sibling.get("threshold_calibration") or {}).get("n_val")
    if (said_people is not None and people is not None and sorted(said_people) != people) or (
            said_people is None and said_rows is not None and said_rows != len(val)):
        raise UserError(f"--choices-from {path}: its validation rows cannot be drawn again from this data (it names "
                        f"{said_people or str(said_rows) + ' rows'}, this data gives {people or len(val)}): give the "
                        "run's --data-dir, or the sibling of this run")
    loaded = replace(loaded, prep=replace(loaded.prep, split=replace(loaded.prep.split, val=val)))
    return loaded, {**sibling, "_people": people}


def decoding(sibling: dict, path: str | Path, say) -> tuple[dict | None, ...]:
    """(smoothing, sequence, mounting, posture): the sibling's sections as it wrote them; `say` names them."""
    taken = [k for k in DECODING if sibling.get(k) is not None]
    say(f"a refit: {', '.join(taken) or 'no decoding section'} taken from {path} (chosen there on its validation "
        "people)")
    return tuple(sibling.get(k) for k in DECODING)


def optimistic(alert: dict | None, calibration: dict | None) -> tuple[dict | None, dict | None]:
    """A refit's alert and threshold calibration (fitted on people its graphs trained on), saying so: the alert
    gains a warning (printed with its other warnings), the calibration's `source` names those people."""
    if calibration is not None:
        calibration = {**calibration, "source": "the validated sibling's validation rows, which this refit trained "
                                                "on (optimistic)"}
    if alert is not None:
        alert = {**alert, "warnings": [*alert.get("warnings", []), OPTIMISTIC]}
    return alert, calibration


def entry(sibling: dict | None, path: str | Path | None) -> dict | None:
    """The manifest's `refit` (None for any other run): what the graphs trained on and where the choices came
    from."""
    if sibling is None:
        return None
    p = sibling["producer"]
    return {
        "choices_from": str(path), "choices_from_sha256": sibling["_sha256"], "sibling_run": p.get("run"),
        "sibling_val_fraction": p.get("val_fraction"), "sibling_validation_people": sibling.get("_people"),
        "taken_verbatim": [k for k in DECODING if sibling.get(k) is not None],
        "what": "graphs trained on every training row (no validation rows); the decoding sections are the "
                "sibling's, chosen on its validation people with its graphs; the alert point and threshold were "
                "fitted on those people, whom these graphs trained on (optimistic)",
    }
