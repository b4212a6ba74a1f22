"""Typed reads of JSON values, and frozen typed records read from JSON and written back: the machinery
behind the manifest (`contract.Manifest`) and every one of its sections. Each refusal names the key and what
was expected, through the `fail` callback the caller passes (it adds the file's path).

A record's fields, in the order they are declared, are its JSON keys in the order they are written, so a
record read and written again gives the same bytes. A field is checked against its type hint when read
(`from_json`); a key the record does not declare (added by a newer exporter: keys are added, never renamed)
is kept in `extra` and written after the declared ones. A field is None where its key is absent (an older
bundle, or a key that does not apply); the keys in `NULLABLE` are written as null when None, every other
None is left out. A field whose metadata says `json=False` is not a key (the manifest's own path).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self

import numpy as np

# ---- JSON values ---------------------------------------------------------------------------------------
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


# ---- records -------------------------------------------------------------------------------------------
def plain(obj: Any) -> Any:
    """JSON-ready copy: records to objects, numpy scalars to Python numbers, tuples to lists."""
    if isinstance(obj, Record):
        return obj.to_json()
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


@dataclass(frozen=True)
class Record:
    """A JSON object with declared, typed keys (see the module's docstring)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    extra: Mapping[str, Any] = field(default_factory=dict, kw_only=True, repr=False, metadata={"json": False})

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The declared JSON keys, in the order they are written."""
        return tuple(f.name for f in fields(cls) if f.metadata.get("json", True))

    def left_out_when_none(self) -> frozenset[str]:
        """The keys not written when their value is None."""
        return frozenset(self.keys()) - self.NULLABLE

    def to_json(self) -> dict[str, Any]:
        """The object as written to manifest.json (plain JSON values)."""
        out: dict[str, Any] = {}
        left_out = self.left_out_when_none()
        for name in self.keys():
            value = getattr(self, name)
            if value is None and name in left_out:
                continue
            out[name] = plain(value)
        out.update(plain(self.extra))
        return out

    @classmethod
    def from_json(cls, raw: Any, where: str, fail: Fail) -> Self:
        """Read and check an object; each refusal names the key (`where.key`) and what was expected."""
        if not isinstance(raw, dict):
            raise fail(f"'{where}' must be an object")
        hints = typing.get_type_hints(cls)
        names = cls.keys()
        values = {n: read_value(hints[n], raw[n], f"{where}.{n}" if where else n, fail) for n in names if n in raw}
        extra = {k: v for k, v in raw.items() if k not in names}
        try:
            return cls(**values, extra=extra)
        except TypeError as e:  # a required key missing
            raise fail(f"'{where}' is incomplete ({e})") from None


def read_value(hint: Any, value: Any, where: str, fail: Fail) -> Any:
    """`value` checked against a field's type hint: records read as records, lists as tuples."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        kinds = [a for a in args if a is not type(None)]
        errors = []
        for kind in kinds:
            try:
                return read_value(kind, value, where, fail)
            except Exception as e:  # try the next member of the union
                errors.append(str(e))
        raise fail(errors[0].split(": ", 1)[-1] if len(kinds) == 1 else f"'{where}' has an unexpected value {value!r}")
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_json(value, where, fail)
    if origin is tuple:
        if not isinstance(value, list):
            raise fail(f"'{where}' must be a list, got {value!r}")
        return tuple(read_value(args[0], v, f"{where}[{i}]", fail) for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, dict):
            raise fail(f"'{where}' must be an object, got {value!r}")
        if args and args[1] is not Any:
            return {k: read_value(args[1], v, f"{where}.{k}", fail) for k, v in value.items()}
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise fail(f"'{where}' must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"'{where}' must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"'{where}' must be a number, got {value!r}")
        return value  # as written: an integer stays one, so the file reads back to the same bytes
    if hint is str:
        if not isinstance(value, str):
            raise fail(f"'{where}' must be a string, got {value!r}")
        return value
    raise TypeError(f"{where}: no reader for {hint!r}")
