"""Shared fixtures: paths to the small real-data slices committed under tests/data (see its README.md)."""

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture
def mnist_slice_dir() -> Path:
    """The four MNIST IDX .gz files: the first 600 train and 200 test images."""
    return DATA / "mnist"


@pytest.fixture
def har_slice_zip() -> Path:
    """`UCI HAR Dataset.zip` in the original layout: the first 64 train and 60 test windows."""
    return DATA / "uci-har" / "UCI HAR Dataset.zip"


@pytest.fixture
def har_labels_zip() -> Path:
    """The original UCI-HAR labels, subject ids and metadata, unchanged (no signals)."""
    return DATA / "uci-har" / "UCI HAR Dataset - labels and metadata only.zip"


@pytest.fixture
def mnist_original_test_labels() -> Path:
    """The canonical `t10k-labels-idx1-ubyte.gz`, unchanged."""
    return DATA / "originals" / "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tests run on 2-core machines beside other work: torch's default thread pool only adds contention
    (an LSTM step was ~13x slower with 2 threads on a busy machine). Subprocesses get OMP_NUM_THREADS=1."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch
    except ImportError:  # the edge-only install has no torch
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
