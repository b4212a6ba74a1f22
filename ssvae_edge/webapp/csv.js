// Reading a CSV recording as ssvae_edge/csvinput.py and input_checks.py read it: a header naming the
// bundle's channels (any order) plus optional `time` and `label` (other columns are ignored and named);
// a bad row becomes a missing sample (NaN) and is counted; a time column more than 5 % off the bundle's rate is refused. The CLI checks the rate
// on chunks of 4096 rows, so this does too: the measured rate in the summary then matches it exactly.

const CHUNK_ROWS = 4096, RATE_TOLERANCE = 0.05, FIRST_CHECK = 16, EVERY = 256, SHOWN_BAD_LINES = 5;
const NUMBER = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|nan|inf|infinity)$/i;

export class InputError extends Error {}

/** Python's float(): surrounding whitespace allowed, nan/inf spelled any case; anything else is bad. */
export function pyFloat(text) {
  const s = text.trim();
  if (!NUMBER.test(s)) return null;
  const low = s.toLowerCase().replace(/^[+]/, "");
  if (low.endsWith("nan")) return NaN;
  if (low.endsWith("inf") || low.endsWith("infinity")) return low.startsWith("-") ? -Infinity : Infinity;
  return Number(s);
}

/** One CSV line split into fields (double quotes as Python's csv reads them). */
function fields(line) {
  if (!line.includes('"')) return line.split(",");
  const out = [];
  let cur = "", quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === "") quoted = true;
    else if (ch === ",") { out.push(cur); cur = ""; }
    else cur += ch;
  }
  out.push(cur);
  return out;
}

const median = (a) => {
  const s = Float64Array.from(a).sort(), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/** input_checks.RateCheck: the time column's typical step against the bundle's sample rate. */
export class RateCheck {
  constructor(expectedHz) { Object.assign(this, { expected: expectedHz, last: null, steps: [], checked: false, measured: null }); }
  add(times) {
    let t = times.filter(Number.isFinite);
    if (!t.length) return;
    if (this.last !== null) t = [this.last, ...t];
    for (let i = 1; i < t.length; i++) this.steps.push(t[i] - t[i - 1]);
    this.last = t[t.length - 1];
    if (this.steps.length >= (this.checked ? EVERY : FIRST_CHECK)) this.check();
  }
  finish() { if (!this.checked && this.steps.length >= 2) this.check(); }
  check() {
    const steps = this.steps;
    this.steps = [];
    this.checked = true;
    const med = median(steps);
    if (med <= 0) throw new InputError(`the time column does not increase (median step ${med} s)`);
    const typical = steps.filter((s) => s > 0.5 * med && s < 1.5 * med);
    const step = typical.reduce((a, b) => a + b, 0) / typical.length;
    this.measured = Math.round(1000 / step) / 1000;
    const e = this.expected;
    if (e !== null && Math.abs(this.measured - e) > RATE_TOLERANCE * e) {
      throw new InputError(`the time column gives ${this.measured.toPrecision(3)} Hz but the bundle expects ${e} Hz ` +
        `(more than 5% off): resample the input to ${e} Hz first`);
    }
  }
}

/** Parse a whole recording: {rows [T][C] in the manifest's channel order, times [T] | null, stats}. */
export function readRecording(text, channels, sampleRateHz, source) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  if (!lines.length) throw new InputError(`${source}: the input is empty (expected a header line naming the channels)`);
  const names = fields(lines[0]).map((h) => h.trim());
  if (names.filter(Boolean).every((h) => pyFloat(h) !== null)) {
    throw new InputError(`${source}: the first line must be a header naming the channels (${channels.join(", ")}), got numbers`);
  }
  const dup = [...new Set(names.filter((h, i) => names.indexOf(h) !== i))].sort();
  if (dup.length) throw new InputError(`${source}: duplicate column(s) in the header: ${dup.join(", ")}`);
  const missing = channels.filter((c) => !names.includes(c));
  const unknown = names.filter((h) => !channels.includes(h) && h !== "time" && h !== "label");
  if (missing.length) { // other columns are ignored (and named); a missing channel is an error
    const parts = [`missing channel column(s) ${missing.join(", ")}`];
    if (unknown.length) parts.push(`unknown column(s) ${unknown.map((u) => `'${u}'`).join(", ")}`);
    throw new InputError(`${source}: ${parts.join("; ")} (the bundle expects ${channels.length} channels: ` +
      `${channels.join(", ")}; optional 'time' and 'label')`);
  }
  const cols = channels.map((c) => names.indexOf(c));
  const tcol = names.includes("time") ? names.indexOf("time") : null;
  const stats = { input: source, rows: 0, bad: { non_numeric: 0, short: 0, long: 0 }, badLines: [], measured: null,
    ignored: unknown.filter(Boolean) };
  const rate = new RateCheck(sampleRateHz);
  const rows = [], times = [];
  const bad = (reason, line) => {
    stats.bad[reason] += 1;
    if (stats.badLines.length < SHOWN_BAD_LINES) stats.badLines.push(line);
  };
  let chunkStart = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!line.trim() && !line.includes(",")) continue; // blank line
    const row = fields(line);
    stats.rows += 1;
    let vals = null, t = NaN;
    if (row.length !== names.length) bad(row.length < names.length ? "short" : "long", i + 1);
    else {
      vals = cols.map((j) => pyFloat(row[j]));
      if (tcol !== null) t = pyFloat(row[tcol]);
      if (vals.includes(null) || t === null) { bad("non_numeric", i + 1); vals = null; t = NaN; }
    }
    rows.push(vals ? vals.map(Math.fround) : channels.map(() => NaN));
    times.push(t);
    if (rows.length - chunkStart >= CHUNK_ROWS) {
      if (tcol !== null) rate.add(times.slice(chunkStart));
      chunkStart = rows.length;
    }
  }
  if (tcol !== null && rows.length > chunkStart) rate.add(times.slice(chunkStart));
  if (!stats.rows) throw new InputError(`${source}: the input has a header but no samples`);
  if (tcol !== null) rate.finish();
  stats.measured = rate.measured;
  return { rows, times: tcol === null ? null : times, stats };
}

/** The reader's keys merged into the stream summary (InputStats.as_dict). */
export function statsDict(stats) {
  const b = stats.bad;
  return {
    input: stats.input, rows: stats.rows, bad_rows: b.non_numeric + b.short + b.long,
    bad_row_reasons: { ...b }, first_bad_lines: [...stats.badLines], measured_rate_hz: stats.measured,
    ignored_columns: [...stats.ignored],
  };
}
