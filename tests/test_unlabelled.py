"""Unlabelled rows (-1) as a first-class fact: budgets, validation split, held-out class, training.

The built-in sets are fully labelled and must draw exactly the rows they always drew (RESULTS cells
reproduce); partly labelled data keeps at most the labels it has."""

import hashlib

import numpy as np
import pytest

from ssvae_train.data.budgets import exclude_class, make_split
from ssvae_train.data.digits import load_digits
from ssvae_train.errors import UserError


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def partly(y: np.ndarray, keep: int, seed: int = 5) -> np.ndarray:
    """`y` with all but `keep` random labels per class set to -1."""
    rng = np.random.default_rng(seed)
    out = np.full_like(y, -1)
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))[:keep]
        out[rows] = c
    return out


def test_fully_labelled_sets_draw_the_rows_they_always_drew(digits):
    # pinned from the implementation before unlabelled rows existed (commit faf411a)
    s = make_split(digits.y_train, 10, 100, seed=0)
    digest = hashlib.sha256(np.concatenate([s.labelled, s.val]).astype(np.int64).tobytes()).hexdigest()
    assert digest[:16] == "523fc03259620e19"
    assert s.labelled[:10].tolist() == [18, 21, 36, 38, 77, 85, 119, 123, 134, 153]


def test_all_keeps_every_given_label_and_only_those(digits):
    y = partly(digits.y_train, 12)
    s = make_split(y, 10, None, seed=0)
    assert (y[s.labelled] >= 0).all()
    assert set(s.labelled) == set(np.flatnonzero(y >= 0)) - set(s.val)
    assert len(s.labelled) == 120  # validation took no label: it takes unlabelled rows only
    assert (y[s.val] == -1).all() and len(s.val) == round(0.1 * (y == -1).sum())
    assert len(np.intersect1d(s.val, s.train)) == 0 and len(s.val) + len(s.train) == len(y)


def test_a_count_budget_keeps_at_most_that_many_of_the_labels_given(digits):
    y = partly(digits.y_train, 12)
    s = make_split(y, 10, 50, seed=0)
    assert len(s.labelled) == 50 and (y[s.labelled] >= 0).all()
    assert np.bincount(y[s.labelled], minlength=10).tolist() == [5] * 10
    y3 = y.copy()
    y3[np.flatnonzero(y == 3)[5:]] = -1
    with pytest.raises(UserError, match="class '3' has 5 labelled training rows, 10 labels were asked for"):
        make_split(y3, 10, 100, seed=0, classes=digits.classes)
    with pytest.raises(UserError, match="only 120 labelled training rows"):
        make_split(y, 10, 200, seed=0)


def test_a_fraction_budget_is_a_share_of_each_class_labels(digits):
    y = partly(digits.y_train, 20)
    s = make_split(y, 10, 0.5, seed=0)
    assert np.bincount(y[s.labelled], minlength=10).tolist() == [10] * 10


def test_a_class_without_any_label_is_refused_unless_nothing_is_labelled(digits):
    y = partly(digits.y_train, 5)
    y[y == 4] = -1
    with pytest.raises(UserError, match="class '4' has no labelled training row"):
        make_split(y, 10, None, seed=0, classes=digits.classes)
    s = make_split(np.full_like(y, -1), 10, None, seed=0)  # a plain VAE's data
    assert len(s.labelled) == 0 and len(s.train) > 0


def test_groups_split_validation_by_whole_recordings():
    groups = np.repeat(np.arange(20), 10)
    y = np.tile(np.arange(2), 100)
    s = make_split(y, 2, None, seed=1, val_fraction=0.2, groups=groups)
    assert not set(groups[s.val]) & set(groups[s.train])
    assert len(s.val) == 40
    with pytest.raises(UserError, match="at least 2"):
        make_split(y, 2, None, seed=1, groups=np.zeros(200, int))


def test_exclude_class_leaves_unlabelled_rows_unlabelled(digits):
    ds = digits
    y = partly(ds.y_train, 12)
    from dataclasses import replace

    out = exclude_class(replace(ds, y_train=y), 3)  # not the last class: -1 would index it
    assert (out.y_train == -1).sum() == (y == -1).sum()  # not mapped to the last class
    assert out.y_train.max() == 8 and set(np.unique(out.y_train)) == set(range(-1, 9))


def test_training_never_feeds_an_unlabelled_row_as_labelled(digits):
    from dataclasses import replace

    from ssvae_train.data.prepared import Prepared
    from ssvae_train.training.batches import epoch_batches

    y = partly(digits.y_train, 3)
    ds = replace(digits, y_train=y)
    prep = Prepared(ds, make_split(y, 10, None, seed=0))
    b = epoch_batches(prep, "ssvae", 64, seed=0, epoch=0)
    lab = np.concatenate(b.labelled)
    assert (y[lab] >= 0).all()
    assert set(np.concatenate(b.unlabelled)) == set(prep.split.unlabelled)
    assert prep.counts()["labelled"] == 30 and prep.counts()["train_unlabelled"] == int((y < 0).sum())
