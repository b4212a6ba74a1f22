// The phone's motion sensors as the bundle's channels: DeviceMotionEvent gives acceleration including
// gravity in m/s² and the rotation rate in deg/s, at whatever rate the browser fires (often 60 Hz);
// a phone bundle wants acc_x..z in g and gyro_x..z in rad/s at its sample_rate_hz. Samples on the
// bundle's grid are linear interpolations between the two events around each grid time.

export const PHONE_CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"];
export const STANDARD_GRAVITY = 9.80665; // m/s² per g
const DEG = Math.PI / 180;
// Events further apart than this leave a gap (the page was hidden, the sensor paused): the grid samples in
// it are missing (NaN), so the windows across it are skipped, as windows with a CSV's bad rows are.
export const MAX_GAP_MS = 250;

/** Can this bundle run on the phone's sensors? Its channels must be the six raw ones, in any order. */
export function liveChannels(channels) {
  return channels.length === PHONE_CHANNELS.length && PHONE_CHANNELS.every((c) => channels.includes(c));
}

/** One DeviceMotionEvent as the six phone channels, in g and rad/s (a missing sensor gives NaN).
 * rotationRate: alpha turns about the device's z axis, beta about x, gamma about y (W3C spec). */
export function phoneSample(e) {
  const a = e.accelerationIncludingGravity || {}, r = e.rotationRate || {};
  const v = (x, scale) => (x === null || x === undefined ? NaN : x * scale);
  return {
    acc_x: v(a.x, 1 / STANDARD_GRAVITY), acc_y: v(a.y, 1 / STANDARD_GRAVITY), acc_z: v(a.z, 1 / STANDARD_GRAVITY),
    gyro_x: v(r.beta, DEG), gyro_y: v(r.gamma, DEG), gyro_z: v(r.alpha, DEG),
  };
}

/** Irregular timed samples in, samples on a regular grid (t0 + n / rateHz) out. */
export class Resampler {
  constructor(rateHz, maxGapMs = MAX_GAP_MS) {
    Object.assign(this, { stepMs: 1000 / rateHz, maxGapMs, t0: null, prevT: null, prev: null, n: 0 });
  }

  /** Add one sample (array of numbers) taken at `tMs`; returns the grid samples it completes as
   * {rows, times} with times in seconds since the first sample. */
  push(tMs, values) {
    const rows = [], times = [];
    if (this.t0 === null) {
      Object.assign(this, { t0: tMs, prevT: tMs, prev: values, n: 1 });
      return { rows: [values.slice()], times: [0] };
    }
    if (!(tMs > this.prevT)) return { rows, times }; // a repeated or out-of-order timestamp adds nothing
    const dt = tMs - this.prevT;
    for (let g = this.t0 + this.n * this.stepMs; g <= tMs; g = this.t0 + this.n * this.stepMs) {
      const w = (g - this.prevT) / dt;
      rows.push(dt > this.maxGapMs ? values.map(() => NaN) : this.prev.map((p, i) => p + w * (values[i] - p)));
      times.push((g - this.t0) / 1000);
      this.n += 1;
    }
    this.prevT = tMs;
    this.prev = values;
    return { rows, times };
  }
}
