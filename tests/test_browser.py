"""What only a browser shows: the pages render in headless Chromium, in light and dark mode,
with no console errors. Skipped where Chromium is not installed (CI installs Debian's)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from generator.build import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HANDMADE = Path(__file__).resolve().parent / "projects" / "handmade"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("browser")
    shutil.copytree(HANDMADE, work / "site")
    build(work / "site" / "config.yaml", output=work / "out", use_cache=False)
    return work


def chromium(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = site / f"profile-{len(list(site.glob('profile-*')))}"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.parametrize("page", ["index.html", "periods/week/2026-W46.html",
                                  "segments/channel/email.html", "definitions.html",
                                  "data-quality.html"])
def test_pages_render_with_no_console_errors(site: Path, page: str) -> None:
    result = chromium(site, "--dump-dom", (site / "out" / page).as_uri())
    assert "<main" in result.stdout
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def test_dark_scheme_follows_the_reader_setting(site: Path) -> None:
    import matplotlib.image

    brightness = {}
    for scheme, extra in (("light", []), ("dark", ["--force-dark-mode",
                                                    "--blink-settings=preferredColorScheme=0"])):
        shot = site / f"overview-{scheme}.png"
        chromium(site, *extra, f"--screenshot={shot}", "--window-size=1280,1400",
                 (site / "out" / "index.html").as_uri())
        assert shot.is_file() and shot.stat().st_size > 20_000
        brightness[scheme] = float(matplotlib.image.imread(shot)[..., :3].mean())
    assert brightness["dark"] < 0.5 < brightness["light"]
