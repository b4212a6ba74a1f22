"""Score an endless sensor stream window by window, in constant memory.

`StreamScorer.feed` takes chunks of any size of raw `[T, channels]` samples. Samples go into a
fixed-size ring buffer; every complete window (length and default hop from the manifest) is cut out,
scored with the classifier and the anomaly graph in micro-batches, and turned into one event:

    {"window": 0, "start": 0, "class": "WALKING", "prob": 0.97, "score": 12.3, "alert": false}

(+ "time", the first sample's timestamp, when timestamps are fed). Windows are scored as soon as they
are complete (at most `batch` per onnxruntime call), never held back to fill a batch, so a live stream
gets its event one hop after the data arrives. `flush()` ends the stream and returns the summary;
`run(chunks)` yields the window events alone and leaves the summary to `summary()`.

Faults are counted, never scored: a window holding any NaN/inf sample is skipped (reason
`non_finite_input`), as is a window whose model output is not finite (`non_finite_output`); the final
partial window (samples after the last complete window) is dropped and reported as
`partial_windows` (0 or 1) and `partial_samples`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from ssvae_edge.alerts import DEFAULT_CLEAR_K, DEFAULT_K, DEFAULT_M, AlertDebouncer
from ssvae_edge.bundle import Bundle
from ssvae_edge.errors import BundleError, InputError
from ssvae_edge.input_checks import numbers
from ssvae_edge.mounting import MountingEstimate
from ssvae_edge.posture import PostureOpinion
from ssvae_edge.sequence import ForwardFilter
from ssvae_edge.smoothing import ProbabilityAverage
from ssvae_edge.wearer_baseline import WearerBaseline
from ssvae_edge.windows import RingBuffer

SKIP_REASONS = ("non_finite_input", "non_finite_output")


class StreamScorer:
    """Windowing, micro-batched scoring, alerts and fault counting for one stream.

    `hop`: samples between window starts (default: the manifest's). `batch`: most windows per
    onnxruntime call. `alert_k`/`alert_m`/`clear_k`: see `ssvae_edge.alerts`; each not given comes from
    the manifest's calibrated operating point (`alert`, when streaming at the hop it was calibrated at),
    else the runtime's defaults (3, 5, 1).
    `threshold`: anomaly threshold (default: the manifest's; alerts are off when there is none).
    `smoothing`: an event's class and prob are those of the mean probabilities of the last `smoothing`
    scored windows (`ssvae_edge.smoothing`; default: the manifest's `smoothing.windows`, else 1 = none).
    `sequence`: run the manifest's sequence filter (`ssvae_edge.sequence`) after the smoothing; an event's class
    and prob are then the filter's belief (default: True when the manifest has a `sequence`).
    `mounting`: auto (the manifest's causal estimate of whether the phone is turned around, `ssvae_edge.mounting`;
    the default when the manifest has a `mounting`), worn (take the windows as they come) or turned (the user
    says the phone is turned around: every window is turned back).
    `posture`: let the manifest's posture model (`ssvae_edge.posture`) decide between its two still postures
    (default: True when the manifest has a `posture`).
    `wearer_baseline`: alert on the score minus the wearer's own running baseline of its class
    (`ssvae_edge.wearer_baseline`), with that point's threshold and debounce (default: True when the manifest's
    `alert` has a `wearer_baseline`); a `threshold` given applies to the adjusted score then.
    `gate`: with the wearer baseline, only windows whose class is one of the gate's can be above the threshold
    (`ssvae_edge.alert_gate`), with the gate's own prior weight, threshold and debounce (default: True when the
    wearer baseline has a `gate`).
    """

    def __init__(self, bundle: Bundle, hop: int | None = None, batch: int = 32, alert_k: int | None = None,
                 alert_m: int | None = None, clear_k: int | None = None,
                 threshold: float | None = None, smoothing: int | None = None, sequence: bool | None = None,
                 mounting: str | None = None, wearer_baseline: bool | None = None, posture: bool | None = None,
                 gate: bool | None = None):
        m = bundle.manifest
        same_hop = hop is None or hop == m.alert_hop  # a debounce counts windows: it holds at its own hop
        wb = m.wearer_baseline
        if wearer_baseline and wb is None:
            raise InputError("a wearer baseline was asked for but this bundle's manifest has no "
                             "'alert.wearer_baseline'")
        if wearer_baseline and not bundle.has("classifier"):
            raise InputError("a wearer baseline keeps one baseline per class: this bundle has no classifier graph")
        use_wb = wb is not None and wearer_baseline is not False and bundle.has("classifier")
        if gate and not (use_wb and wb.gate is not None):  # type: ignore[union-attr]
            raise InputError("an alert gate was asked for but this bundle's manifest has no "
                             "'alert.wearer_baseline.gate'" + ("" if use_wb or wb is None else
                                                              " in use (the wearer baseline is off)"))
        g = wb.gate if use_wb and gate is not False else None  # type: ignore[union-attr]
        point = g if g is not None else wb if use_wb else None  # the point alerts use: its debounce and threshold
        debounce = (point.k, point.m, point.clear_k) if point is not None else m.alert_debounce
        k0, m0, c0 = (debounce if same_hop else None) or (DEFAULT_K, DEFAULT_M, DEFAULT_CLEAR_K)
        alert_k, alert_m = k0 if alert_k is None else alert_k, m0 if alert_m is None else alert_m
        clear_k = c0 if clear_k is None else clear_k
        if not m.is_sensor:
            raise BundleError("this bundle has no stream metadata (channels, window, hop): "
                              "streaming is for sensor bundles")
        if not (bundle.has("classifier") or bundle.has("anomaly")):
            raise BundleError("this bundle has neither a classifier nor an anomaly graph: nothing to stream")
        hop = m.hop if hop is None else hop
        for name, v in (("hop", hop), ("batch", batch)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}")
        if threshold is not None:
            if not bundle.has("anomaly"):
                raise InputError("a threshold was given but this bundle has no anomaly graph")
            if not np.isfinite(threshold):
                raise InputError(f"threshold must be a finite number, got {threshold!r}")
        self.bundle = bundle
        self.channels: tuple[str, ...] = m.channels  # type: ignore[assignment]
        self.window: int = m.window  # type: ignore[assignment]
        self.hop = int(hop)
        self.batch = int(batch)
        # the bundle's threshold is the one calibrated for the anomaly graph it runs (int8 has its own)
        self.threshold = float(threshold) if threshold is not None else bundle.threshold
        self.wearer = (WearerBaseline(wb.prior, point.prior_windows, wb.memory_windows)  # type: ignore[union-attr]
                       if use_wb else None)
        self.gate = frozenset(g.classes) if g is not None else None
        if point is not None and threshold is None:
            int8 = bundle.precisions.get("anomaly") == "int8" and point.threshold_int8 is not None
            self.threshold = float(point.threshold_int8 if int8 else point.threshold)
        self.alerts = AlertDebouncer(alert_k, alert_m, clear_k)
        self.smoothing = ProbabilityAverage(m.smoothing_windows if smoothing is None else smoothing)
        if sequence and m.sequence_model is None:
            raise InputError("sequence decoding was asked for but this bundle's manifest has no 'sequence'")
        use_sequence = m.sequence_model is not None and sequence is not False
        self.sequence = ForwardFilter(*m.sequence_model) if use_sequence else None  # type: ignore[misc]
        if mounting not in (None, "worn") and m.mounting is None:
            raise InputError(f"mounting {mounting!r} was asked for but this bundle's manifest has no 'mounting'")
        self.mounting = MountingEstimate(m.mounting, mounting or "auto") if m.mounting is not None else None
        if posture and m.posture is None:
            raise InputError("the posture model was asked for but this bundle's manifest has no 'posture'")
        self.posture = (PostureOpinion(m.posture, m.classes, self.channels)
                        if m.posture is not None and posture is not False else None)
        self.alerting = bundle.has("anomaly") and self.threshold is not None
        # Room for `batch` windows at this hop: a long chunk is consumed in slices of this size.
        self.ring = RingBuffer(self.window + (self.batch - 1) * self.hop, len(self.channels))
        self.next_start = 0  # absolute index where the next window starts
        self.last_end = 0  # absolute index one past the last complete window (scored or skipped)
        self.samples = 0
        self.scored = 0
        self.skipped: Counter[str] = Counter({r: 0 for r in SKIP_REASONS})
        self.class_counts: Counter[str] = Counter()
        self.timed: bool | None = None  # decided by the first non-empty chunk
        self.closed = False

    # ---- input -----------------------------------------------------------------------------------
    def _samples(self, samples: Any) -> np.ndarray:
        c = len(self.channels)
        arr = numbers(samples, "samples")
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1) if c == 1 else arr.reshape(1, -1)
        if arr.ndim != 2:
            raise InputError(f"samples must be [T, {c}] (time x channels), got shape {list(arr.shape)}")
        if arr.shape[1] != c:
            raise InputError(f"expected {c} channels ({', '.join(self.channels)}), got {arr.shape[1]}")
        return arr

    def _times(self, times: Any, n: int) -> np.ndarray | None:
        if n == 0:
            return None
        timed = times is not None
        if self.timed is None:
            self.timed = timed
        elif timed != self.timed:
            raise InputError("timestamps must be given with every chunk or with none")
        if not timed:
            return None
        try:
            t = np.asarray(times, dtype=np.float64).reshape(-1)
        except (ValueError, TypeError):
            raise InputError("timestamps must be numbers") from None
        if len(t) != n:
            raise InputError(f"{len(t)} timestamps for {n} samples")
        return t

    def feed(self, samples: Any, times: Any = None) -> list[dict[str, Any]]:
        """Add raw samples [T, channels] (any T, with optional timestamps [T]); return new events."""
        if self.closed:
            raise InputError("feed() after flush(): this stream has ended")
        x = self._samples(samples)
        t = self._times(times, len(x))
        self.samples += len(x)
        events: list[dict[str, Any]] = []
        pos, n = 0, len(x)
        while pos < n:
            ring = self.ring
            if ring.end < self.next_start:  # hop > window: the gap before the next window is not kept
                k = min(self.next_start - ring.end, n - pos)
                ring.skip(k)
                pos += k
                continue
            k = min(ring.free, n - pos)
            ring.push(x[pos:pos + k], None if t is None else t[pos:pos + k])
            pos += k
            events += self._drain()
        return events

    def run(self, chunks: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """Feed chunks (arrays, or (samples, times) pairs) and yield the window events only; when the
        chunks run out the stream is ended (`flush`), and `summary()` then holds its final counts."""
        for chunk in chunks:
            yield from self.feed(*chunk) if isinstance(chunk, tuple) else self.feed(chunk)
        self.flush()

    # ---- scoring ---------------------------------------------------------------------------------
    def _drain(self) -> list[dict[str, Any]]:
        """Score every complete window in the buffer, `batch` at a time, then forget used samples."""
        events: list[dict[str, Any]] = []
        while True:
            have = self.ring.end - self.next_start
            if have < self.window:
                return events
            b = min((have - self.window) // self.hop + 1, self.batch)
            starts = self.next_start + self.hop * np.arange(b, dtype=np.int64)
            events += self._score(starts)
            self.last_end = int(starts[-1]) + self.window
            self.next_start += self.hop * b
            self.ring.drop_until(self.next_start)

    def _score(self, starts: np.ndarray) -> list[dict[str, Any]]:
        xb = self.ring.gather(starts, self.window)
        ok = np.isfinite(xb).all(axis=(1, 2))
        self.skipped["non_finite_input"] += int((~ok).sum())
        valid = np.flatnonzero(ok)
        if not len(valid):
            return []
        xv = xb[valid]
        if self.mounting is not None:
            xv, _ = self.mounting.turn_back(xv)
        probs = self.bundle.classify(xv) if self.bundle.has("classifier") else None
        if probs is not None and self.posture is not None:
            probs = self.posture.apply(probs, xv)
        scores = self.bundle.anomaly_score(xv) if self.bundle.has("anomaly") else None
        classes = self.bundle.classes
        events = []
        for j, i in enumerate(valid):
            start = int(starts[i])
            event: dict[str, Any] = {"window": start // self.hop, "start": start}
            if self.timed:
                event["time"] = round(self.ring.time_at(start), 6)
            label = prob = score = None
            if probs is not None:
                p = probs[j]
                if not np.isfinite(p).all():
                    self.skipped["non_finite_output"] += 1
                    continue
                p = self.smoothing.update(p)
                if self.sequence is not None:
                    p = self.sequence.update(p)
                c = int(np.argmax(p))
                label, prob = classes[c], _num(p[c])
            if scores is not None:
                if not np.isfinite(scores[j]):
                    self.skipped["non_finite_output"] += 1
                    continue
                score = _num(scores[j])
            alert = False
            alert_score = None if scores is None else float(scores[j])
            if self.wearer is not None and score is not None and label is not None:
                alert_score = self.wearer.adjust(score, label)  # the event's score: the events replay it
            if self.alerting:
                above = alert_score > self.threshold and (self.gate is None or label in self.gate)  # type: ignore[operator]
                alert = self.alerts.update(above)
            event.update({"class": label, "prob": prob, "score": score, "alert": alert})
            if self.wearer is not None:
                event["wearer_score"] = None if alert_score is None else _num(alert_score)
            self.scored += 1
            if label is not None:
                self.class_counts[label] += 1
            events.append(event)
        return events

    # ---- end of stream ---------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts so far. `partial_samples`: samples at the end of the stream that no complete window
        covered (the final partial window, dropped); gaps left on purpose by a hop > window don't count."""
        partial = max(0, self.ring.end - max(self.next_start, self.last_end))
        return {
            "summary": True,
            "windows": self.scored,
            "skipped": sum(self.skipped.values()),
            "alerts": self.alerts.raised,
            "skipped_reasons": dict(self.skipped),
            "samples": self.samples,
            "partial_windows": int(partial > 0),
            "partial_samples": partial,
            "alert_active": self.alerts.active,
            "window_length": self.window,
            "hop": self.hop,
            "threshold": self.threshold if self.alerting else None,
            "smoothing_windows": self.smoothing.k,
            "sequence_filter": self.sequence is not None,
            **({"mounting": self.mounting.mode, "turned_windows": self.mounting.turned_windows}
               if self.mounting is not None else {}),
            **({"posture": self.posture is not None,
                "posture_changed_windows": self.posture.changed_windows if self.posture is not None else 0}
               if self.bundle.manifest.posture is not None else {}),
            **({"wearer_baseline": self.wearer is not None}
               if self.bundle.manifest.wearer_baseline is not None else {}),
            **({"alert_gate": self.gate is not None}
               if self.bundle.manifest.wearer_baseline is not None and self.bundle.manifest.wearer_baseline.gate
               is not None else {}),
            "class_counts": {c: self.class_counts[c] for c in self.bundle.classes if self.class_counts[c]},
        }

    def flush(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """End the stream: drop (and count) the final partial window; return the summary (+ `extra`)."""
        self.closed = True
        out = self.summary()
        if extra:
            out.update({k: v for k, v in extra.items() if k not in out})
        return out

    @property
    def buffer_len(self) -> int:
        """Samples currently held (never more than `buffer_capacity`)."""
        return len(self.ring)

    @property
    def buffer_capacity(self) -> int:
        return self.ring.capacity


def _num(v: Any) -> float:
    """float32 -> a short float for JSON (7 significant digits is all float32 holds)."""
    return float(f"{float(v):.7g}")
