"""Engine-written downloads: interactions.csv goes from the engine to the site, not via Python."""

from __future__ import annotations

import shutil
from pathlib import Path

from generator.build import build, check

HANDMADE = Path(__file__).parent / "projects" / "handmade" / "config.yaml"


def test_interactions_csv_written_into_the_site_equals_the_checked_bytes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE.parent, site)
    config = site / "config.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "  data_through:", "  interactions_csv: true\n  data_through:"),
        encoding="utf-8",
    )
    build(config, output=tmp_path / "out")
    checked = check(config)  # no scratch folder: the bytes come back to Python
    assert isinstance(checked.interactions, bytes)
    written = (tmp_path / "out" / "data" / "interactions.csv").read_bytes()
    assert written == checked.interactions
    assert written.startswith(b"source,id,channel,received_at,")
    assert not (tmp_path / "out" / ".carecard-scratch").exists()
