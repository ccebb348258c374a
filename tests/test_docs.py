"""Every config key and every CLI command and option is documented in README.md."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from generator.cli import _parser
from generator.config import loader as cfg

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
NOT_KEYS = {"line", "name", "text", "within_minutes", "metric", "direction", "value", "where",
            "conditions", "path", "warnings", "site", "sources", "calendars", "policy",
            "pseudonym_key", "pseudonym_key_id", "pseudonymised"}  # bookkeeping of privacy


def section(title: str) -> str:
    match = re.search(rf"^### `{title}`.*?(?=^### |^## |\Z)", README, re.S | re.M)
    assert match, f"README has no section for `{title}`"
    return match.group(0)


@pytest.mark.parametrize(
    "title, dataclass",
    [("site", cfg.SiteConfig), ("sources", cfg.SourceConfig), ("calendars", cfg.Calendar),
     ("policy", cfg.Policy)],
)
def test_every_config_key_is_documented(title: str, dataclass: type) -> None:
    text = section(title)
    keys = [f.name for f in dataclasses.fields(dataclass) if f.name not in NOT_KEYS]
    if title == "sources":
        keys += ["name", "path"]
    missing = [k for k in keys if f"`{k}`" not in text]
    assert not missing


def test_every_cli_command_and_option_is_documented() -> None:
    parser = _parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        assert f"carecard {name}" in README, name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in README, (name, flag)
