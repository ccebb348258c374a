#!/usr/bin/env python3
"""Take the README's screenshot: the example site's overview in headless Chromium.

    python scripts/screenshot.py [--site output] [--out docs/overview.png]

Builds nothing: run `make site` first. Drives Debian's Chromium (`chromium` on PATH) through
Playwright, as the browser tests do; no browser is downloaded. The picture is the top of the
overview at 1280 CSS px in the light scheme.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def take(site: Path, out: Path, width: int = 1280, height: int = 900) -> None:
    """Write a PNG of the top of `site`/index.html to `out`."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("screenshot: Chromium is not installed (apt-get install chromium).")
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        try:
            page = browser.new_page(viewport={"width": width, "height": height},
                                    color_scheme="light")
            page.goto((site / "index.html").resolve().as_uri(), wait_until="load")
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=REPO / "output")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "overview.png")
    args = parser.parse_args(argv)
    take(args.site, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
