"""Which channels of a sensor data set form a 3-axis sensor (x, y, z in a row), and which of them is the
accelerometer: what the rotations of `--augment`, the posture features and `--frame` turn or read."""

from __future__ import annotations

from ssvae_train.errors import UserError


def xyz_triples(channels: list[str] | None) -> list[tuple[int, int, int]]:
    """Indices of consecutive channels named ..x, ..y, ..z (a 3-axis sensor), in order."""
    out: list[tuple[int, int, int]] = []
    names = [c.lower() for c in channels or []]
    i = 0
    while i + 2 < len(names):
        a, b, c = names[i : i + 3]
        if a[:-1] == b[:-1] == c[:-1] and (a[-1], b[-1], c[-1]) == ("x", "y", "z"):
            out.append((i, i + 1, i + 2))
            i += 3
        else:
            i += 1
    return out


def accelerometer(channels: list[str] | None, triples: list[tuple[int, int, int]],
                  needed_by: str = "--augment rotate-moving") -> tuple[int, int, int]:
    """The accelerometer's triple (`rotate-moving` measures motion on it, `--frame` turns by it): `total_acc_*`
    (gravity included, as a phone gives it), else the first whose name holds `acc`; a one-line error naming
    `needed_by` when no triple is an accelerometer."""
    names = [c.lower() for c in channels or []]
    for want in ("total_acc", "acc"):
        for t in triples:
            if want in names[t[0]]:
                return t
    raise UserError(f"{needed_by} needs an accelerometer triple (channels named ..acc.._x/_y/_z, in g)")
