"""Label budgets, the validation split and the held-out class, on the real digits labels."""

import numpy as np
import pytest

from ssvae_train.data.budgets import exclude_class, make_split, parse_labels
from ssvae_train.data.digits import load_digits
from ssvae_train.errors import UserError


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_parse_labels_forms():
    assert parse_labels("all") is None
    assert parse_labels("100") == 100
    assert parse_labels("0.05") == pytest.approx(0.05)
    assert parse_labels("1.0") is None
    for bad in ("-3", "abc", "1.5", "0"):
        with pytest.raises(UserError):
            parse_labels(bad)


def test_count_budget_is_balanced_and_reproducible(digits):
    a = make_split(digits.y_train, 10, 100, seed=3)
    b = make_split(digits.y_train, 10, 100, seed=3)
    c = make_split(digits.y_train, 10, 100, seed=4)
    assert np.array_equal(a.labelled, b.labelled)
    assert not np.array_equal(a.labelled, c.labelled)
    assert np.bincount(digits.y_train[a.labelled], minlength=10).tolist() == [10] * 10


def test_uneven_count_spreads_remainder(digits):
    s = make_split(digits.y_train, 10, 23, seed=0)
    counts = np.bincount(digits.y_train[s.labelled], minlength=10)
    assert counts.sum() == 23 and counts.max() - counts.min() <= 1


def test_fraction_budget_is_stratified(digits):
    s = make_split(digits.y_train, 10, 0.1, seed=0)
    per_class = np.bincount(digits.y_train[s.train], minlength=10)
    labelled = np.bincount(digits.y_train[s.labelled], minlength=10)
    assert np.all(np.abs(labelled - 0.1 * per_class) <= 1)


def test_validation_comes_from_training_and_is_disjoint(digits):
    s = make_split(digits.y_train, 10, 100, seed=0, val_fraction=0.1)
    assert len(np.intersect1d(s.val, s.train)) == 0
    assert len(np.intersect1d(s.val, s.labelled)) == 0
    assert len(s.val) + len(s.train) == len(digits.y_train)
    assert set(s.labelled) <= set(s.train)
    assert len(np.intersect1d(s.unlabelled, s.labelled)) == 0


def test_all_labels_labels_every_training_row(digits):
    s = make_split(digits.y_train, 10, None, seed=0)
    assert np.array_equal(s.labelled, s.train) and len(s.unlabelled) == 0


def test_too_few_labels_refused(digits):
    with pytest.raises(UserError, match="fewer labels than"):
        make_split(digits.y_train, 10, 5, seed=0)


def test_exclude_class_removes_it_from_training_only(digits):
    ds = exclude_class(digits, 3)
    assert ds.n_classes == 9 and "3" not in ds.classes
    assert "excluded_edge_windows" not in ds.extra  # no recordings, no segment edges to count
    assert len(ds.x_train) == int((digits.y_train != 3).sum())
    assert ds.y_train.max() == 8 and ds.y_train.min() == 0
    assert np.array_equal(ds.y_test == -1, digits.y_test == 3)  # the test set keeps it, marked -1
    # classes above 3 shift down by one; the names follow
    i = int(np.flatnonzero(digits.y_test == 7)[0])
    assert ds.classes[ds.y_test[i]] == "7"
    with pytest.raises(UserError):
        exclude_class(digits, 10)


def test_block_validation_takes_whole_contiguous_blocks():
    from ssvae_train.data.budgets import VAL_BLOCKS, contiguous_blocks

    g = contiguous_blocks(1000)
    assert len(np.unique(g)) == VAL_BLOCKS and (np.diff(g) >= 0).all() and np.bincount(g).min() == 1000 // VAL_BLOCKS
    y = np.arange(1000) % 5
    split = make_split(y, 5, None, seed=3, val_fraction=0.1, groups=g)
    val_blocks = np.unique(g[split.val])
    assert np.array_equal(split.val, np.flatnonzero(np.isin(g, val_blocks)))  # whole blocks, nothing else
    assert 0.1 <= len(split.val) / 1000 < 0.2 and not np.intersect1d(split.val, split.train).size


def test_a_split_seed_keeps_the_validation_rows_and_labels_and_the_seed_the_rest(tmp_path):
    """`--split-seed`: runs with one split seed and other seeds share their validation rows and labelled rows and
    differ in initialisation; the manifest names the split seed and `--requantize` rebuilds the same data."""
    import torch

    from ssvae_edge.contract import Manifest
    from ssvae_train.config import FitConfig
    from ssvae_train.export.config import ExportConfig
    from ssvae_train.export.exporter import export_run
    from ssvae_train.export.requantize import requantize_bundle
    from ssvae_train.training.checkpoint import load_checkpoint
    from ssvae_train.training.prepare import prepare
    from ssvae_train.training.trainer import fit

    base = dict(dataset="digits", labels="100", epochs=1)
    a, b = prepare(FitConfig(**base, seed=1, split_seed=7)), prepare(FitConfig(**base, seed=2, split_seed=7))
    assert np.array_equal(a.split.val, b.split.val) and np.array_equal(a.split.labelled, b.split.labelled)
    own = prepare(FitConfig(**base, seed=7))
    assert np.array_equal(own.split.val, a.split.val)  # the default: the split comes from --seed
    assert not np.array_equal(prepare(FitConfig(**base, seed=1)).split.val, a.split.val)
    torch.set_num_threads(1)
    runs = [fit(FitConfig(**base, seed=s, split_seed=7), tmp_path / f"r{s}", progress=False).parent for s in (1, 2)]
    w = [load_checkpoint(r)["state_dict"]["pi.weight"] for r in runs]
    assert not torch.equal(w[0], w[1])  # another initialisation
    manifest = export_run(runs[0], tmp_path / "bundle", ExportConfig(quantize="int8"))
    assert manifest["producer"]["seed"] == 1 and manifest["producer"]["split_seed"] == 7
    requantize_bundle(tmp_path / "bundle", None, say=lambda _: None)  # refuses data other than the run's
    assert Manifest.load(tmp_path / "bundle").producer.split_seed == 7
