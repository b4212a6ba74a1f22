"""Data sets in their raw units, label budgets and splits.

Every loader returns a `DataSet` whose arrays are in the data set's own units (MNIST pixels 0..255,
UCI-HAR signals in g and rad/s): scaling lives inside the model, so the exported graphs take raw input.
"""

from ssvae_train.data.dataset import DataSet
from ssvae_train.data.load import load_dataset

__all__ = ["DataSet", "load_dataset"]
