"""scikit-learn's bundled 8x8 digits: the embedded default that needs no data directory or network."""

from __future__ import annotations

import numpy as np

from ssvae_train.data.dataset import DataSet


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> DataSet:
    """1,797 images of 8x8 pixels in 0..16, split by a fixed stratified shuffle (the set ships unsplit)."""
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    bunch = sk_load()
    x = bunch.images.astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return DataSet(
        name="digits", x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te,
        classes=[str(i) for i in range(10)], kind="image", units="pixel intensity 0..16", max_value=16.0,
        source="scikit-learn load_digits (UCI optical recognition of handwritten digits, test set)",
    )
