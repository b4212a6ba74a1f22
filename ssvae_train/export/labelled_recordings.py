"""Labelled CSV recordings (a `label` column, as `tools/hapt_recordings.py` writes them) read as the export's
calibration streams, for the tools that fit and judge alert points on people's recordings outside an export
(`tools/fit_wearer_baseline.py`, `wearer_tradeoff.py`, `alert_designs.py`, `alert_curve.py`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ssvae_edge.csvinput import read_recording
from ssvae_edge.labelled import read_labels
from ssvae_train.export.alert_point import HELD_OUT, UNLABELLED_TIME, Streams


def read_recordings(files: Sequence[Path], manifest) -> list[np.ndarray]:
    """CSV recordings as the runtime reads them: samples [T, C] in the bundle's channel order."""
    return [read_recording(f, manifest.channels, manifest.sample_rate_hz).samples for f in files]


def read_labels_of(files: Sequence[Path], xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The `label` column of each CSV recording, cut to its samples."""
    return [read_labels(f)[: len(x)] for f, x in zip(files, xs, strict=True)]


PERSON = re.compile(r"_(user\d+)$")  # tools/hapt_recordings.py names a recording expNN_userUU.csv


def labelled_streams(files: Sequence[Path], manifest) -> Streams:
    """Labelled CSV recordings (a `label` column) as calibration streams: the bundle's held-out class's segments
    marked `HELD_OUT`, blank labels unlabelled time, read at the operating point's hop. Whose each recording is
    (`groups`, for the alert cross-check) comes from HAPT's file names; other names leave it unknown."""
    xs = read_recordings(files, manifest)
    labels = read_labels_of(files, xs)
    held = manifest.excluded_class_name
    labels = [np.where(lab == held, HELD_OUT, lab) for lab in labels]
    hop = int(manifest.alert_hop)
    people = [PERSON.search(Path(f).stem) for f in files]
    return Streams(xs, labels, int(manifest.window), hop, float(manifest.sample_rate_hz),
                   {"recordings": [Path(f).stem for f in files], "held_out": held,
                    "builder": "labelled CSV recordings, whole"}, unlabelled=UNLABELLED_TIME,
                   groups=tuple(p.group(1) for p in people) if people and all(people) else None)
