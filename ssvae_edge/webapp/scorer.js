// The page's StreamScorer: ssvae_edge/stream.py and alerts.py, line for line, so that a replay in the
// browser gives the events `ssvae-edge stream` prints (same windows, classes, alerts; scores to float32).
// Keep the two in step: tests/test_web.py compares them on the demo recordings.

export const DEFAULT_K = 3, DEFAULT_M = 5, DEFAULT_CLEAR_K = 1;
const SKIP_REASONS = ["non_finite_input", "non_finite_output"];

/** k-of-m debounce with hysteresis (alerts.py): raise on >= k of the last m, clear below clear_k. */
export class AlertDebouncer {
  constructor(k, m, clearK) {
    if (!(clearK <= k && k <= m)) throw new Error(`alert needs clear_k <= k <= m, got ${clearK}, ${k}, ${m}`);
    Object.assign(this, { k, m, clearK, history: [], active: false, raised: 0 });
  }
  update(above) {
    this.history.push(Boolean(above));
    if (this.history.length > this.m) this.history.shift();
    const n = this.history.filter(Boolean).length;
    if (!this.active && n >= this.k) { this.active = true; this.raised += 1; }
    else if (this.active && n < this.clearK) this.active = false;
    return this.active;
  }
}

/** float32 -> 7 significant digits, as stream.py's _num writes them. */
export const num = (v) => Number(Number(v).toPrecision(7));
const round6 = (t) => Math.round(t * 1e6) / 1e6;
const argmax = (q) => { let c = 0; for (let i = 1; i < q.length; i++) if (q[i] > q[c]) c = i; return c; };

/** The alert operating point a stream uses (stream.py): the gate's (alert_gate.py) when it is on, else the wearer
 * baseline's when that is on, else the manifest's `alert` (null without one). */
export function alertPointOf(manifest, wearer = false, gate = false) {
  const alert = manifest.alert || null;
  if (!alert || !wearer) return alert;
  return gate && alert.wearer_baseline.gate ? alert.wearer_baseline.gate : alert.wearer_baseline;
}

/** The alert debounce a stream uses (stream.py): the operating point's at the hop it was calibrated at, else the
 * runtime's defaults. */
export function debounceOf(manifest, hop, wearer = false, gate = false) {
  const alert = manifest.alert || null;
  const calibratedHop = alert && alert.hop !== undefined ? alert.hop : manifest.hop;
  const point = alertPointOf(manifest, wearer, gate);
  if (point && hop === calibratedHop) return [point.k, point.m, point.clear_k ?? 1];
  return [DEFAULT_K, DEFAULT_M, DEFAULT_CLEAR_K];
}

/** The wearer's running score baseline per class (wearer_baseline.py): adjusted = score - (n0 * prior_c +
 * the sum of this class's earlier scores) / (n0 + their count); then the score joins its class's sum, which
 * forgets as it learns once the class has `memory_windows` windows. */
export class WearerBaseline {
  constructor(prior, priorWindows, memoryWindows = null) {
    this.prior = prior;
    this.n0 = priorWindows;
    this.memory = memoryWindows ?? null;
    this.sums = Object.fromEntries(Object.keys(prior).map((c) => [c, 0]));
    this.counts = Object.fromEntries(Object.keys(prior).map((c) => [c, 0]));
  }
  adjust(score, label) {
    const out = score - (this.n0 * this.prior[label] + this.sums[label]) / (this.n0 + this.counts[label]);
    if (this.memory !== null && this.counts[label] >= this.memory) {
      this.sums[label] = this.sums[label] * (this.memory - 1) / this.memory + score; // forgets as it learns
    } else {
      this.sums[label] += score;
      this.counts[label] += 1;
    }
    return out;
  }
}

/** The manifest's sequence filter (sequence.py): belief = (belief @ transition, or the class prior at the
 * stream's start) * probs / class_prior, normalised; float64 like the Python runtime. */
export class ForwardFilter {
  constructor(transition, classPrior) {
    this.t = transition.map((row) => Float64Array.from(row));
    this.prior = Float64Array.from(classPrior);
    this.belief = null;
  }

  update(p) {
    const K = this.prior.length;
    const like = new Float64Array(K);
    for (let i = 0; i < K; i++) like[i] = p[i] / this.prior[i];
    let predicted = this.prior;
    if (this.belief) {
      predicted = new Float64Array(K);
      for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) predicted[j] += this.belief[i] * this.t[i][j];
    }
    const b = new Float64Array(K);
    let total = 0;
    for (let i = 0; i < K; i++) { b[i] = predicted[i] * like[i]; total += b[i]; }
    if (total > 0 && Number.isFinite(total)) this.belief = b.map((v) => v / total);
    else { const s = like.reduce((a, v) => a + v, 0); this.belief = like.map((v) => v / s); }
    return this.belief;
  }
}

/** One window's features (mounting.py window_features): per channel mean, deviation, skewness, then every channel
 * pair's correlation; float64. `x` holds windows [n][W][C] flat, the window at offset `off`. */
export function windowFeatures(x, off, W, C) {
  const mean = new Float64Array(C), sd = new Float64Array(C), skew = new Float64Array(C);
  for (let t = 0; t < W; t++) for (let c = 0; c < C; c++) mean[c] += x[off + t * C + c];
  for (let c = 0; c < C; c++) mean[c] /= W;
  for (let t = 0; t < W; t++) for (let c = 0; c < C; c++) { const d = x[off + t * C + c] - mean[c]; sd[c] += d * d; }
  for (let c = 0; c < C; c++) sd[c] = Math.sqrt(sd[c] / W) + 1e-6;
  for (let t = 0; t < W; t++) for (let c = 0; c < C; c++) { const d = (x[off + t * C + c] - mean[c]) / sd[c]; skew[c] += d * d * d; }
  const f = [...mean, ...sd, ...skew.map((v) => v / W)];
  for (let i = 0; i < C; i++) for (let j = i + 1; j < C; j++) {
    let acc = 0;
    for (let t = 0; t < W; t++) acc += (x[off + t * C + i] - mean[i]) * (x[off + t * C + j] - mean[j]);
    f.push(acc / W / (sd[i] * sd[j]));
  }
  return f;
}

/** A linear model's output on features `f`: bias + sum of ((f - center) / scale) * weights. */
function linear(s, f) {
  let z = s.bias;
  f.forEach((v, k) => { z += ((v - s.center[k]) / s.scale[k]) * s.weights[k]; });
  return z;
}

/** The manifest's mounting estimate (mounting.py): each window's features (windowFeatures), their log-odds of a
 * phone turned around, clipped and summed from -prior; a window whose sum is above 0 is multiplied by `flip`
 * before the graphs see it. */
export class MountingEstimate {
  constructor(section, mode = "auto") {
    this.s = section;
    this.mode = mode;
    this.evidence = -section.prior;
    this.turnedWindows = 0;
  }

  logOdds(x, off, W, C) {
    return linear(this.s, windowFeatures(x, off, W, C));
  }

  /** Turn back, in place, the windows of `x` ([n][W][C] flat) the estimate says are turned around. */
  turnBack(x, n, W, C) {
    for (let j = 0; j < n; j++) {
      let turned = this.mode === "turned";
      if (this.mode === "auto") {
        const lo = Math.max(-this.s.clip, Math.min(this.s.clip, this.logOdds(x, j * W * C, W, C)));
        this.evidence += lo;
        turned = this.evidence > 0;
      }
      if (!turned) continue;
      this.turnedWindows += 1;
      for (let t = 0; t < W; t++) for (let c = 0; c < C; c++) x[j * W * C + t * C + c] *= this.s.flip[c];
    }
  }
}

/** The manifest's posture model (posture.py): windowFeatures plus the unit mean of the accelerometer's three
 * channels (and, with features "window+gravity+log_sd", the log of each channel's deviation), or with
 * "long-axis+sway" longAxisFeatures alone, and a set ending in "+context" that set's features followed by their mean
 * over the stream's last context_windows windows; their log-odds of the second posture. The larger of the two
 * postures' probabilities goes to the one it picks, the smaller to the other, every other class keeps its own. */
const CONTEXT = "+context";  // posture.py CONTEXT: a set's features and their running mean over context_windows
const POSTURE_FEATURES = ["window+gravity", "window+gravity+log_sd", "long-axis+sway",  // posture.py FEATURE_SETS
  "window+gravity+log_sd" + CONTEXT, "long-axis+sway" + CONTEXT];

/** posture.py long_axis_features for the window at `off`: what a turn about the accelerometer's first axis leaves
 * alone (gravity's share along it, the size of the rest, the mean along it, log deviations along and across, the
 * log deviation of the magnitude; the gyroscope's mean along and across, its log deviations along and across). */
function longAxisFeatures(x, off, W, C, acc, gyro) {
  const stats = (idx) => {
    const m = [0, 0, 0], v = [0, 0, 0];
    for (let t = 0; t < W; t++) for (let k = 0; k < 3; k++) m[k] += x[off + t * C + idx[k]];
    for (let k = 0; k < 3; k++) m[k] /= W;
    for (let t = 0; t < W; t++) for (let k = 0; k < 3; k++) v[k] += (x[off + t * C + idx[k]] - m[k]) ** 2;
    for (let k = 0; k < 3; k++) v[k] /= W;
    return [m, v];
  };
  const [ma, va] = stats(acc), [mg, vg] = stats(gyro);
  const norms = new Float64Array(W);
  let mean = 0;
  for (let t = 0; t < W; t++) {
    const o = off + t * C;
    norms[t] = Math.sqrt(x[o + acc[0]] ** 2 + x[o + acc[1]] ** 2 + x[o + acc[2]] ** 2);
    mean += norms[t];
  }
  mean /= W;
  let vm = 0;
  for (let t = 0; t < W; t++) vm += (norms[t] - mean) ** 2;
  const logSd = (variance) => Math.log(Math.sqrt(variance) + 1e-6);
  return [ma[0] / Math.max(Math.hypot(ma[0], ma[1], ma[2]), 1e-6), Math.hypot(ma[1], ma[2]), ma[0], logSd(va[0]),
    logSd(va[1] + va[2]), logSd(vm / W), mg[0], Math.hypot(mg[1], mg[2]), logSd(vg[0]), logSd(vg[1] + vg[2])];
}

export class PostureOpinion {
  constructor(section, classes, channels) {
    if (section.features != null && !POSTURE_FEATURES.includes(section.features)) {
      throw new Error(`posture: 'features' must be one of ${POSTURE_FEATURES.join(", ")}, got ${section.features}`);
    }
    this.s = section;
    const features = section.features ?? "window+gravity";
    const withContext = features.endsWith(CONTEXT), k = section.context_windows;
    // posture.py check_section (MAX_CONTEXT = 256)
    if (withContext !== (k != null) || (withContext && !(Number.isInteger(k) && k >= 2 && k <= 256))) {
      throw new Error("posture: 'context_windows' (an integer from 2 to 256) comes with a features set ending in "
        + "'+context', and only then");
    }
    this.context = withContext ? k : 1;
    this.base = withContext ? features.slice(0, -CONTEXT.length) : features;
    this.recent = [];  // the stream's last context_windows - 1 windows' features, oldest first
    [this.a, this.b] = section.classes.map((c) => classes.indexOf(c));
    this.acc = section.accelerometer.map((c) => channels.indexOf(c));
    this.gyro = section.gyroscope ? section.gyroscope.map((c) => channels.indexOf(c)) : null;
    if ((this.base === "long-axis+sway" || this.gyro)
        && !(this.gyro && this.gyro.length === 3 && !this.gyro.includes(-1))) {
      throw new Error("posture: features 'long-axis+sway' need 'gyroscope', three of the bundle's channels "
        + "(and a 'gyroscope' given must be that)");
    }
    this.maxMotion = section.max_motion_sd ?? null;
    this.still = (section.still_classes || []).map((c) => classes.indexOf(c));
    this.changedWindows = 0;
  }

  /** The standard deviation over the window of the acceleration magnitude (posture.py motion_sd). */
  motionSd(x, off, W, C) {
    const norms = new Float64Array(W);
    let mean = 0;
    for (let t = 0; t < W; t++) {
      const o = off + t * C;
      norms[t] = Math.sqrt(x[o + this.acc[0]] ** 2 + x[o + this.acc[1]] ** 2 + x[o + this.acc[2]] ** 2);
      mean += norms[t];
    }
    mean /= W;
    let v = 0;
    for (let t = 0; t < W; t++) v += (norms[t] - mean) ** 2;
    return Math.sqrt(v / W);
  }

  /** The window's log-odds of the second posture, or null when min_sd leaves it to the classifier (some
   * channel varies less than its floor: posture.py judged). The stream's next window: with a "+context" set every
   * window, judged or not, joins the running mean (posture.py with_context: float64, oldest first). */
  logOdds(x, off, W, C) {
    const wf = windowFeatures(x, off, W, C);
    let f;
    if (this.base === "long-axis+sway") {
      f = longAxisFeatures(x, off, W, C, this.acc, this.gyro);
    } else {
      const g = [0, 0, 0];
      for (let t = 0; t < W; t++) for (let k = 0; k < 3; k++) g[k] += x[off + t * C + this.acc[k]];
      for (let k = 0; k < 3; k++) g[k] /= W;
      const norm = Math.max(Math.hypot(g[0], g[1], g[2]), 1e-6);
      f = [...wf, ...g.map((v) => v / norm)];
      // "window+gravity+log_sd": the log of each channel's deviation (windowFeatures' second block)
      if (this.base === "window+gravity+log_sd") for (let c = 0; c < C; c++) f.push(Math.log(wf[C + c]));
    }
    if (this.context > 1) {
      const rows = [...this.recent, f];
      const mean = Float64Array.from(rows[0]);
      for (let r = 1; r < rows.length; r++) for (let i = 0; i < f.length; i++) mean[i] += rows[r][i];
      for (let i = 0; i < f.length; i++) mean[i] /= rows.length;
      this.recent = rows.slice(Math.max(rows.length - (this.context - 1), 0));
      f = [...f, ...mean];
    }
    if (this.s.min_sd) for (let c = 0; c < C; c++) if (!(wf[C + c] >= this.s.min_sd[c])) return null;
    return linear(this.s, f);
  }

  /** The probabilities `p` of the window at `off` in `x`, with the two postures' given as the model says. */
  apply(p, x, off, W, C) {
    const out = Float32Array.from(p);
    const z = this.logOdds(x, off, W, C);
    if (z !== null) {
      const hi = Math.max(p[this.a], p[this.b]), lo = Math.min(p[this.a], p[this.b]);
      const second = z > 0;
      out[this.a] = second ? lo : hi;
      out[this.b] = second ? hi : lo;
    }
    if (this.maxMotion !== null && this.motionSd(x, off, W, C) > this.maxMotion) {
      // in motion: the still classes' probability to the others, in proportion (float64 sums in class order)
      const rest = Array.from(out, (v, i) => (this.still.includes(i) ? 0 : v));
      const total = rest.reduce((a, b) => a + b, 0);
      if (total > 0) rest.forEach((v, i) => { out[i] = v / total; });
    }
    if (argmax(out) !== argmax(p)) this.changedWindows += 1;
    return out;
  }
}

/** Windows of `window` samples every `hop`, scored in micro-batches of at most `batch`.
 * `model` has classify(Float32Array, n) -> Float32Array [n*K] and anomaly(Float32Array, n) -> [n]
 * (either may be null), both async. Samples are pushed as rows (arrays of C numbers). */
export class StreamScorer {
  constructor(manifest, model, { batch = 32, threshold = null, smoothing = null, sequence = null, mounting = null,
    wearerBaseline = null, posture = null, gate = null } = {}) {
    this.m = manifest;
    this.model = model;
    this.channels = manifest.channels;
    this.window = manifest.window;
    this.hop = manifest.hop;
    this.batch = batch;
    this.classes = manifest.classes;
    const wb = (manifest.alert && manifest.alert.wearer_baseline) || null;
    this.hasWearerBaseline = wb !== null;
    this.hasGate = Boolean(wb && wb.gate);
    const useWb = Boolean(wb && wearerBaseline !== false && model.classify);
    const g = useWb && gate !== false && wb.gate ? wb.gate : null; // alert_gate.py: only its classes can raise
    const point = alertPointOf(manifest, useWb, g !== null);
    this.wearer = useWb ? new WearerBaseline(wb.prior, point.prior_windows, wb.memory_windows) : null;
    this.gate = g ? new Set(g.classes) : null;
    this.threshold = threshold ?? (this.wearer ? point.threshold : manifest.threshold) ?? null;
    const [k, m, c] = debounceOf(manifest, this.hop, useWb, g !== null);
    this.alerts = new AlertDebouncer(k, m, c);
    this.alerting = Boolean(model.anomaly) && this.threshold !== null;
    this.smoothK = smoothing ?? (manifest.smoothing && manifest.smoothing.windows) ?? 1;
    this.recentProbs = [];
    const seq = manifest.sequence || null;
    this.sequence = seq && sequence !== false ? new ForwardFilter(seq.transition, seq.class_prior) : null;
    this.mounting = manifest.mounting ? new MountingEstimate(manifest.mounting, mounting ?? "auto") : null;
    this.hasPosture = Boolean(manifest.posture);
    this.posture = manifest.posture && posture !== false
      ? new PostureOpinion(manifest.posture, manifest.classes, manifest.channels) : null;
    this.probsOf = new WeakMap(); // event -> the class probabilities it was labelled from (for the view)
    this.rows = []; // samples from absolute index this.base on
    this.times = [];
    this.base = 0;
    this.end = 0;
    this.nextStart = 0;
    this.lastEnd = 0;
    this.samples = 0;
    this.scored = 0;
    this.skipped = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0]));
    this.classCounts = {};
    this.timed = null;
    this.msPerWindow = null;
  }

  /** Add rows [T][C] (and times [T] or null); resolves to the new events. */
  async feed(rows, times = null) {
    if (rows.length === 0) return [];
    const timed = times !== null;
    if (this.timed === null) this.timed = timed;
    else if (timed !== this.timed) throw new Error("timestamps must be given with every chunk or with none");
    this.samples += rows.length;
    for (let i = 0; i < rows.length; i++) {
      if (this.end < this.nextStart) { // hop > window: the gap before the next window is not kept
        this.end += 1;
        this.base = this.end;
        continue;
      }
      this.rows.push(rows[i]);
      this.times.push(timed ? times[i] : 0);
      this.end += 1;
    }
    return this.drain();
  }

  async drain() {
    const events = [];
    while (this.end - this.nextStart >= this.window) {
      const have = this.end - this.nextStart;
      const b = Math.min(Math.floor((have - this.window) / this.hop) + 1, this.batch);
      const starts = Array.from({ length: b }, (_, j) => this.nextStart + this.hop * j);
      events.push(...await this.score(starts));
      this.lastEnd = starts[b - 1] + this.window;
      this.nextStart += this.hop * b;
      const drop = Math.min(this.nextStart, this.end) - this.base;
      if (drop > 0) { this.rows.splice(0, drop); this.times.splice(0, drop); this.base += drop; }
    }
    return events;
  }

  async score(starts) {
    const C = this.channels.length, W = this.window;
    const valid = [];
    const buf = new Float32Array(starts.length * W * C);
    for (const start of starts) {
      let ok = true;
      const off = valid.length * W * C;
      for (let t = 0; t < W && ok; t++) {
        const row = this.rows[start - this.base + t];
        for (let c = 0; c < C; c++) {
          const v = Math.fround(row[c]);
          if (!Number.isFinite(v)) { ok = false; break; }
          buf[off + t * C + c] = v;
        }
      }
      if (ok) valid.push(start); else this.skipped.non_finite_input += 1;
    }
    if (!valid.length) return [];
    const x = buf.subarray(0, valid.length * W * C);
    if (this.mounting) this.mounting.turnBack(x, valid.length, W, C);
    const t0 = performance.now();
    const probs = this.model.classify ? await this.model.classify(x, valid.length) : null;
    const scores = this.model.anomaly ? await this.model.anomaly(x, valid.length) : null;
    this.msPerWindow = (performance.now() - t0) / valid.length;
    const K = this.classes.length;
    const events = [];
    valid.forEach((start, j) => {
      const event = { window: Math.floor(start / this.hop), start };
      if (this.timed) event.time = round6(this.times[start - this.base]);
      let label = null, prob = null, score = null, c = 0, probsFor = null;
      if (probs) {
        let p = probs.subarray(j * K, (j + 1) * K);
        if (!p.every(Number.isFinite)) {
          if (this.posture) this.posture.logOdds(x, j * W * C, W, C);  // it still joins a "+context" mean, as in Python
          this.skipped.non_finite_output += 1;
          return;
        }
        if (this.posture) p = this.posture.apply(p, x, j * W * C, W, C);
        let q = this.smoothed(p);
        if (this.sequence) q = this.sequence.update(q);
        c = argmax(q);
        [label, prob] = [this.classes[c], num(q[c])];
        probsFor = q;
      }
      if (scores) {
        if (!Number.isFinite(scores[j])) { this.skipped.non_finite_output += 1; return; }
        score = num(scores[j]);
      }
      let alert = false;
      let alertScore = scores ? scores[j] : null;
      if (this.wearer && score !== null && label !== null) alertScore = this.wearer.adjust(score, label);
      if (this.alerting) alert = this.alerts.update(alertScore > this.threshold && (this.gate === null || this.gate.has(label)));
      Object.assign(event, { class: label, prob, score, alert });
      if (this.wearer) event.wearer_score = alertScore === null ? null : num(alertScore);
      this.scored += 1;
      if (label !== null) this.classCounts[label] = (this.classCounts[label] || 0) + 1;
      if (probsFor) this.probsOf.set(event, Array.from(probsFor));
      events.push(event);
    });
    return events;
  }

  /** The probabilities a window is labelled from: its own, or the mean of the last `smoothing.windows`
   * scored windows' when the manifest asks for smoothing (smoothing.py: float64 mean, this window included). */
  smoothed(p) {
    if (this.smoothK <= 1) return p;
    this.recentProbs.push(Float64Array.from(p));
    if (this.recentProbs.length > this.smoothK) this.recentProbs.shift();
    const q = new Float64Array(p.length);
    for (const r of this.recentProbs) r.forEach((v, i) => { q[i] += v; });
    return q.map((v) => v / this.recentProbs.length);
  }

  summary() {
    const partial = Math.max(0, this.end - Math.max(this.nextStart, this.lastEnd));
    const counts = {};
    for (const c of this.classes) if (this.classCounts[c]) counts[c] = this.classCounts[c];
    return {
      summary: true,
      windows: this.scored,
      skipped: Object.values(this.skipped).reduce((a, b) => a + b, 0),
      alerts: this.alerts.raised,
      skipped_reasons: { ...this.skipped },
      samples: this.samples,
      partial_windows: partial > 0 ? 1 : 0,
      partial_samples: partial,
      alert_active: this.alerts.active,
      window_length: this.window,
      hop: this.hop,
      threshold: this.alerting ? this.threshold : null,
      smoothing_windows: this.smoothK,
      sequence_filter: this.sequence !== null,
      ...(this.mounting ? { mounting: this.mounting.mode, turned_windows: this.mounting.turnedWindows } : {}),
      ...(this.hasPosture ? { posture: this.posture !== null,
        posture_changed_windows: this.posture ? this.posture.changedWindows : 0 } : {}),
      ...(this.hasWearerBaseline ? { wearer_baseline: this.wearer !== null } : {}),
      ...(this.hasGate ? { alert_gate: this.gate !== null } : {}),
      class_counts: counts,
    };
  }

  /** End the stream: the summary, plus the keys of `extra` it does not have. */
  flush(extra = {}) {
    const out = this.summary();
    for (const [k, v] of Object.entries(extra)) if (!(k in out)) out[k] = v;
    return out;
  }
}
