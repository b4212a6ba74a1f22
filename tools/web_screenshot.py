"""A screenshot of the `ssvae-edge web` page replaying a recording, taken in headless Chromium at a phone's
screen size (the README's figure).

    python tools/web_screenshot.py --bundle exported/har-lstm-novelty \
        --recording exported/har-demo/demo_stream.csv --out results/figures/web-page.png
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from ssvae_edge.headless import Chromium
from ssvae_edge.web import build_site
from ssvae_edge.webserve import serve_in_background


def main(
    bundle: Path = typer.Option(..., help="The sensor bundle the page runs."),
    recording: Path = typer.Option(..., help="The CSV recording it replays."),
    out: Path = typer.Option(Path("results/figures/web-page.png"), help="The PNG to write."),
    width: int = typer.Option(412, help="CSS pixels (412: a common Android phone)."),
    height: int = typer.Option(915, help="CSS pixels of the screen (the picture has the page's whole height)."),
    scale: float = typer.Option(2.0, help="Device pixels per CSS pixel."),
) -> None:
    """A screenshot of the `ssvae-edge web` page replaying a recording, at a phone's screen size."""
    with tempfile.TemporaryDirectory() as tmp:
        site = build_site(bundle, Path(tmp) / "site", [recording])
        server, url = serve_in_background(site.path)
        try:
            with Chromium() as browser:
                page = browser.open(f"{url}index.html?replay=recordings/{recording.name}", width=width,
                                    height=height, scale=scale, mobile=True)
                state = page.wait_for("document.documentElement.dataset.done")
                if state != "1":
                    raise SystemExit(f"the page did not finish the replay: {page.console_errors()}")
                page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # drawn
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(out)
        finally:
            server.shutdown()
    print(f"wrote {out}")


if __name__ == "__main__":
    typer.run(main)
