"""The golden site: the hand-made fixture's pages and data files, reviewed as a diff.

Regenerate after an intended change with `make golden` (which runs
`python tests/test_golden.py --update`), then review `git diff tests/golden`. Charts are left
out (their panels, inline SVG in the segment pages, are replaced by a placeholder): their SVG
depends on the installed matplotlib version, not on carecard alone.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "handmade"
PROJECT = HERE / "projects" / "handmade"
#: A chart's panels in a page (no <div> inside them), and what stands in for them.
CHART_PANELS = re.compile(rb'(<div class="chart-panels">).*?(</div>)', re.S)
LEFT_OUT = rb"\1<!-- chart panels: drawn by matplotlib, left out of the golden copy -->\2"


def built_site(workdir: Path) -> dict[str, bytes]:
    from generator.build import build

    site = workdir / "site"
    shutil.copytree(PROJECT, site)
    build(site / "config.yaml", output=workdir / "out", use_cache=False)
    out = workdir / "out"
    return {
        p.relative_to(out).as_posix(): CHART_PANELS.sub(LEFT_OUT, p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.suffix in (".html", ".csv", ".json", ".md")
    }


def test_the_site_matches_the_golden_copy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    site = built_site(tmp_path)
    golden = {
        p.relative_to(GOLDEN).as_posix(): p.read_bytes()
        for p in sorted(GOLDEN.rglob("*")) if p.is_file()
    }
    assert sorted(site) == sorted(golden), "pages added or removed: run `make golden`"
    changed = [path for path in site if site[path] != golden[path]]
    assert not changed, f"changed: {changed[:10]}; review, then run `make golden`"


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    import os
    import tempfile

    os.environ.pop("SOURCE_DATE_EPOCH", None)
    with tempfile.TemporaryDirectory() as folder:
        files = built_site(Path(folder))
    shutil.rmtree(GOLDEN, ignore_errors=True)
    for path, data in files.items():
        (GOLDEN / path).parent.mkdir(parents=True, exist_ok=True)
        (GOLDEN / path).write_bytes(data)
    print(f"wrote {len(files)} files to {GOLDEN.relative_to(HERE.parent)}")
