"""ssvae_train.data.har_streams (the code of tools/har_streams.py) on real UCI-HAR windows (the committed
slice, tests/data/uci-har): the demo stream
read at hop 128 gives back exactly the listed data-set windows, and a rebuilt run read at hop 64 gives
back exactly its chained windows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from edge_fixtures import make_bundle

from ssvae_edge import Bundle, StreamScorer
from ssvae_edge.csvinput import SampleReader
from ssvae_train.data.har_streams import build_streams

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def har(har_slice_zip: Path):
    uci = pytest.importorskip("ssvae_train.data.uci_har")
    return uci.load_uci_har(har_slice_zip)


@pytest.fixture
def streams(har, tmp_path: Path) -> tuple[Path, dict]:
    out = tmp_path / "har"
    report = build_streams(har.x_test, har.y_test, list(har.classes), list(har.channels), out,
                                   demo_minutes=1.0, seed=3, min_run_windows=3)
    return out, report


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return Bundle.load(make_bundle(tmp_path_factory.mktemp("bundle") / "b"), threads=1)


def scored_windows(bundle: Bundle, path: Path, hop: int) -> tuple[np.ndarray, list[dict], dict]:
    scorer = StreamScorer(bundle, hop=hop)
    seen: list[np.ndarray] = []
    gather = scorer.ring.gather
    scorer.ring.gather = lambda s, n: seen.append(gather(s, n)) or seen[-1]  # type: ignore[method-assign]
    reader = SampleReader(path, bundle.channels, bundle.sample_rate_hz)
    events = [e for x, t in reader for e in scorer.feed(x, t)]
    return np.concatenate(seen), events, scorer.flush(reader.stats.as_dict())


def test_demo_stream_windows_are_the_listed_dataset_windows(har, streams, bundle: Bundle) -> None:
    out, report = streams
    with (out / "demo_windows.csv").open() as f:
        listed = list(csv.DictReader(f))
    idx = [int(r["test_index"]) for r in listed]
    assert len(idx) == report["demo"]["windows"] == 23  # 1 min at 50 Hz = 23 windows of 128
    windows, events, summary = scored_windows(bundle, out / "demo_stream.csv", hop=128)
    np.testing.assert_array_equal(windows, har.x_test[idx])  # exactly, value for value
    assert summary["windows"] == 23 and summary["partial_windows"] == 0 and summary["bad_rows"] == 0
    assert summary["measured_rate_hz"] == 50.0
    assert [r["label"] for r in listed] == [har.classes[har.y_test[i]] for i in idx]
    # all six activities, in contiguous segments of several windows
    labels = [r["label"] for r in listed]
    assert set(labels) == set(har.classes)
    segments = [labels[0]] + [b for a, b in zip(labels, labels[1:], strict=False) if a != b]
    assert len(segments) == 6 and len(set(idx)) == len(idx)
    with (out / "demo_stream.csv").open() as f:
        header = next(csv.reader(f))
    assert header == ["time", *har.channels, "label"]


def test_rebuilt_runs_stream_back_into_their_windows(har, streams, bundle: Bundle) -> None:
    out, report = streams
    stats = report["stats"]
    assert stats["runs"] == len(report["runs"])
    assert sum(r["windows"] for r in report["runs"]) == len(har.x_test)
    assert json.loads((out / "runs.json").read_text())["stats"] == stats
    written = [r for r in report["runs"] if r["file"]]
    assert written and all(r["windows"] >= 3 for r in written)
    run = max(written, key=lambda r: r["windows"])
    windows, events, _ = scored_windows(bundle, out / run["file"], hop=64)
    np.testing.assert_array_equal(windows, har.x_test[run["test_indices"]])
    assert "CC BY 4.0" in (out / "README.md").read_text() and "Anguita" in (out / "README.md").read_text()
