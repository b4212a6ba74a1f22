"""The sensor frame the model reads, inside its graphs (`--frame`).

`canonical-turn`: every window is turned about the sensor's x axis (a phone's long axis, upright on a belt) so
that its mean acceleration across that axis points along +y; every x/y/z triple (the gyroscope too) is turned
by the same angle. The angle at which the phone was clipped round the waist then no longer reaches the model:
a window and the same window turned about x by any angle give the same input (up to rounding), so the model
needs no `--augment turn` to read a phone clipped anywhere, and its unlabelled windows are not spent on
learning the angle. What is kept: everything along the long axis, the size of the tilt across it, and the
motion relative to that tilt. What is lost: the tilt's direction, which told sitting from standing on a phone
always worn one way (the any-angle posture features, `ssvae_edge.posture`, read the postures without it).

A window whose mean acceleration lies along x to within MIN_TILT_G has no direction to turn to; it is left as it
is (such windows are rare on a body: an exactly upright phone).
"""

from __future__ import annotations

import torch

from ssvae_train.data.triples import accelerometer, xyz_triples

MIN_TILT_G = 1e-6  # below this the turn's angle is undefined, and the window is not turned


def frame_triples(frame: str, channels: list[str] | None) -> tuple[tuple[int, int, int], ...]:
    """The x/y/z triples a frame turns, the accelerometer's first (it sets the angle); () for `as-worn`."""
    if frame == "as-worn":
        return ()
    triples = xyz_triples(channels)
    acc = accelerometer(channels, triples, needed_by=f"--frame {frame}")
    return (acc, *[t for t in triples if t != acc])


def canonical_turn(x: torch.Tensor, triples: tuple[tuple[int, int, int], ...]) -> torch.Tensor:
    """x [N, T, C] with every triple turned about its x axis so that the first triple's mean y/z over the
    window becomes (r, 0), r >= 0. Elementwise ops only, so the exported graphs carry it as they are."""
    _, ay, az = triples[0]
    my, mz = x[..., ay].mean(dim=1, keepdim=True), x[..., az].mean(dim=1, keepdim=True)  # [N, 1]
    r = torch.sqrt(my * my + mz * mz)
    tilted = r > MIN_TILT_G
    safe = r.clamp_min(MIN_TILT_G)
    c = torch.where(tilted, my / safe, torch.ones_like(r))
    s = torch.where(tilted, mz / safe, torch.zeros_like(r))
    cols = list(torch.unbind(x, dim=-1))
    for _, j, k in triples:
        y, z = cols[j], cols[k]
        cols[j], cols[k] = c * y + s * z, c * z - s * y
    return torch.stack(cols, dim=-1)

