"""Training-time augmentations for inertial sensor windows (`--augment jitter,scale,rotate`).

The three standard ones for accelerometer/gyroscope data (Um et al. 2017, "Data augmentation of
wearable sensor data"), applied alike to labelled and unlabelled rows of every training step, in raw
units, before the model scales them (the model reconstructs the window it was shown):

- `jitter`: Gaussian noise of JITTER_STD times each channel's standard deviation, per value;
- `scale`:  every channel of a window multiplied by its own factor ~ N(1, SCALE_STD);
- `rotate`: each window's sensor turned by one random rotation of at most MAX_ROTATION_DEG degrees
  about a random axis, applied to every x/y/z triple of channels alike (a device worn a little
  differently turns its accelerometer and gyroscope together).
- `rotate-moving`: the same kind of rotation, up to MOVING_ROTATION_DEG degrees, for windows in motion only:
  those whose acceleration magnitude varies (standard deviation over the window) by more than MOVING_SD_G. The
  accelerometer is the triple named `total_acc_*`, else the first whose name holds `acc`, read in g. When the
  body moves, the activity is in the movement and the phone's tilt says little; when it is still, the tilt is
  what tells sitting from standing, so still windows keep theirs. The test is on the window itself, so labelled
  and unlabelled rows are treated alike. On HAPT's 21 training people (windows wholly inside one segment), 3,119
  of 3,122 walking windows vary by more than 0.1 g (the lowest 0.096 g) and 3 of 4,014 still ones do.
- `mount`: half of the windows turned 180 degrees about the sensor's x axis (y and z of every triple change
  sign): a phone clipped to a belt facing in instead of out. Its x axis (the phone's long axis, along
  gravity when the wearer stands) is kept, so upright and lying postures stay apart.
- `turn`: every window turned about the sensor's x axis by its own angle, uniform over the full circle: a
  phone clipped at any point round the waist (HAPT's odd recordings are such turns, of 57-180 degrees). The
  classifier then cannot read which way the phone faces, only how far it leans from upright; the posture
  model's long-axis feature set (`ssvae_edge.posture`) reads the still postures the same way.

The names are `ssvae_train.names.AUGMENTATIONS` (parsed there, `parse_augment`). Draws come from torch's
generator, which the trainer seeds from (seed, epoch): a resumed run repeats the same augmentations.
Validation, evaluation and export never augment.
"""

from __future__ import annotations

import math

import torch

from ssvae_train.data.triples import accelerometer, xyz_triples
from ssvae_train.errors import UserError

JITTER_STD = 0.05
SCALE_STD = 0.1
MAX_ROTATION_DEG = 15.0
MOVING_SD_G = 0.1  # a window "in motion": its acceleration magnitude's standard deviation is above this (g)
MOVING_ROTATION_DEG = 30.0


def random_rotations(n: int, max_deg: float, device: torch.device) -> torch.Tensor:
    """n rotation matrices [n, 3, 3] about uniform random axes by angles uniform in [-max_deg, max_deg]."""
    axis = torch.randn(n, 3, device=device)
    axis = axis / axis.norm(dim=1, keepdim=True).clamp_min(1e-8)
    angle = (torch.rand(n, device=device) * 2 - 1) * math.radians(max_deg)
    kx, ky, kz = axis.unbind(1)
    zero = torch.zeros_like(kx)
    k = torch.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], dim=1).reshape(n, 3, 3)
    eye = torch.eye(3, device=device).expand(n, 3, 3)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return eye + s * k + (1 - c) * (k @ k)  # Rodrigues' formula


def turns_about_x(n: int, device: torch.device) -> torch.Tensor:
    """n rotation matrices [n, 3, 3] about the x axis by angles uniform in [0, 2 pi)."""
    angle = torch.rand(n, device=device) * (2 * math.pi)
    s, c = torch.sin(angle), torch.cos(angle)
    one, zero = torch.ones_like(s), torch.zeros_like(s)
    return torch.stack([one, zero, zero, zero, c, -s, zero, s, c], dim=1).reshape(n, 3, 3)


class Augmenter:
    """The augmentations of one run: built once from the config and the data set's channels."""

    def __init__(self, names: tuple[str, ...], channel_std: torch.Tensor, channels: list[str] | None):
        self.names = names
        self.channel_std = channel_std
        self.triples = xyz_triples(channels)
        for name in ("rotate", "rotate-moving", "mount", "turn"):
            if name in names and not self.triples:
                raise UserError(f"--augment {name} needs x/y/z channel triples (channels named ..._x, ..._y, ..._z)")
        self.accelerometer = accelerometer(channels, self.triples) if "rotate-moving" in names else None

    def _rotate(self, x: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        """Every x/y/z triple of window w turned by rot[w] ([N, 3, 3]), all triples alike."""
        parts = list(x.unbind(-1))
        for i, j, k in self.triples:
            v = torch.stack([parts[i], parts[j], parts[k]], dim=-1) @ rot.transpose(1, 2)
            parts[i], parts[j], parts[k] = v.unbind(-1)
        return torch.stack(parts, dim=-1)

    def __call__(self, x: torch.Tensor | None) -> torch.Tensor | None:
        """Augmented copy of a batch of windows [N, T, C] (None passes through)."""
        if x is None or not self.names or len(x) == 0:
            return x
        n, _, c = x.shape
        if "rotate" in self.names:
            x = self._rotate(x, random_rotations(n, MAX_ROTATION_DEG, x.device))
        if "rotate-moving" in self.names:
            i, j, k = self.accelerometer
            moving = x[..., [i, j, k]].norm(dim=-1).std(dim=1, correction=0) > MOVING_SD_G
            rot = random_rotations(n, MOVING_ROTATION_DEG, x.device)
            x = self._rotate(x, torch.where(moving[:, None, None], rot, torch.eye(3, device=x.device)))
        if "mount" in self.names and self.triples:
            turned = torch.rand(n, 1, device=x.device) < 0.5  # one draw per window
            sign = torch.ones(c, device=x.device).expand(n, c).clone()
            for _, j, k in self.triples:
                sign[:, [j, k]] = torch.where(turned, -1.0, 1.0)
            x = x * sign[:, None, :]
        if "turn" in self.names:
            x = self._rotate(x, turns_about_x(n, x.device))
        if "scale" in self.names:
            x = x * (1 + SCALE_STD * torch.randn(n, 1, c, device=x.device))
        if "jitter" in self.names:
            x = x + JITTER_STD * self.channel_std.to(x.device) * torch.randn_like(x)
        return x
