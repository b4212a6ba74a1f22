"""`load_dataset`: the one entry point to the data sets, by name; each loader returns a `dataset.DataSet`."""

from __future__ import annotations

from pathlib import Path

from ssvae_train.data.arrays import load_arrays
from ssvae_train.data.dataset import DATASETS, DataSet
from ssvae_train.data.digits import load_digits
from ssvae_train.data.hapt import load_hapt
from ssvae_train.data.mnist import load_mnist
from ssvae_train.data.recordings import load_recordings
from ssvae_train.data.uci_har import load_uci_har
from ssvae_train.errors import UserError


def load_dataset(
    name: str, data_dir: str | Path | None = None, window: int | None = None, hop: int | None = None,
    transitions: bool = False,
) -> DataSet:
    """Load a data set by name: `digits` (embedded, needs no directory), `mnist`, `uci-har`, `hapt` (the
    continuous phone recordings, cut by `window`/`hop`; `transitions` makes the postural transitions classes),
    or the user's own `arrays` (a .npz file) or `recordings` (a folder of CSVs, cut by `window`/`hop`)."""
    if (window is not None or hop is not None) and name not in ("recordings", "hapt"):
        raise UserError("--window and --hop cut recordings into windows: use them with --dataset recordings or hapt")
    if transitions and name != "hapt":
        raise UserError("--transitions is HAPT's: use it with --dataset hapt")
    if name == "digits":
        return load_digits()
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    if data_dir is None:
        raise UserError(f"--data-dir is required for {name} (the folder with its files)")
    path = Path(data_dir)
    if not path.exists():
        raise UserError(f"data directory {str(path)!r} does not exist")
    if name == "arrays":
        return load_arrays(path)
    if name == "recordings":
        return load_recordings(path, window, hop)
    if name == "hapt":
        return load_hapt(path, window, hop, transitions)
    if name == "mnist":
        return load_mnist(path)
    return load_uci_har(path)
