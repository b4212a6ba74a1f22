"""Typed reads of JSON values for the manifest's validation (`contract.Manifest`): each refusal names the
key and what was expected, through the `fail` callback the caller passes (it adds the file's path)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Fail = Callable[[str], Exception]


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def int_list(v: Any, key: str, fail: Fail) -> list[int]:
    """A non-empty list of positive integers (a shape)."""
    if not isinstance(v, list) or not v or not all(is_int(d) and d > 0 for d in v):
        raise fail(f"'{key}' must be a non-empty list of positive integers, got {v!r}")
    return v


def name_list(v: Any, key: str, fail: Fail) -> tuple[str, ...]:
    """A non-empty list of distinct, non-empty names (classes, channels)."""
    if not isinstance(v, list) or not v or not all(isinstance(c, str) and c for c in v):
        raise fail(f"'{key}' must be a non-empty list of {'class' if key == 'classes' else 'channel'} names")
    if len(set(v)) != len(v):
        raise fail(f"'{key}' has duplicate names")
    return tuple(v)


def opt_int(v: Any, key: str, fail: Fail) -> int | None:
    """None, or a positive integer."""
    if v is None:
        return None
    if not is_int(v) or v <= 0:
        raise fail(f"'{key}' must be a positive integer, got {v!r}")
    return v


def opt_float(v: Any, key: str, fail: Fail, positive: bool) -> float | None:
    """None, or a finite number (positive when asked)."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise fail(f"'{key}' must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise fail(f"'{key}' must be positive, got {v!r}")
    return float(v)
