"""Shared fixtures: scratch projects written from dedented strings."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MINIMAL_CONFIG = """
site:
  title: Scratch
  timezone: UTC
  periods: [week]
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
"""


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write config.yaml and files into a scratch folder; return the config path."""

    def make(files: dict[str, str], config: str = MINIMAL_CONFIG) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        config_path = tmp_path / "config.yaml"
        config_path.write_text(textwrap.dedent(config).lstrip("\n"), encoding="utf-8")
        return config_path

    return make


@pytest.fixture(autouse=True)
def _fixtures_stay_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that writes into the committed fixture projects (a build there leaves a
    cache that later tests, which copy the fixtures, would pick up)."""
    projects = Path(__file__).parent / "projects"
    before = sorted(projects.rglob("*"))
    yield
    after = sorted(projects.rglob("*"))
    assert after == before, f"{request.node.name} wrote into tests/projects: " + ", ".join(
        str(p.relative_to(projects)) for p in sorted(set(after) - set(before))[:5])


@pytest.fixture
def default_signals() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt and SIGTERM at its default, whatever the suite was
    started with (under `nohup` or as a background job SIGINT is ignored); restored after."""
    import signal

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for number, handler in before.items():
        signal.signal(number, handler)


# --- The slow tier's example site and external tools --------------------------------------------

REPO = Path(__file__).resolve().parent.parent
#: Set by .ci/run: the slow tier's tools (Debian's Chromium, Java) must be there; without it a
#: missing tool skips the tests that need it (locally).
REQUIRE_TOOLS = os.environ.get("CARECARD_REQUIRE_BROWSER") == "1"


def missing_tool(reason: str) -> None:
    """Skip the test for a missing tool, or fail it when CARECARD_REQUIRE_BROWSER=1 (CI)."""
    if REQUIRE_TOOLS:
        pytest.fail(f"{reason} (CARECARD_REQUIRE_BROWSER=1: the slow tier needs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's example site, built once per session (no cache): its output folder."""
    from generator.build import build

    out = tmp_path_factory.mktemp("example") / "out"
    build(REPO / "config.yaml", output=out, use_cache=False)
    return out
