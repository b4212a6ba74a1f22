"""Label budgets, the validation split and the held-out anomaly class.

A budget chooses which training rows keep their label; everything else is still used, unlabelled.
Rows that come without a label (`UNLABELLED`, user data) stay unlabelled: a budget keeps at most that
many of the labels that exist, and `all` keeps every label given. The validation split always comes out
of the training set, never the test set. Fully labelled data (the built-ins) is split stratified by
class; partly labelled rows give validation unlabelled rows only (a user's few labels all train the
model, and validation watches the ELBO); recordings (`groups`) give it whole recordings, their labels
included, so overlapping windows of one recording never sit on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ssvae_train.data.dataset import UNLABELLED, DataSet
from ssvae_train.errors import UserError

VAL_SPLITS = ("random", "blocks")
# --val-split blocks: the training rows in stored order cut into this many contiguous blocks, whole blocks
# drawn for validation. Windowed data sets store recordings one after the other (UCI-HAR: its 21 training
# people in turn), so a block is mostly one person's session and shares overlapping windows with training
# only at its two edges: validation then resembles unseen people, as the test set does, not their neighbours.
VAL_BLOCKS = 20


def contiguous_blocks(n: int, blocks: int = VAL_BLOCKS) -> np.ndarray:
    """A group id per row: `blocks` contiguous runs of (nearly) equal length."""
    return (np.arange(n) * min(blocks, max(n, 1)) // max(n, 1)).astype(np.int64)


def parse_labels(spec: str | int | float) -> int | float | None:
    """`all` (or `given`) -> None (every label there is); `100` -> 100 rows; `0.05` -> 5 % of the rows."""
    text = str(spec).strip().lower()
    if text in ("all", "given"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"--labels {spec!r}: expected a count (100), a fraction (0.05) or 'all'") from None
    if value <= 0:
        raise UserError(f"--labels {spec!r}: must be positive")
    if "." in text or "e" in text:
        if value > 1:
            raise UserError(f"--labels {spec!r}: a fraction must be at most 1")
        return None if value == 1 else value
    return int(value)


@dataclass
class Split:
    """Row indices into the training arrays: `train` (all used rows), its `labelled` part, and `val`."""

    train: np.ndarray
    labelled: np.ndarray
    val: np.ndarray

    @property
    def unlabelled(self) -> np.ndarray:
        return np.setdiff1d(self.train, self.labelled)


def rows_touching(ds: DataSet, names: list[str]) -> np.ndarray:
    """bool [N]: the training rows whose window holds at least one sample labelled with one of `names`, read
    from the recordings the windows were cut from. A window that straddles a segment's edge is unlabelled
    (its samples disagree) yet holds part of that segment. All False when the rows are not windows of known
    recordings (built-in windowed sets, images)."""
    touching = np.zeros(len(ds.y_train), dtype=bool)
    if ds.train_recording_index() is None:
        return touching
    start = 0
    for rec in (r for r in ds.recordings if not r.test):
        n = max((len(rec.x) - ds.window) // ds.hop + 1, 0)
        if n:
            hit = np.concatenate([[0], np.cumsum(np.isin(rec.labels, names))])
            starts = np.arange(n) * ds.hop
            touching[start:start + n] = hit[starts + ds.window] > hit[starts]
        start += n
    return touching


def exclude_class(ds: DataSet, k: int, also: int | None = None, whole_windows_only: bool = False) -> DataSet:
    """Drop class k from training (the anomaly protocol); test rows of class k get label -1.

    The remaining classes are renumbered 0..K-2 so the model never has an output it cannot learn.
    `also` (the score-selection protocol, `--val-anomaly-class`) drops one more class the same way; the
    manifest's anomaly class stays k. Windows of recordings that hold any sample of a dropped class leave
    too, though unlabelled: a held-out class is one the model never saw (HAPT's edge windows held half a
    WALKING_DOWNSTAIRS window each, 502 of them beside 924 whole ones). `whole_windows_only` keeps them,
    as runs trained before 2026-12-07 (`--held-out-windows whole`) did.
    """
    for c, flag in ((k, "--exclude-class"), (also, "--val-anomaly-class")):
        if c is not None and not 0 <= c < ds.n_classes:
            raise UserError(f"{flag} {c}: the data set has classes 0..{ds.n_classes - 1}")
    if also == k:
        raise UserError(f"--val-anomaly-class {also}: must differ from --exclude-class")
    out = [k] if also is None else [k, also]
    keep = ~np.isin(ds.y_train, out)  # other unlabelled rows stay: nothing says they are of class k
    edges = 0
    if not whole_windows_only:
        touching = rows_touching(ds, [ds.classes[c] for c in out])
        edges = int((touching & keep).sum())
        keep &= ~touching
    remap = np.full(ds.n_classes + 1, UNLABELLED, dtype=np.int64)  # index -1 (unlabelled) maps to -1
    kept = [c for c in range(ds.n_classes) if c not in out]
    remap[kept] = np.arange(len(kept))
    extra = {**ds.extra, "excluded_class": k, "excluded_name": ds.classes[k],
             # windows of recordings only: built-in windowed sets and images have no segment edges to count
             **({"excluded_edge_windows": edges} if ds.recordings is not None else {})}
    if also is not None:
        extra.update(val_anomaly_class=also, val_anomaly_name=ds.classes[also])
    return replace(
        ds,
        x_train=ds.x_train[keep], y_train=remap[ds.y_train[keep]],
        y_test=remap[ds.y_test],
        subjects_train=None if ds.subjects_train is None else ds.subjects_train[keep],
        groups_train=None if ds.groups_train is None else ds.groups_train[keep],
        classes=[ds.classes[c] for c in kept],
        extra=extra,
        # the edge windows were counted as mixed-label training windows; they are counted as skipped now
        counts={**ds.counts, **({"windows_mixed_labels": ds.counts["windows_mixed_labels"] - edges}
                                if "windows_mixed_labels" in ds.counts else {})},
    )


def _name(c: int, classes: list[str] | None) -> str:
    return f"class {classes[c]!r}" if classes else f"class {c}"


def _stratified_take(
    rng: np.random.Generator, y: np.ndarray, idx: np.ndarray, per_class: list[int], classes: list[str] | None = None
) -> np.ndarray:
    short = [
        (c, int((y[idx] == c).sum()), n) for c, n in enumerate(per_class) if n > int((y[idx] == c).sum())
    ]
    if short:
        raise UserError("; ".join(f"{_name(c, classes)} has {have} labelled training rows, {n} labels were asked for"
                                  for c, have, n in short))
    taken = [rng.permutation(idx[y[idx] == c])[:n] for c, n in enumerate(per_class)]
    return np.sort(np.concatenate(taken)) if taken else np.array([], dtype=np.int64)


def _group_take(rng: np.random.Generator, groups: np.ndarray, fraction: float, y: np.ndarray,
                classes: list[str] | None = None) -> np.ndarray:
    """Rows of whole groups (people, recordings), drawn in a random order until `fraction` of the rows is
    reached. A group is passed over when taking it would leave a class without a labelled training row (its
    only labelled group stays in training); when every group is such a one, one line says why."""
    names, sizes = np.unique(groups, return_counts=True)
    if len(names) < 2:
        raise UserError(
            f"only {len(names)} training group (recording or person): validation holds whole groups out, so give "
            "at least 2 (cut a long session into several files)"
        )
    labelled_in = {g: set(np.unique(y[(groups == g) & (y >= 0)]).tolist()) for g in names}
    left = {c: sum(c in labelled_in[g] for g in names) for c in set().union(*labelled_in.values())}
    target, taken, picked, passed = fraction * len(groups), 0, [], []
    for i in rng.permutation(len(names)):
        if taken >= target or len(picked) == len(names) - 1:  # at least one group stays for training
            break
        g = names[i]
        if any(left[c] <= 1 for c in labelled_in[g]):
            passed.append(g)
            continue
        for c in labelled_in[g]:
            left[c] -= 1
        picked.append(g)
        taken += sizes[i]
    if not picked:
        starved = sorted({c for g in passed for c in labelled_in[g] if left[c] <= 1})
        raise UserError(
            f"no group can be held out for validation: each holds the only labels of {_name(starved[0], classes)}"
            f"{' (and more)' if len(starved) > 1 else ''}; label that class in more recordings (or people)"
        )
    return np.flatnonzero(np.isin(groups, picked))


def make_split(
    y: np.ndarray,
    n_classes: int,
    labels: int | float | None,
    seed: int,
    val_fraction: float = 0.1,
    groups: np.ndarray | None = None,
    classes: list[str] | None = None,
) -> Split:
    """Validation split (stratified, or by `groups`), then a class-balanced label budget drawn from the
    labelled rows of the rest (from `seed`). Fully labelled data without groups draws exactly as it
    always did, so every budget of the built-in sets picks the same rows."""
    rng = np.random.default_rng(seed)
    all_idx = np.arange(len(y))
    has = y >= 0
    if val_fraction == 0:  # a refit: every row trains (the choices were made on a run with validation rows)
        val = np.array([], dtype=np.int64)
    elif groups is not None:
        val = _group_take(rng, groups, val_fraction, y, classes)
    elif has.all():  # fully labelled (every built-in set): stratified over the classes, as it always was
        val_per_class = [int(round(val_fraction * n)) for n in np.bincount(y, minlength=n_classes)]
        val = _stratified_take(rng, y, all_idx, val_per_class, classes)
    else:  # partly labelled rows: validation takes unlabelled rows only, so every label given trains
        unl = all_idx[~has]
        val = np.sort(rng.permutation(unl)[: max(1, int(round(val_fraction * len(unl))))])
    train = np.setdiff1d(all_idx, val)
    given = train[has[train]]  # training rows that carry a label
    train_counts = np.bincount(y[given], minlength=n_classes)
    if labels is None:
        if len(given) and not train_counts.all():  # (no label at all is a plain VAE's data: allowed)
            c = int(np.flatnonzero(train_counts == 0)[0])
            raise UserError(f"{_name(c, classes)} has no labelled training row after the validation split: label "
                            "some, or the classifier has an output it cannot learn")
        return Split(train=train, labelled=given, val=val)
    if isinstance(labels, float):
        per_class = [max(1, int(round(labels * n))) for n in train_counts]
    else:
        if labels < n_classes:
            raise UserError(f"--labels {labels}: fewer labels than the {n_classes} classes (need at least one each)")
        if labels > len(given):
            what = "training rows" if len(given) == len(train) else "labelled training rows"
            raise UserError(f"--labels {labels}: only {len(given)} {what} after the validation split")
        per_class = [labels // n_classes + (1 if c < labels % n_classes else 0) for c in range(n_classes)]
    return Split(train=train, labelled=_stratified_take(rng, y, given, per_class, classes), val=val)
