"""A screenshot of the `ssvae-edge web` page replaying a recording, taken in headless Chromium at a phone's
screen size (the README's figure).

    python tools/web_screenshot.py --bundle exported/har-lstm-novelty \
        --recording exported/har-demo/demo_stream.csv --out results/figures/web-page.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ssvae_edge.headless import Chromium
from ssvae_edge.web import build_site
from ssvae_edge.webserve import serve_in_background


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--recording", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("results/figures/web-page.png"))
    ap.add_argument("--width", type=int, default=412, help="CSS pixels (412: a common Android phone)")
    ap.add_argument("--height", type=int, default=915)
    ap.add_argument("--scale", type=float, default=2.0, help="device pixels per CSS pixel")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(a.bundle, Path(tmp) / "site", [a.recording])
        server, url = serve_in_background(site.path)
        try:
            with Chromium() as browser:
                page = browser.open(f"{url}index.html?replay=recordings/{a.recording.name}", width=a.width,
                                    height=a.height, scale=a.scale, mobile=True)
                state = page.wait_for("document.documentElement.dataset.done")
                if state != "1":
                    raise SystemExit(f"the page did not finish the replay: {page.console_errors()}")
                page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # drawn
                a.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(a.out)
        finally:
            server.shutdown()
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
