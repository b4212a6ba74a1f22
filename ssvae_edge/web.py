"""`ssvae-edge web`: a sensor bundle as a static web site that runs it in the browser (onnxruntime-web,
wasm, one thread) on a replayed CSV or on the phone's own motion sensors.

The site is self-contained, so any static HTTPS host can serve it and the page fetches nothing from
elsewhere: `index.html` and its scripts (`webapp/`, package data), the vendored onnxruntime-web files
(`webapp/ort/`, each checked against `ort/vendored.json` before it is copied; the 14 MB wasm binary goes
in gzip-compressed, 3.7 MB, and the page inflates it with the browser's DecompressionStream and checks its
sha256, so the page weighs under 16 MB on any host, compressing or not), the bundle's manifest and
its fp32 classifier and anomaly graphs under `bundle/` (the page checks their sha256 itself before use),
the recordings given under `recordings/`, and `site.json` (what the page loads). It is written in a
hidden folder beside `--out` and renamed into place when complete.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ssvae_edge.bundle import Bundle
from ssvae_edge.contract import MANIFEST_FILE, file_sha256
from ssvae_edge.errors import BundleError, InputError

WEBAPP = Path(__file__).with_name("webapp")
PAGE_FILES = ("index.html", "style.css", "app.js", "csv.js", "model.js", "motion.js", "scorer.js", "view.js")
SITE_FILE = "site.json"  # marks a folder as a site: --force replaces only such a folder
BUNDLE_DIR, ORT_DIR, RECORDINGS_DIR = "bundle", "ort", "recordings"
PAGE_GRAPHS = ("classifier", "anomaly")  # what the page runs (the decoder is not needed to score windows)
WASM = "ort-wasm-simd-threaded.wasm"  # shipped as WASM + ".gz" (see the module's docstring)


@dataclass(frozen=True)
class Site:
    """A written site: its folder, the files in it and their total size (the page's weight on disk)."""

    path: Path
    files: tuple[str, ...]
    bytes: int


def vendored() -> dict:
    """The pinned onnxruntime-web: version, npm integrity, and the sha256 of each vendored file."""
    return json.loads((WEBAPP / ORT_DIR / "vendored.json").read_text())


def _check_vendored() -> dict:
    info = vendored()
    for name, entry in info["files"].items():
        f = WEBAPP / ORT_DIR / name
        if not f.is_file() or file_sha256(f) != entry["sha256"]:
            raise BundleError(f"{f}: missing or not the vendored onnxruntime-web {info['version']} file "
                              "(sha256 differs from ort/vendored.json): reinstall ssvae")
    return info


def check_destination(out: Path, force: bool) -> None:
    """An existing, non-empty --out is refused without --force; with it, only an earlier site is replaced."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not force:
        raise InputError(f"{out} already exists and is not empty: pass --force to replace it")
    if not (out / SITE_FILE).is_file():
        raise InputError(f"--force replaces an earlier site only, and {out} is not one (no {SITE_FILE})")


def sensor_bundle(path: Path) -> Bundle:
    """The bundle, verified (sha256, contract) and refused unless it is a sensor bundle the page can run."""
    b = Bundle.load(path, providers="cpu")
    if not b.manifest.is_sensor:
        raise BundleError(f"{path}: not a sensor bundle (no channels, window and hop): the page scores sensor "
                          "windows, so it is for sensor bundles only")
    if not any(b.has(g) for g in PAGE_GRAPHS):
        raise BundleError(f"{path}: the bundle has neither a classifier nor an anomaly graph: nothing to score")
    return b


def build_site(bundle: str | Path, out: str | Path, recordings: list[Path] | None = None,
               force: bool = False) -> Site:
    """Write the site for `bundle` into `out` (see the module's docstring); return what was written."""
    out = Path(out)
    b = sensor_bundle(Path(bundle))
    recordings = [Path(r) for r in recordings or []]
    for r in recordings:
        if not r.is_file():
            raise InputError(f"{r}: no such recording" if not r.exists() else f"{r}: not a file")
    names = [r.name for r in recordings]
    if len(set(names)) != len(names):
        raise InputError("two recordings have the same file name: rename one")
    check_destination(out, force)
    info = _check_vendored()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a site is for serving
        for name in PAGE_FILES:
            shutil.copyfile(WEBAPP / name, tmp / name)
        (tmp / ORT_DIR).mkdir()
        for name in [*info["files"], "vendored.json"]:
            if name == WASM:  # gzip of level 9, no time stamp: the same bytes every build
                (tmp / ORT_DIR / f"{WASM}.gz").write_bytes(gzip.compress((WEBAPP / ORT_DIR / WASM).read_bytes(), 9,
                                                                        mtime=0))
            else:
                shutil.copyfile(WEBAPP / ORT_DIR / name, tmp / ORT_DIR / name)
        (tmp / BUNDLE_DIR).mkdir()
        shutil.copyfile(b.path / MANIFEST_FILE, tmp / BUNDLE_DIR / MANIFEST_FILE)
        for g in PAGE_GRAPHS:
            if b.has(g):  # the fp32 file the manifest lists (a path inside the bundle); the page checks it again
                dest = tmp / BUNDLE_DIR / b.manifest.graphs[g].file
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(b.path / b.manifest.graphs[g].file, dest)
        if recordings:
            (tmp / RECORDINGS_DIR).mkdir()
            for r in recordings:
                shutil.copyfile(r, tmp / RECORDINGS_DIR / r.name)
        site = {"bundle_name": b.path.name, "bundle_dir": BUNDLE_DIR, "ort_dir": ORT_DIR,
                "ort_version": info["version"], "recordings": [f"{RECORDINGS_DIR}/{n}" for n in names],
                "ort_wasm": {"file": f"{ORT_DIR}/{WASM}.gz", "sha256": info["files"][WASM]["sha256"]}}
        (tmp / SITE_FILE).write_text(json.dumps(site, indent=2) + "\n")
        check_destination(out, force)  # something may have appeared there meanwhile
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / "site")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = tuple(sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()))
    return Site(out, files, sum((out / f).stat().st_size for f in files))


def page_bytes(site: Site) -> int:
    """What a browser downloads to open the page (uncompressed): every file but the recordings and
    `ort/vendored.json` (which the page never fetches)."""
    skip = (f"{RECORDINGS_DIR}/", f"{ORT_DIR}/vendored.json")
    return sum((site.path / f).stat().st_size for f in site.files if not f.startswith(skip))
