"""Every input fault has a defined outcome (see ssvae_edge/csvinput.py and stream.py):

non-numeric / short / long CSV row -> kept as a NaN sample, counted in bad_rows, its windows skipped;
NaN / inf values -> windows skipped and counted; blank lines -> ignored;
wrong or unknown channel columns, no header, empty input, sample-rate mismatch -> InputError.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from edge_fixtures import CHANNELS, WINDOW, make_bundle, noise_stream

from ssvae_edge import Bundle, InputError, StreamScorer
from ssvae_edge.csvinput import SampleReader


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return Bundle.load(make_bundle(tmp_path_factory.mktemp("bundle") / "b"), threads=1)


def csv_text(x: np.ndarray, times: np.ndarray | None = None, labels: bool = False,
             columns: list[str] | None = None) -> list[str]:
    """Lines of a CSV stream (header first); `columns` reorders the channels."""
    cols = columns or list(CHANNELS)
    header = (["time"] if times is not None else []) + cols + (["label"] if labels else [])
    lines = [",".join(header)]
    for i, row in enumerate(x):
        vals = [repr(float(row[CHANNELS.index(c)])) for c in cols]
        if times is not None:
            vals.insert(0, f"{times[i]:.4f}")
        if labels:
            vals.append("WALKING")
        lines.append(",".join(vals))
    return lines


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def stream_file(bundle: Bundle, path: Path | str, **kw) -> tuple[list[dict], dict]:
    scorer = StreamScorer(bundle, **kw)
    reader = SampleReader(path, bundle.channels, bundle.sample_rate_hz, chunk_rows=100)
    events = [e for samples, times in reader for e in scorer.feed(samples, times)]
    return events, scorer.flush(reader.stats.as_dict())


def test_clean_csv_in_any_column_order_equals_the_array(bundle: Bundle, tmp_path: Path) -> None:
    x = noise_stream(700)
    cols = list(reversed(CHANNELS))
    p = write(tmp_path / "s.csv", csv_text(x, np.arange(700) / 50, labels=True, columns=cols))
    events, summary = stream_file(bundle, p)
    ref = StreamScorer(bundle).feed(x)
    assert [(e["start"], e["class"], e["score"]) for e in events] == \
        [(e["start"], e["class"], e["score"]) for e in ref]
    assert events[1]["time"] == pytest.approx(64 / 50)
    assert summary["bad_rows"] == 0 and summary["rows"] == 700 and summary["measured_rate_hz"] == 50.0


@pytest.mark.parametrize("fault, reason", [
    (lambda row: row.replace(row.split(",")[3], "abc", 1), "non_numeric"),
    (lambda row: row.replace(row.split(",")[3], "", 1), "non_numeric"),
    (lambda row: ",".join(row.split(",")[:-2]), "short"),
    (lambda row: row + ",1.0", "long"),
])
def test_bad_csv_row_is_a_counted_gap_whose_windows_are_skipped(bundle: Bundle, tmp_path: Path, fault,
                                                                reason: str) -> None:
    x = noise_stream(700)
    lines = csv_text(x, np.arange(700) / 50)
    lines[1 + 300] = fault(lines[1 + 300])  # sample 300: inside windows starting at 192 and 256
    events, s = stream_file(bundle, write(tmp_path / "s.csv", lines))
    assert s["bad_rows"] == 1 and s["bad_row_reasons"][reason] == 1 and s["first_bad_lines"] == [302]
    assert s["rows"] == 700  # the bad row still takes its place in time
    assert s["skipped"] == 2 and s["skipped_reasons"]["non_finite_input"] == 2
    ref = {e["start"]: e for e in StreamScorer(bundle).feed(x)}
    assert [e["start"] for e in events] == [k for k in ref if k not in (192, 256)]
    assert all(e["class"] == ref[e["start"]]["class"] for e in events)  # nothing spliced across the gap


def test_nan_and_inf_values_in_csv_skip_their_windows(bundle: Bundle, tmp_path: Path) -> None:
    x = noise_stream(500)
    x[10, 0], x[400, 8] = np.nan, -np.inf
    events, s = stream_file(bundle, write(tmp_path / "s.csv", csv_text(x)))
    assert s["bad_rows"] == 0  # they are numbers, just not finite ones
    assert s["skipped_reasons"]["non_finite_input"] == 2  # window 0 (sample 10), window 320 (sample 400)
    assert [e["start"] for e in events] == [64, 128, 192, 256]


def test_blank_lines_are_ignored(bundle: Bundle, tmp_path: Path) -> None:
    lines = csv_text(noise_stream(300))
    lines.insert(50, "")
    lines.append("")
    events, s = stream_file(bundle, write(tmp_path / "s.csv", lines))
    assert s["rows"] == 300 and s["bad_rows"] == 0 and len(events) == 3


@pytest.mark.parametrize("columns, message", [
    (CHANNELS[:-1], r"missing channel column\(s\) total_acc_z"),
    (CHANNELS[:-1] + ["total_acc_Z"],
     r"missing channel column\(s\) total_acc_z; unknown column\(s\) 'total_acc_Z'"),
    (CHANNELS + ["body_acc_x"], "duplicate column"),
])
def test_wrong_channel_columns_are_a_clear_error(bundle: Bundle, tmp_path: Path, columns, message) -> None:
    p = write(tmp_path / "s.csv", [",".join(columns), ",".join(["0"] * len(columns))])
    with pytest.raises(InputError, match=message):
        SampleReader(p, bundle.channels)


def test_extra_columns_a_logger_writes_are_ignored_with_one_note(bundle: Bundle, tmp_path: Path) -> None:
    lines = csv_text(noise_stream(300))
    lines = [lines[0] + ",temperature,activity"] + [r + ",21.5,WALKING" for r in lines[1:]]
    reader = SampleReader(write(tmp_path / "s.csv", lines), bundle.channels)
    assert reader.stats.ignored_columns == ["temperature", "activity"]
    assert "ignoring column(s) 'temperature', 'activity'" in reader.stats.note()
    plain = SampleReader(write(tmp_path / "p.csv", csv_text(noise_stream(300))), bundle.channels)
    assert plain.stats.note() is None
    got, want = np.concatenate([c[0] for c in reader]), np.concatenate([c[0] for c in plain])
    np.testing.assert_array_equal(got, want)  # the channels are read as without the extra columns


def test_headerless_and_empty_csv_are_clear_errors(bundle: Bundle, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="must be a header naming the channels"):
        SampleReader(write(tmp_path / "a.csv", csv_text(noise_stream(3))[1:]), bundle.channels)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="the input is empty"):
        SampleReader(tmp_path / "empty.csv", bundle.channels)
    reader = SampleReader(write(tmp_path / "h.csv", csv_text(noise_stream(0))), bundle.channels)
    with pytest.raises(InputError, match="header but no samples"):
        list(reader)
    with pytest.raises(InputError, match="no such file"):
        SampleReader(tmp_path / "missing.csv", bundle.channels)


def test_utf8_bom_header_is_read(bundle: Bundle, tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_text("\n".join(csv_text(noise_stream(200))) + "\n", encoding="utf-8-sig")
    events, s = stream_file(bundle, p)
    assert s["rows"] == 200 and len(events) == 2


@pytest.mark.parametrize("rate, ok", [(50.0, True), (48.0, True), (52.4, True), (47.0, False),
                                      (100.0, False), (25.0, False)])
def test_sample_rate_mismatch_over_5_percent_is_an_error(bundle: Bundle, tmp_path: Path, rate: float,
                                                         ok: bool) -> None:
    n = 600
    jitter = np.random.default_rng(0).uniform(-0.1, 0.1, n) / rate  # +-10% timing jitter per sample
    p = write(tmp_path / "s.csv", csv_text(noise_stream(n), np.arange(n) / rate + jitter))
    if ok:
        events, s = stream_file(bundle, p)
        assert len(events) == (n - WINDOW) // 64 + 1
        assert s["measured_rate_hz"] == pytest.approx(rate, rel=0.02)
    else:
        with pytest.raises(InputError, match=rf"gives {rate:.3g} Hz but the bundle expects 50 Hz"):
            stream_file(bundle, p)


def test_rate_is_checked_before_any_window_and_again_later(bundle: Bundle, tmp_path: Path) -> None:
    t = np.concatenate([np.arange(400) / 50, 8 + np.arange(1, 401) / 100])  # switches to 100 Hz
    scorer = StreamScorer(bundle)
    reader = SampleReader(write(tmp_path / "s.csv", csv_text(noise_stream(800), t)), bundle.channels,
                          bundle.sample_rate_hz, chunk_rows=64)
    first = next(iter(reader))
    assert reader.rate.checked and len(first[0]) == 64  # checked on the first chunk, before scoring
    with pytest.raises(InputError, match="100 Hz"):
        for samples, times in reader:
            scorer.feed(samples, times)


def test_time_that_does_not_increase_is_an_error(bundle: Bundle, tmp_path: Path) -> None:
    p = write(tmp_path / "s.csv", csv_text(noise_stream(100), np.arange(100)[::-1] / 50))
    with pytest.raises(InputError, match="does not increase"):
        stream_file(bundle, p)


def test_stdin_csv(bundle: Bundle) -> None:
    text = "\n".join(csv_text(noise_stream(300))) + "\n"
    reader = SampleReader("-", bundle.channels, stdin=io.StringIO(text), chunk_rows=64)
    chunks = list(reader)
    assert [len(c[0]) for c in chunks] == [64, 64, 64, 64, 44] and chunks[0][1] is None


def test_npy_input(bundle: Bundle, tmp_path: Path) -> None:
    x = noise_stream(500)
    np.save(tmp_path / "x.npy", x)
    events, s = stream_file(bundle, tmp_path / "x.npy")
    assert [e["start"] for e in events] == list(range(0, 500 - WINDOW + 1, 64)) and s["rows"] == 500
    with open(tmp_path / "also_npy.bin", "wb") as f:
        np.save(f, x)  # recognised by its magic bytes, not its name
    assert len(stream_file(bundle, tmp_path / "also_npy.bin")[0]) == len(events)


@pytest.mark.parametrize("array, message", [
    (np.zeros((100, 8), np.float32), r"expected 9 channels .* got 8"),
    (np.zeros((0, 9), np.float32), "no samples"),
    (np.zeros((2, 128, 9), np.float32), r"expected a \[T, 9\] array"),
    (np.array([["a"] * 9]), "not numbers"),
    (np.array([[object()] * 9], dtype=object), "not a readable .npy"),
])
def test_bad_npy_is_a_clear_error(bundle: Bundle, tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "x.npy", array, allow_pickle=True)
    with pytest.raises(InputError, match=message):
        SampleReader(tmp_path / "x.npy", bundle.channels)
