// The page: load the bundle (sha256-checked), then score a replayed CSV or the phone's motion sensors.
// For automated checks (tests/test_web.py, tools/): `?replay=<CSV path under the site>` replays with no
// click; window.ssvaeEvents then holds the events `ssvae-edge stream` would print (summary last) and
// <html data-done> is "1" when finished, "error" when refused (with the reason in #status).

import { InputError, readRecording, statsDict } from "./csv.js";
import { loadModel } from "./model.js";
import { liveChannels, phoneSample, PHONE_CHANNELS, Resampler } from "./motion.js";
import { alertPointOf, debounceOf, StreamScorer } from "./scorer.js";
import { View } from "./view.js";

const CHUNK = 4096; // rows per feed in a replay, as the CLI reads a file
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const done = (state) => { document.documentElement.dataset.done = state; };

window.ssvaeEvents = [];
window.ssvaeTiming = { start: performance.now() };

let model = null, view = null, live = null;

function threshold() {
  const v = parseFloat($("threshold").value);
  return Number.isFinite(v) ? v : null;
}

/** A fresh scorer whose events land in window.ssvaeEvents and on the screen. */
function newScorer() {
  const scorer = new StreamScorer(model.manifest, model, { threshold: threshold() });
  window.ssvaeEvents = [];
  delete document.documentElement.dataset.done;
  view.reset(scorer.alerting ? scorer.threshold : null);
  return scorer;
}

function emit(scorer, events) {
  for (const e of events) {
    window.ssvaeEvents.push(e);
    view.add(e, scorer.probsOf.get(e) ?? null, scorer.msPerWindow);
  }
  if (events.length && window.ssvaeTiming.firstWindowMs === undefined) window.ssvaeTiming.firstWindowMs = performance.now();
}

async function replay(text, source) {
  if (live) await stopLive(); // one stream at a time
  const m = model.manifest;
  const scorer = newScorer();
  view.status(`replaying ${source}…`);
  const controls = ["replay", "file", "live-start"].map($).filter((c) => !c.disabled);
  controls.forEach((c) => { c.disabled = true; });
  try {
    const rec = readRecording(text, m.channels, m.sample_rate_hz ?? null, source);
    for (let i = 0; i < rec.rows.length; i += CHUNK) {
      emit(scorer, await scorer.feed(rec.rows.slice(i, i + CHUNK), rec.times ? rec.times.slice(i, i + CHUNK) : null));
    }
    const summary = scorer.flush(statsDict(rec.stats));
    window.ssvaeEvents.push(summary);
    const ignored = summary.ignored_columns.length ? ` (ignored column(s): ${summary.ignored_columns.join(", ")})` : "";
    view.status(`${source}: scored ${summary.windows} windows, skipped ${summary.skipped}, alerts raised ${summary.alerts}${ignored}`);
    done("1");
  } catch (err) {
    fail(err);
  } finally {
    controls.forEach((c) => { c.disabled = false; });
  }
}

function fail(err) {
  view ? view.status(err.message || String(err), true) : ($("status").textContent = err.message || String(err));
  $("status").classList.add("error");
  window.ssvaeEvents = [];
  done("error");
  if (!(err instanceof InputError)) console.error(err);
}

// ---- live: the phone's motion sensors ---------------------------------------------------------
async function startLive() {
  if (typeof DeviceMotionEvent !== "undefined" && typeof DeviceMotionEvent.requestPermission === "function") {
    const answer = await DeviceMotionEvent.requestPermission(); // iOS: asked on this tap, once per site
    if (answer !== "granted") return fail(new Error("motion sensors: permission refused"));
  }
  const m = model.manifest;
  const scorer = newScorer();
  const resampler = new Resampler(m.sample_rate_hz);
  const order = m.channels.map((c) => PHONE_CHANNELS.indexOf(c));
  let chain = Promise.resolve(), samples = 0;
  const onMotion = (e) => {
    const s = phoneSample(e);
    const values = order.map((i) => s[PHONE_CHANNELS[i]]);
    // a browser without the sensors (a desktop) fires events whose values are all null: no sample at all
    if (values.every(Number.isNaN)) return;
    samples += 1;
    const { rows, times } = resampler.push(e.timeStamp, values);
    if (!rows.length) return;
    chain = chain.then(async () => emit(scorer, await scorer.feed(rows, times))).catch(fail);
  };
  window.addEventListener("devicemotion", onMotion);
  live = { scorer, onMotion, chain: () => chain };
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  view.status(`listening to the motion sensors (${m.sample_rate_hz} Hz, window ${m.window}, hop ${m.hop})…`);
  setTimeout(() => {
    if (live && live.scorer === scorer && !samples) view.status("no motion data from this device's sensors yet", true);
  }, 3000);
}

async function stopLive() {
  if (!live) return;
  window.removeEventListener("devicemotion", live.onMotion);
  await live.chain();
  const summary = live.scorer.flush();
  window.ssvaeEvents.push(summary);
  live = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
  view.status(`stopped: scored ${summary.windows} windows, skipped ${summary.skipped}, alerts raised ${summary.alerts}`);
  done("1");
}
window.ssvaeStartMotion = startLive;
window.ssvaeStopMotion = stopLive;

// ---- benchmark: ms per window of each graph, one window per run ------------------------------------
window.ssvaeBench = async (windowValues, blocks = 20, perBlock = 20) => {
  const x = Float32Array.from(windowValues);
  const out = {};
  for (const g of ["classifier", "anomaly"]) if (model[g === "classifier" ? "classify" : "anomaly"]) out[g] = [];
  for (let i = 0; i < 3; i++) for (const g in out) await (g === "classifier" ? model.classify : model.anomaly)(x, 1);
  for (let b = 0; b < blocks; b++) {
    for (const g in out) { // graphs take turns, so a slower phase of the machine hits both alike
      const run = g === "classifier" ? model.classify : model.anomaly;
      const t0 = performance.now();
      for (let i = 0; i < perBlock; i++) await run(x, 1);
      out[g].push((performance.now() - t0) / perBlock);
    }
  }
  return out;
};

// ---- start-up ------------------------------------------------------------------------------------
async function main() {
  if (location.protocol === "file:") {
    throw new Error("open this page over HTTPS or from localhost, not as a file: a browser does not let a local file " +
      "page fetch its graphs (ssvae-edge web ... --serve serves it on localhost)");
  }
  const site = await (await fetch("site.json", { cache: "no-store" })).json();
  $("footer").textContent = `onnxruntime-web ${site.ort_version} (wasm, 1 thread) · bundle ${site.bundle_name}`;
  try {
    model = await loadModel(site.bundle_dir, site.ort_dir, site.ort_wasm);
  } catch (err) {
    return fail(err);
  }
  window.ssvaeTiming.loadedMs = performance.now();
  const m = model.manifest;
  view = new View(m.classes);
  $("title").textContent = `${site.bundle_name}: ${m.classes.length} classes, ${m.channels.length} channels`;
  const wearer = Boolean(m.alert && m.alert.wearer_baseline && model.classify);
  const gate = wearer && m.alert.wearer_baseline.gate ? m.alert.wearer_baseline.gate : null;
  const shown = wearer ? alertPointOf(m, true, true).threshold : m.threshold; // the threshold of the score alerts use
  if (shown != null && model.anomaly) $("threshold").value = String(shown);
  if (wearer) $("score-label").textContent = $("score-title").textContent = "anomaly score − the wearer's baseline";
  const [k, mm, c] = debounceOf(m, m.hop, wearer, true);
  const smooth = (m.smoothing && m.smoothing.windows > 1 ? `; class: mean of the last ${m.smoothing.windows} windows` : "")
    + (m.sequence ? "; class: sequence filter (which activity can follow which)" : "")
    + (m.mounting ? "; a phone clipped on turned around is noticed and turned back" : "")
    + (m.posture ? "; sitting or standing: decided by where gravity points"
      + ({"window+gravity+log_sd": " and how much the body sways",
        "long-axis+sway": " along the phone's long axis and how much the body sways, whatever the phone's turn about "
          + "that axis"}[(m.posture.features || "").replace("+context", "")] || "")
      + (m.posture.context_windows ? `, over the last ${m.posture.context_windows} windows too` : "")
      + (m.posture.max_motion_sd ? ", and a body in motion is not still" : "") : "")
    + (wearer ? "; the score is measured against this wearer's own baseline for the class" : "")
    + (gate ? `; only windows called ${gate.classes.join(" or ")} can raise it` : "")
    + (m.refit ? "; a refit on every training person: its choices come from a validated sibling, and its alert "
      + "threshold was fitted on people it trained on (optimistic)" : "");
  $("debounce").textContent = `alert: ${k} of the last ${mm} windows above the threshold, clears below ${c}${smooth}`;
  for (const r of site.recordings) $("recording").add(new Option(r, r));
  $("replay").disabled = !site.recordings.length;
  $("file").disabled = false;
  $("replay").onclick = async () => replay(await (await fetch($("recording").value)).text(), $("recording").value);
  $("file").onchange = async () => { const f = $("file").files[0]; if (f) replay(await f.text(), f.name); };
  if (!liveChannels(m.channels)) {
    $("live-note").textContent = `Live motion sensors are not available for this bundle: its channels ` +
      `(${m.channels.join(", ")}) are not the phone's six raw channels (${PHONE_CHANNELS.join(", ")}). Replay a recording instead.`;
  } else if (typeof DeviceMotionEvent === "undefined") {
    $("live-note").textContent = "This browser gives no motion sensors (DeviceMotionEvent): open the page on a phone, over HTTPS.";
  } else {
    $("live-start").disabled = false;
    $("live-note").textContent = "Hold the phone as it was held for the training data; the sensors are read at the browser's rate and resampled.";
  }
  $("threshold").onchange = () => { // a live stream takes a new threshold from its next window on
    if (live && live.scorer.alerting && threshold() !== null) view.threshold = live.scorer.threshold = threshold();
  };
  $("live-start").onclick = () => startLive().catch(fail);
  $("live-stop").onclick = () => stopLive().catch(fail);
  view.status(`ready: sha256 of every graph checked, loaded in ${model.loadMs.toFixed(0)} ms`);
  const path = params.get("replay");
  if (path) {
    const r = await fetch(path, { cache: "no-store" });
    if (!r.ok) return fail(new InputError(`${path}: HTTP ${r.status} (give a CSV path under the site's folder)`));
    await replay(await r.text(), path);
  }
}

main().catch(fail);
