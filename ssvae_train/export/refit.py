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

import json
from dataclasses import replace
from pathlib import Path

from ssvae_train.data.budgets import make_split
from ssvae_train.errors import UserError
from ssvae_train.export.loading import Loaded

DECODING = ("smoothing", "sequence", "mounting", "posture")  # the manifest sections taken verbatim
SAME = ("classes", "channels", "window", "hop", "sample_rate_hz")  # must match between refit and sibling
OPTIMISTIC = ("a refit: the alert was calibrated on the sibling's validation people, whom these graphs trained on, "
              "so its figures are optimistic")


def is_refit(loaded: Loaded) -> bool:
    """A run trained without validation rows (`--val-fraction 0`)."""
    return len(loaded.prep.split.val) == 0


def with_sibling(loaded: Loaded, choices_from: str | None) -> tuple[Loaded, dict | None]:
    """A refit: (`loaded` calibrating on its sibling's validation rows, the sibling's manifest); any other run:
    (`loaded`, None). UserError when a refit has no --choices-from, or another run has one."""
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
    return with_sibling_validation(loaded, sibling), sibling


def optimistic(alert: dict | None) -> dict | None:
    """A refit's alert (calibrated on people its graphs trained on) with a warning that says so, printed with
    its other warnings."""
    return None if alert is None else {**alert, "warnings": [*alert.get("warnings", []), OPTIMISTIC]}


def read_sibling(path: str | Path) -> dict:
    """The sibling bundle's manifest (plain JSON: only its sections and producer are read)."""
    file = Path(path) / "manifest.json"
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"--choices-from {path}: no readable bundle manifest there ({type(e).__name__})") from None


def check_sibling(loaded: Loaded, sibling: dict, path: str | Path) -> None:
    """UserError with one line when the sibling is not a validated bundle of the same data and recipe's kind."""
    meta, producer = loaded.prep.meta(), sibling.get("producer") or {}
    if producer.get("dataset") != loaded.cfg.dataset:
        raise UserError(f"--choices-from {path}: its run is on {producer.get('dataset')!r}, this one on "
                        f"{loaded.cfg.dataset!r}")
    for key in SAME:
        mine, theirs = meta.get(key), sibling.get(key)
        if (list(mine) if isinstance(mine, list | tuple) else mine) != theirs:
            raise UserError(f"--choices-from {path}: its {key} ({theirs}) differ from this run's ({mine})")
    if not producer.get("val_fraction"):
        raise UserError(f"--choices-from {path}: that bundle's run had no validation people either")
    if producer.get("excluded_class") is not None or loaded.cfg.exclude_class is not None:
        raise UserError("--choices-from: a refit is exported as a classifier bundle only (no --exclude-class): a "
                        "novelty bundle's alert point needs validation people its graphs did not train on")


def with_sibling_validation(loaded: Loaded, sibling: dict) -> Loaded:
    """`loaded` with the sibling's validation rows as the rows the export calibrates on (the refit trained on
    them too: its training rows stay all of them)."""
    p, ds = sibling["producer"], loaded.prep.ds
    groups = ds.groups_train
    val = make_split(ds.y_train, ds.n_classes, None, int(p["seed"]), float(p["val_fraction"]), groups,
                     list(ds.classes)).val
    return replace(loaded, prep=replace(loaded.prep, split=replace(loaded.prep.split, val=val)))


def decoding(sibling: dict, path: str | Path, say) -> tuple[dict | None, ...]:
    """(smoothing, sequence, mounting, posture): the sibling's sections as it wrote them; `say` names them."""
    taken = [k for k in DECODING if sibling.get(k) is not None]
    say(f"a refit: {', '.join(taken) or 'no decoding section'} taken from {path} (chosen there on its validation "
        "people)")
    return tuple(sibling.get(k) for k in DECODING)


def entry(sibling: dict | None, path: str | Path | None) -> dict | None:
    """The manifest's `refit` (None for any other run): what the graphs trained on and where the choices came
    from."""
    if sibling is None:
        return None
    p = sibling["producer"]
    people = (sibling.get("alert") or {}).get("streams", {}).get("people")
    return {
        "choices_from": str(path), "sibling_run": p.get("run"), "sibling_val_fraction": p.get("val_fraction"),
        "sibling_validation_people": people,
        "taken_verbatim": [k for k in DECODING if sibling.get(k) is not None],
        "what": "graphs trained on every training row (no validation rows); the decoding sections are the "
                "sibling's, chosen on its validation people with its graphs; the alert point and threshold were "
                "fitted on those people, whom these graphs trained on (optimistic)",
    }
