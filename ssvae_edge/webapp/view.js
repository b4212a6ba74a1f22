// What the page shows: the current window (class, probability, score, alert, ms per window), a table of
// the class probabilities, and two plots of the last windows: class probabilities, anomaly score against
// the threshold. Drawing is coalesced to one frame, so a fast replay is not slowed by the screen.

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf", "#393b79", "#637939"];
const SHOWN = 120; // windows in the plots

const $ = (id) => document.getElementById(id);
/** The score the alert compares with the threshold: the wearer-adjusted one when the bundle has a wearer baseline. */
const alertScore = (e) => e.wearer_score ?? e.score;

export class View {
  constructor(classes) {
    this.classes = classes;
    this.history = [];
    this.pending = false;
    this.msPerWindow = null;
    this.threshold = null;
    this.count = 0;
    $("legend").innerHTML = classes.map((c, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${c}</span>`).join("");
    $("classes").tBodies[0].innerHTML = classes.map((c, i) =>
      `<tr><td>${c}</td><td class="bar"><div style="width:0;background:${COLORS[i % COLORS.length]}"></div></td><td>–</td></tr>`).join("");
  }

  status(text, error = false) {
    $("status").textContent = text;
    $("status").classList.toggle("error", error);
  }

  reset(threshold) {
    Object.assign(this, { history: [], threshold, count: 0 });
    this.schedule();
  }

  /** One scored window: its event and its full class probabilities (null without a classifier). */
  add(event, probs, msPerWindow) {
    this.history.push({ event, probs });
    if (this.history.length > SHOWN) this.history.shift();
    this.msPerWindow = msPerWindow;
    this.count += 1;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  draw() {
    const last = this.history[this.history.length - 1];
    const e = last ? last.event : {};
    $("class").textContent = e.class ?? "–";
    $("prob").textContent = e.prob != null ? e.prob.toFixed(3) : "–";
    $("score").textContent = alertScore(e) != null ? alertScore(e).toPrecision(4) : "–";
    $("alert").textContent = e.alert ? "ALERT" : "off";
    $("alert").classList.toggle("on", Boolean(e.alert));
    $("ms").textContent = this.msPerWindow != null ? this.msPerWindow.toFixed(2) : "–";
    $("count").textContent = String(this.count);
    const rows = $("classes").tBodies[0].rows;
    this.classes.forEach((c, i) => {
      const p = last && last.probs ? last.probs[i] : null;
      rows[i].cells[1].firstChild.style.width = p == null ? "0" : `${(100 * p).toFixed(1)}%`;
      rows[i].cells[2].textContent = p == null ? "–" : p.toFixed(3);
      rows[i].classList.toggle("top", c === e.class);
    });
    this.plotProbs();
    this.plotScore();
  }

  plotProbs() {
    const cv = $("plot-probs"), g = cv.getContext("2d"), h = this.history;
    g.clearRect(0, 0, cv.width, cv.height);
    const x = (i) => (i / Math.max(SHOWN - 1, 1)) * (cv.width - 10) + 5;
    const y = (p) => cv.height - 5 - p * (cv.height - 10);
    this.classes.forEach((_, k) => {
      g.strokeStyle = COLORS[k % COLORS.length];
      g.lineWidth = 2;
      g.beginPath();
      h.forEach((w, i) => { if (w.probs) (i ? g.lineTo : g.moveTo).call(g, x(i), y(w.probs[k])); });
      g.stroke();
    });
  }

  plotScore() {
    const cv = $("plot-score"), g = cv.getContext("2d"), h = this.history;
    g.clearRect(0, 0, cv.width, cv.height);
    const scores = h.map((w) => alertScore(w.event)).filter((s) => s != null);
    if (!scores.length) return;
    const t = this.threshold;
    const lo = Math.min(...scores, t ?? Infinity), hi = Math.max(...scores, t ?? -Infinity);
    const span = hi - lo || 1;
    const x = (i) => (i / Math.max(SHOWN - 1, 1)) * (cv.width - 10) + 5;
    const y = (s) => cv.height - 8 - ((s - lo) / span) * (cv.height - 16);
    g.fillStyle = "rgba(198,40,40,0.15)";
    h.forEach((w, i) => { if (w.event.alert) g.fillRect(x(i) - 3, 0, 6, cv.height); });
    if (t != null) {
      g.strokeStyle = "#c62828"; g.setLineDash([6, 4]); g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(0, y(t)); g.lineTo(cv.width, y(t)); g.stroke(); g.setLineDash([]);
    }
    g.strokeStyle = "#333"; g.lineWidth = 2; g.beginPath();
    h.forEach((w, i) => { if (alertScore(w.event) != null) (i ? g.lineTo : g.moveTo).call(g, x(i), y(alertScore(w.event))); });
    g.stroke();
  }
}
