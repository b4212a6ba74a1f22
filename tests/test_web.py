"""`ssvae-edge web`: the site it writes and what it refuses (always run), and the page itself in a real
headless Chromium (run where the OS package is installed, as `.ci/run` does; skipped with the reason
elsewhere): a replayed recording gives the events `ssvae-edge stream` prints, a synthetic DeviceMotion
stream at 60 Hz in m/s² and deg/s is scored like the same signal resampled to 50 Hz in g and rad/s by
the Python runtime, and a graph whose sha256 does not match is refused.

Scores and probabilities are compared relative to the largest of the stream (as the export validates
graphs): a score near zero differs from onnxruntime in Python by float32 rounding alone.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from ssvae_edge.bundle import Bundle
from ssvae_edge.contract import Manifest, sha256_hex
from ssvae_edge.headless import Chromium, find_chromium
from ssvae_edge.posture import PostureOpinion
from ssvae_edge.stream import StreamScorer
from ssvae_edge.web import build_site, page_bytes, vendored
from ssvae_edge.webserve import serve_in_background

ROOT = Path(__file__).resolve().parents[1]
EXPORTED = ROOT / "exported"
PHONE = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
G, DEG = 9.80665, np.pi / 180
TOL = 1e-4
NO_BROWSER = "no Chromium: install the OS package 'chromium' (apt-get install chromium; .ci/run does) to run the page"
needs_browser = pytest.mark.skipif(find_chromium() is None, reason=NO_BROWSER)


def _phone_recording() -> Path | None:
    found = sorted((EXPORTED / "phone-demo").glob("*.csv"))
    return found[0] if found else None


def replay_cases() -> list[tuple[str, Path]]:
    """(bundle, recording) pairs for every sensor bundle in exported/ with a demo recording of its channels."""
    cases = [("har-lstm-novelty", EXPORTED / "har-demo" / "demo_stream.csv")]
    phone = _phone_recording()
    cases += [(name, phone) for name in ("har-phone", "har-phone-novelty", "har-phone-any-angle")
              if phone and (EXPORTED / name).is_dir()]
    return cases


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ssvae_edge", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


# ---- the site and the command ---------------------------------------------------------------------------
def test_site_holds_what_the_page_needs_and_nothing_else(tmp_path: Path) -> None:
    rec = EXPORTED / "har-demo" / "demo_stream.csv"
    site = build_site(EXPORTED / "har-lstm", tmp_path / "site", [rec])
    files = set(site.files)
    info = vendored()
    wasm = "ort-wasm-simd-threaded.wasm"
    assert {"ort/ort.wasm.min.js", "ort/ort-wasm-simd-threaded.mjs", f"ort/{wasm}.gz"} <= files
    for name, entry in info["files"].items():  # byte for byte the npm files; the wasm binary gzipped
        data = (site.path / "ort" / name).read_bytes() if name != wasm else gzip.decompress(
            (site.path / "ort" / f"{wasm}.gz").read_bytes())
        assert sha256_hex(data) == entry["sha256"]
    assert info["version"] == "1.30.0" and info["integrity"].startswith("sha512-")
    # the manifest unchanged, the two graphs the page runs (fp32), no decoder, no int8
    manifest = (EXPORTED / "har-lstm" / "manifest.json").read_bytes()
    assert (site.path / "bundle" / "manifest.json").read_bytes() == manifest
    assert {f for f in files if f.startswith("bundle/")} == {"bundle/manifest.json", "bundle/classifier.onnx",
                                                             "bundle/anomaly.onnx"}
    assert (site.path / "recordings" / rec.name).read_bytes() == rec.read_bytes()
    meta = json.loads((site.path / "site.json").read_text())
    assert meta["recordings"] == [f"recordings/{rec.name}"] and meta["ort_version"] == info["version"]
    assert not any(f.endswith(".map") for f in files)  # nothing the page would fetch from elsewhere
    for page in ("index.html", "app.js"):
        assert "http://" not in (site.path / page).read_text() and "https://" not in (site.path / page).read_text()
    assert page_bytes(site) < site.bytes  # the recording is not part of the page's weight
    assert page_bytes(site) <= 16_000_000  # the goal, on any host (compressing or not)


def test_the_page_installs_with_the_package() -> None:
    """`pip install .` carries every file of the page (package data), so no npm is needed where it runs."""
    import fnmatch
    import tomllib

    import ssvae_edge.web as web

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ssvae_edge"]
    files = [str(p.relative_to(ROOT / "ssvae_edge")) for p in web.WEBAPP.rglob("*") if p.is_file()]
    assert {f"webapp/{f}" for f in web.PAGE_FILES} | {f"webapp/ort/{f}" for f in vendored()["files"]} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f, g) for g in globs)] == []


@pytest.mark.parametrize(("case", "says"), [
    ("not a bundle", "not a bundle (no manifest.json)"), ("not a sensor bundle", "not a sensor bundle"),
    ("out not empty", "pass --force to replace it"), ("force on a non-site", "not one (no site.json)"),
    ("missing recording", "nope.csv: no such recording")])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, case: str, says: str) -> None:
    out = tmp_path / "site"
    bundle, extra = str(EXPORTED / "har-lstm"), []
    if case == "not a bundle":
        bundle = str(tmp_path)
    elif case == "not a sensor bundle":
        bundle = str(EXPORTED / "mnist-dense")
    elif case in ("out not empty", "force on a non-site"):
        out.mkdir()
        (out / "notes.txt").write_text("mine")
        extra = ["--force"] if case == "force on a non-site" else []
    else:
        extra = ["--recording", str(tmp_path / "nope.csv")]
    p = run_cli("web", bundle, "--out", str(out), *extra)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("ssvae-edge: error: ") and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert says in p.stderr, p.stderr
    assert not out.exists() or sorted(x.name for x in out.iterdir()) == ["notes.txt"]
    assert not list(tmp_path.glob(".site.*"))  # no half-written site left behind


def test_force_replaces_an_earlier_site(tmp_path: Path) -> None:
    out = tmp_path / "site"
    assert run_cli("web", str(EXPORTED / "har-lstm"), "--out", str(out)).returncode == 0
    p = run_cli("web", str(EXPORTED / "har-lstm-novelty"), "--out", str(out), "--force")
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "site.json").read_text())["bundle_name"] == "har-lstm-novelty"


def test_a_changed_vendored_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    import ssvae_edge.web as web
    from ssvae_edge.errors import BundleError

    copy = tmp_path / "webapp"
    shutil.copytree(web.WEBAPP, copy)
    with open(copy / "ort" / "ort.wasm.min.js", "a") as f:
        f.write("\n// changed\n")
    monkeypatch.setattr(web, "WEBAPP", copy)
    with pytest.raises(BundleError, match="vendored onnxruntime-web"):
        build_site(EXPORTED / "har-lstm", tmp_path / "site")


def test_serve_gives_the_files_gzipped_with_their_types(tmp_path: Path) -> None:
    """`--serve` as a user runs it: it prints its URL, gzips what it serves (the wasm binary is a .gz file
    already, sent as it is), and gives the browser the types it needs (a module script must be JavaScript)."""
    out = tmp_path / "site"
    proc = subprocess.Popen([sys.executable, "-m", "ssvae_edge", "web", str(EXPORTED / "har-lstm"), "--out", str(out),
                             "--serve", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]  # type: ignore[union-attr]
        url = lines[1].split(" on ")[1].split()[0]
        def get(path: str, gz: bool = True) -> tuple[dict, bytes]:
            req = urllib.request.Request(url + path, headers={"Accept-Encoding": "gzip"} if gz else {})
            with urllib.request.urlopen(req, timeout=60) as r:
                return dict(r.headers), r.read()

        head, body = get("ort/ort-wasm-simd-threaded.mjs")
        assert head["Content-Type"] == "text/javascript" and head["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == (out / "ort" / "ort-wasm-simd-threaded.mjs").read_bytes()
        head, body = get("ort/ort-wasm-simd-threaded.wasm.gz")
        assert "Content-Encoding" not in head and body == (out / "ort" / "ort-wasm-simd-threaded.wasm.gz").read_bytes()
        head, body = get("index.html", gz=False)  # no Accept-Encoding: plain bytes
        assert "Content-Encoding" not in head and body == (out / "index.html").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---- the page in headless Chromium ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        pytest.skip(NO_BROWSER)
    with Chromium() as b:
        yield b


def serve(site_dir: Path):
    server, url = serve_in_background(site_dir)
    return server, url


def replay_in_page(browser: Chromium, bundle: Path, recording: Path, site_dir: Path, *reads: str) -> list:
    """The page's events for `recording` replayed in a site of `bundle`, then each expression of `reads`
    evaluated in the page."""
    site = build_site(bundle, site_dir, [recording])
    server, url = serve(site.path)
    try:
        page = browser.open(f"{url}index.html?replay=recordings/{recording.name}")
        assert page.wait_for("document.documentElement.dataset.done") == "1", page.console_errors()
        return [page.evaluate("window.ssvaeEvents"), *(page.evaluate(r) for r in reads)]
    finally:
        server.shutdown()


def cli_events(bundle: Path, recording: Path) -> list[dict]:
    """`ssvae-edge stream`'s JSON lines for `recording`, summary last."""
    cli = run_cli("stream", str(bundle), "--input", str(recording))
    assert cli.returncode == 0, cli.stderr
    return [json.loads(line) for line in cli.stdout.splitlines()]


def assert_same_events(page: list[dict], python: list[dict]) -> None:
    """Same windows, classes, alerts and times; probabilities and scores within TOL of the stream's largest."""
    assert len(page) == len(python), (len(page), len(python))
    scale = {k: max([abs(e[k]) for e in python[:-1] if e.get(k) is not None] or [1.0])
             for k in ("prob", "score", "wearer_score")}
    scale["wearer_score"] = scale["score"]  # the adjusted score carries the score's float32 error, no more
    for a, b in zip(page[:-1], python[:-1], strict=True):
        assert list(a) == list(b), (a, b)
        for k, v in b.items():
            if k in scale and v is not None:
                assert abs(a[k] - v) <= TOL * scale[k], (k, a, b)
            elif k == "time":
                assert abs(a[k] - v) <= 1e-9, (a, b)
            else:
                assert a[k] == v, (k, a, b)
    page_summary, py_summary = dict(page[-1]), dict(python[-1])
    page_summary.pop("input", None)
    py_summary.pop("input", None)
    assert page_summary == py_summary and list(page_summary) == list(py_summary)  # the same keys in the same order


@needs_browser
@pytest.mark.parametrize("bundle,recording", replay_cases(), ids=[c[0] for c in replay_cases()])
def test_replay_in_the_page_equals_the_cli(browser: Chromium, tmp_path: Path, bundle: str, recording: Path) -> None:
    events, note, decoding = replay_in_page(browser, EXPORTED / bundle, recording, tmp_path / "site",
                                           "document.getElementById('live-note').textContent",
                                           "document.getElementById('debounce').textContent")
    expected = cli_events(EXPORTED / bundle, recording)
    assert len(expected) > 20 and expected[-1]["summary"] is True
    assert_same_events(events, expected)
    manifest = Manifest.load(EXPORTED / bundle)
    phone = set(manifest.channels or ()) == set(PHONE)
    assert ("not available" in note) != phone, note
    assert ("a refit on every training person" in decoding) == (manifest.refit is not None), decoding
    context = manifest.posture is not None and manifest.posture.context_windows is not None
    assert ("over the last 8 windows too" in decoding) == context, decoding  # the phone bundles' "+context" model


@needs_browser
def test_a_phone_without_a_gyroscope_replays_as_the_cli(browser: Chromium, tmp_path: Path) -> None:
    """The phone demo with its gyroscope columns at zero: the posture model's floor (`min_sd`) leaves those
    windows to the classifier, in the page as in Python."""
    phone = _phone_recording()
    if phone is None or Manifest.load(EXPORTED / "har-phone").posture is None:
        pytest.skip("no phone demo recording, or har-phone has no posture model")
    lines = phone.read_text().splitlines()
    header = lines[0].split(",")
    gyro = [i for i, c in enumerate(header) if c.startswith("gyro_")]
    rows = [",".join("0" if i in gyro else v for i, v in enumerate(line.split(","))) for line in lines[1:]]
    recording = tmp_path / "no_gyro.csv"
    recording.write_text("\n".join([lines[0], *rows]) + "\n")
    (events,) = replay_in_page(browser, EXPORTED / "har-phone", recording, tmp_path / "site")
    assert_same_events(events, cli_events(EXPORTED / "har-phone", recording))
    b = Bundle.load(EXPORTED / "har-phone", providers="cpu", threads=1)
    windows = np.zeros((1, b.window, 6), np.float32) + [1.0, 0, 0, 0, 0, 0]
    assert not PostureOpinion(b.manifest.posture, b.classes, b.manifest.channels).judged(windows).any()


@needs_browser
def test_a_long_axis_posture_model_replays_as_the_cli(browser: Chromium, tmp_path: Path) -> None:
    """`har-phone` with its posture model swapped for one on the long-axis features (fitted on the HAPT slice in
    tests/data): the page computes the same features and decisions as Python, and the model changes windows."""
    import shutil

    from ssvae_edge.posture import LONG_AXIS
    from ssvae_train.data.hapt import read_hapt_recordings
    from ssvae_train.export.posture_fit import POSTURES, fit_model
    from ssvae_train.export.validation_windows import recording_windows, window_codes

    phone = _phone_recording()
    if phone is None or Manifest.load(EXPORTED / "har-phone").posture is None:
        pytest.skip("no phone demo recording, or har-phone has no posture model")
    recs, _ = read_hapt_recordings(Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip")
    classes = list(Manifest.load(EXPORTED / "har-phone").classes)
    x = np.concatenate([recording_windows(r, 128, 64)[0] for r in recs])
    y = np.concatenate([window_codes(r, classes, 128, recording_windows(r, 128, 64)[1]) for r in recs])
    scaler, lr, _ = fit_model(x, y, classes, [0, 1, 2], LONG_AXIS, [3, 4, 5])
    bundle = tmp_path / "bundle"
    shutil.copytree(EXPORTED / "har-phone", bundle)
    m = json.loads((bundle / "manifest.json").read_text())
    m["posture"] = {"classes": list(POSTURES), "accelerometer": ["acc_x", "acc_y", "acc_z"],
                    "gyroscope": ["gyro_x", "gyro_y", "gyro_z"], "features": LONG_AXIS,
                    "center": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "weights": lr.coef_[0].tolist(),
                    "bias": float(lr.intercept_[0]), "min_sd": m["posture"]["min_sd"]}
    (bundle / "manifest.json").write_text(json.dumps(m))
    (events,) = replay_in_page(browser, bundle, phone, tmp_path / "site")
    expected = cli_events(bundle, phone)
    assert expected[-1]["posture_changed_windows"] > 0
    assert_same_events(events, expected)


@needs_browser
def test_a_context_posture_model_replays_as_the_cli(browser: Chromium, tmp_path: Path) -> None:
    """`har-phone` with its posture model swapped for a "+context" one (the window's features and their mean over
    the stream's last 8 windows, fitted on the HAPT slice's training streams): the page keeps the same running
    mean as Python, chunk after chunk, and the model changes windows."""
    import shutil

    from ssvae_edge.posture import CONTEXT
    from ssvae_train.data.hapt import load_hapt
    from ssvae_train.export.posture_fit import FEATURES, POSTURES, fit_model, stream_features

    phone = _phone_recording()
    if phone is None or Manifest.load(EXPORTED / "har-phone").posture is None:
        pytest.skip("no phone demo recording, or har-phone has no posture model")
    ds = load_hapt(Path(__file__).parent / "data" / "hapt" / "HAPT slice.zip")
    feats = stream_features(ds, [0, 1, 2], FEATURES + CONTEXT, None, 8)
    scaler, lr, _ = fit_model(ds.x_train, ds.y_train, list(ds.classes), [0, 1, 2], FEATURES + CONTEXT, None, feats)
    bundle = tmp_path / "bundle"
    shutil.copytree(EXPORTED / "har-phone", bundle)
    m = json.loads((bundle / "manifest.json").read_text())
    m["posture"] = {"classes": list(POSTURES), "accelerometer": ["acc_x", "acc_y", "acc_z"],
                    "features": FEATURES + CONTEXT, "context_windows": 8, "center": scaler.mean_.tolist(),
                    "scale": scaler.scale_.tolist(), "weights": lr.coef_[0].tolist(), "bias": float(lr.intercept_[0]),
                    "min_sd": m["posture"]["min_sd"]}
    (bundle / "manifest.json").write_text(json.dumps(m))
    # a stretch without a gyroscope (windows the floor leaves to the classifier still join the mean) and a
    # non-finite row (the windows holding it are skipped and do not)
    lines = phone.read_text().splitlines()
    header = lines[0].split(",")
    gyro = [i for i, c in enumerate(header) if c.startswith("gyro_")]
    rows = [line.split(",") for line in lines[1:]]
    for r in rows[1500:2300]:
        for i in gyro:
            r[i] = "0"
    rows[3000][header.index("acc_x")] = "nan"
    recording = tmp_path / "faults.csv"
    recording.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    (events,) = replay_in_page(browser, bundle, recording, tmp_path / "site")
    expected = cli_events(bundle, recording)
    assert expected[-1]["posture_changed_windows"] > 0 and expected[-1]["skipped_reasons"]["non_finite_input"] > 0
    assert_same_events(events, expected)


@needs_browser
@pytest.mark.parametrize("graphs", [("classifier",), ("anomaly",)], ids=["classifier only", "anomaly only"])
def test_a_bundle_with_one_graph_replays_as_the_cli(browser: Chromium, tmp_path: Path, graphs: tuple) -> None:
    """A supervised bundle (no anomaly graph: no scores, no alerts) or a score-only one (class null)."""
    pytest.importorskip("onnx")
    from edge_fixtures import CHANNELS, make_bundle, noise_stream

    bundle = make_bundle(tmp_path / "bundle", graphs=graphs)
    x = noise_stream(2000, seed=3) * 1.6
    csv = tmp_path / "noise.csv"
    csv.write_text(",".join(CHANNELS) + "\n" + "\n".join(",".join(f"{v:.6g}" for v in row) for row in x) + "\n")
    (events,) = replay_in_page(browser, bundle, csv, tmp_path / "site")
    expected = cli_events(bundle, csv)
    assert len(expected) > 20 and (expected[-1]["alerts"] > 0 or graphs == ("classifier",))
    assert_same_events(events, expected)


@needs_browser
def test_a_csv_the_user_picks_with_faults_is_read_as_the_cli_reads_it(browser: Chromium, tmp_path: Path) -> None:
    """The file picker, on a recording with what real files have: an extra column, a non-numeric value, a
    short row, a blank line, a nan; the same bad rows, skipped windows and summary as the CLI."""
    rows = [line.split(",") for line in (EXPORTED / "har-demo" / "demo_stream.csv").read_text().splitlines()[:3001]]
    rows = [r + ["activity_id" if i == 0 else str(i % 7)] for i, r in enumerate(rows)]
    rows[700][2] = "x"  # non-numeric
    rows[1500] = rows[1500][:5]  # short
    rows[2200][3] = "nan"
    lines = [",".join(r) for r in rows]
    lines.insert(2500, "")  # blank
    csv = tmp_path / "mine.csv"
    csv.write_text("\n".join(lines) + "\n")
    site = build_site(EXPORTED / "har-lstm-novelty", tmp_path / "site")
    server, url = serve(site.path)
    try:
        page = browser.open(f"{url}index.html")
        page.wait_for("!document.getElementById('file').disabled")
        page.pick_file("#file", csv)
        assert page.wait_for("document.documentElement.dataset.done") == "1", page.console_errors()
        events = page.evaluate("window.ssvaeEvents")
    finally:
        server.shutdown()
    cli = run_cli("stream", str(EXPORTED / "har-lstm-novelty"), "--input", str(csv))
    assert cli.returncode == 0, cli.stderr
    expected = [json.loads(line) for line in cli.stdout.splitlines() if line.startswith("{")]
    summary = expected[-1]
    assert summary["bad_rows"] == 2 and summary["skipped"] >= 3 and summary["ignored_columns"] == ["activity_id"]
    assert_same_events(events, expected)


@needs_browser
@pytest.mark.parametrize("tampered", ["bundle/anomaly.onnx", "ort/ort-wasm-simd-threaded.wasm.gz"])
def test_a_tampered_graph_is_refused(browser: Chromium, tmp_path: Path, tampered: str) -> None:
    rec = EXPORTED / "har-demo" / "demo_stream.csv"
    site = build_site(EXPORTED / "har-lstm", tmp_path / "site", [rec])
    file = site.path / tampered
    data = bytearray(gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight (or of onnxruntime's code)
    file.write_bytes(gzip.compress(bytes(data)) if file.suffix == ".gz" else bytes(data))
    server, url = serve(site.path)
    try:
        page = browser.open(f"{url}index.html?replay=recordings/{rec.name}")
        assert page.wait_for("document.documentElement.dataset.done") == "error"
        status = page.evaluate("(() => { const s = document.getElementById('status'); "
                               "return [s.textContent, s.classList.contains('error'), s.offsetHeight > 0]; })()")
        events = page.evaluate("window.ssvaeEvents")
    finally:
        server.shutdown()
    text, is_error, visible = status
    expected = "anomaly.onnx does not match its sha256" if "anomaly" in tampered else "sha256 differs"
    assert expected in text and is_error and visible, text
    assert events == []


# ---- live sensors: a synthetic DeviceMotion stream -----------------------------------------------------
MOTION_HZ, GAP = 60.0, (9.0, 9.6)  # events every 1/60 s, none between 9.0 and 9.6 s (the page was hidden)


MOTION_BUNDLES = ["tiny", "tiny-sequence", "tiny-mounting", "tiny-wearer", "tiny-gate"] + [
    n for n in ("har-phone", "har-phone-novelty") if (EXPORTED / n).is_dir()]


def six_channel_bundle(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A phone bundle of exported/, or "tiny": the six raw channels on tests/edge_fixtures graphs (mean ->
    softmax classifier, mean-square anomaly score), smoothed over 3 windows, with a 2-of-3 alert point;
    "tiny-sequence": the same with a sticky sequence filter after the smoothing (manifest `sequence`);
    "tiny-mounting": with a mounting estimate (manifest `mounting`) that believes the phone turned around while
    the gravity's y component has been mostly negative; "tiny-wearer": alerts on the score minus the wearer's
    running baseline of the window's class (manifest `alert.wearer_baseline`); "tiny-gate": that, with only three
    classes' windows able to raise, at the gate's own point (manifest `alert.wearer_baseline.gate`)."""
    if not name.startswith("tiny"):
        if _phone_recording() is None:
            pytest.skip("no phone demo recording in exported/phone-demo")
        return EXPORTED / name
    pytest.importorskip("onnx")
    import edge_fixtures

    monkeypatch.setattr(edge_fixtures, "CHANNELS", PHONE)
    k = len(edge_fixtures.CLASSES)
    sequence = {"transition": (np.full((k, k), 0.2 / (k - 1)) + np.eye(k) * (0.8 - 0.2 / (k - 1))).tolist(),
                "class_prior": [0.1, 0.1, 0.2, 0.2, 0.2, 0.2]} if name == "tiny-sequence" else None
    extra = {"sequence": sequence} if sequence else {}
    if name == "tiny-mounting":
        n_features = 3 * 6 + 15
        weights = [0.0] * n_features
        weights[1] = -4.0  # the mean of acc_y
        extra["mounting"] = {"flip": [1, -1, -1, 1, -1, -1], "center": [0.0] * n_features,
                             "scale": [1.0] * n_features, "weights": weights, "bias": 0.0, "clip": 2.0, "prior": 1.0}
    alert = {"k": 2, "m": 3, "clear_k": 1}
    if name in ("tiny-wearer", "tiny-gate"):
        alert["wearer_baseline"] = {"prior": dict.fromkeys(edge_fixtures.CLASSES, 0.4), "prior_windows": 3,
                                    "k": 2, "m": 3, "clear_k": 1, "threshold": 0.02, "memory_windows": 4}
    if name == "tiny-gate":
        alert["wearer_baseline"]["gate"] = {"classes": edge_fixtures.CLASSES[::2], "prior_windows": 2, "k": 1,
                                            "m": 2, "clear_k": 1, "threshold": 0.01}
    return edge_fixtures.make_bundle(tmp_path / "phone", graphs=("classifier", "anomaly"), units="g, rad/s",
                                     threshold=0.45, alert=alert, smoothing={"windows": 3}, **extra)


def motion_signal(seconds: float, recording: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Event times (ms) at 60 Hz and [n, 6] values in g and rad/s: the phone demo recording interpolated to
    60 Hz when given, else gravity in a direction (how the phone is held) and swings whose strength changes
    every 4 s, so classes, scores and alerts change along the stream."""
    t = np.arange(0, seconds, 1 / MOTION_HZ)
    t = t[(t < GAP[0]) | (t > GAP[1])]
    if recording is not None:
        from ssvae_edge.csvinput import read_recording

        rec = read_recording(recording, PHONE, 50.0)
        rec_t = np.arange(len(rec.samples)) / 50.0
        x = np.stack([np.interp(t, rec_t, rec.samples[:, c].astype(np.float64)) for c in range(6)], axis=1)
        return 1000.0 * t + 12345.678, x
    rng = np.random.default_rng(0)
    segments = int(seconds // 4) + 1
    seg = (t // 4).astype(int)
    gravity = rng.standard_normal((segments, 3))
    gravity /= np.linalg.norm(gravity, axis=1, keepdims=True)
    amp = rng.uniform(0.05, 1.2, segments)[seg]
    phase = rng.uniform(0, 2 * np.pi, 6)
    x = amp[:, None] * np.sin(2 * np.pi * 1.8 * t[:, None] + phase) + 0.02 * rng.standard_normal((len(t), 6))
    x[:, :3] += gravity[seg]  # in g
    x[:, 3:] *= 2.0  # rad/s
    return 1000.0 * t + 12345.678, x  # an arbitrary clock origin, as performance.now() has


def resampled(t_ms: np.ndarray, x: np.ndarray, rate: float, max_gap_ms: float = 250.0) -> tuple[np.ndarray, np.ndarray]:
    """The same signal on the bundle's grid (t0 + n / rate): linear interpolation between the events around
    each grid time, missing (NaN) where they are more than `max_gap_ms` apart."""
    grid = t_ms[0] + np.arange(int((t_ms[-1] - t_ms[0]) * rate / 1000) + 1) * (1000 / rate)
    grid = grid[grid <= t_ms[-1]]
    out = np.stack([np.interp(grid, t_ms, x[:, c]) for c in range(x.shape[1])], axis=1)
    right = np.clip(np.searchsorted(t_ms, grid, side="left"), 1, len(t_ms) - 1)
    out[(t_ms[right] - t_ms[right - 1] > max_gap_ms) & (grid > t_ms[0])] = np.nan
    return (grid - t_ms[0]) / 1000, out


@needs_browser
@pytest.mark.parametrize("name", MOTION_BUNDLES)
def test_device_motion_is_resampled_converted_and_scored_like_python(
        browser: Chromium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    bundle_dir = six_channel_bundle(name, tmp_path, monkeypatch)
    b = Bundle.load(bundle_dir, providers="cpu")
    phone = not name.startswith("tiny")
    t_ms, x = motion_signal(60.0, _phone_recording()) if phone else motion_signal(24.0)
    # what the phone reports: m/s² including gravity, and deg/s as alpha (z), beta (x), gamma (y)
    col = {c: x[:, i] for i, c in enumerate(PHONE)}
    events_js = [{"t": float(t), "a": [col["acc_x"][i] * G, col["acc_y"][i] * G, col["acc_z"][i] * G],
                  "r": [col["gyro_z"][i] / DEG, col["gyro_x"][i] / DEG, col["gyro_y"][i] / DEG]}
                 for i, t in enumerate(t_ms)]
    site = build_site(bundle_dir, tmp_path / "site")
    server, url = serve(site.path)
    try:
        page = browser.open(f"{url}index.html")
        page.wait_for("window.ssvaeStartMotion && !document.getElementById('live-start').disabled")
        # start, dispatch and stop in one task, so no event of the browser's own (null: no sensors here) slips in
        page.evaluate(f"""(async () => {{
            await window.ssvaeStartMotion();
            const empty = new DeviceMotionEvent('devicemotion', {{}});  // what a browser without sensors sends
            Object.defineProperty(empty, 'timeStamp', {{value: {t_ms[0] - 5000}}});
            window.dispatchEvent(empty);
            for (const s of {json.dumps(events_js)}) {{
              const e = new DeviceMotionEvent('devicemotion', {{
                accelerationIncludingGravity: {{x: s.a[0], y: s.a[1], z: s.a[2]}},
                rotationRate: {{alpha: s.r[0], beta: s.r[1], gamma: s.r[2]}}, interval: 1000 / 60}});
              Object.defineProperty(e, 'timeStamp', {{value: s.t}});  // the clock a phone's event carries
              window.dispatchEvent(e);
            }}
            await window.ssvaeStopMotion();
          }})()""")
        assert page.evaluate("document.documentElement.dataset.done") == "1", page.console_errors()
        events = page.evaluate("window.ssvaeEvents")
    finally:
        server.shutdown()
    times, samples = resampled(t_ms, x[:, [PHONE.index(c) for c in b.channels]], b.sample_rate_hz)
    scorer = StreamScorer(b)
    expected = scorer.feed(samples.astype(np.float32), times)
    expected.append(scorer.flush())
    assert_same_events(events, json.loads(json.dumps(expected)))
    summary = expected[-1]
    assert summary["windows"] >= 10 and summary["skipped"] >= 1  # the gap's windows are skipped, not scored
    if not phone:  # the synthetic signal exercises classes, smoothing and alerts; the recording is what it is
        assert len({e["class"] for e in expected[:-1]}) > 1 and summary["alerts"] > 0
        assert summary["smoothing_windows"] == 3
        assert summary["sequence_filter"] == (name == "tiny-sequence")
        if name == "tiny-mounting":
            assert 0 < summary["turned_windows"] < summary["windows"]
        assert summary.get("wearer_baseline", False) == (name in ("tiny-wearer", "tiny-gate"))
        assert summary.get("alert_gate", False) == (name == "tiny-gate")
        if name == "tiny-gate":  # windows outside the gate did score above its threshold: the gate decided
            import edge_fixtures

            gate = set(edge_fixtures.CLASSES[::2])
            assert any(e["wearer_score"] > 0.01 and e["class"] not in gate for e in expected[:-1])
        if name in ("tiny-wearer", "tiny-gate"):
            assert all("wearer_score" in e for e in expected[:-1])
            assert summary["threshold"] == (0.01 if name == "tiny-gate" else 0.02)


@needs_browser
def test_outside_a_secure_context_the_page_says_to_use_https(tmp_path: Path) -> None:
    """As from a phone on `http://<laptop's address>`: a plain-HTTP origin other than localhost has no SubtleCrypto
    (nor motion sensors), so the page stops with a message instead of running unchecked graphs."""
    site = build_site(EXPORTED / "har-lstm", tmp_path / "site")
    server, url = serve(site.path)
    port = url.rstrip("/").rsplit(":", 1)[1]
    try:  # a name that is not localhost, resolved to this machine by the browser itself (no DNS involved)
        with Chromium(extra_args=("--host-resolver-rules=MAP phone-test.example 127.0.0.1",)) as browser:
            page = browser.open(f"http://phone-test.example:{port}/index.html")
            assert page.evaluate("window.isSecureContext") is False
            assert page.wait_for("document.documentElement.dataset.done") == "error"
            text = page.evaluate("document.getElementById('status').textContent")
    finally:
        server.shutdown()
    assert "not in a secure context" in text and "HTTPS" in text, text
