"""`carecard init`: scaffold a new site (config, content, a small sample export).

Every file is generated from the strings and the fixed arithmetic below, never copied from the
repository, so the scaffold works the same from a checkout and from an installed wheel; the
sample export is deterministic (no randomness, no clock).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from generator.errors import ConfigError, Problem

CONFIG_YAML = """\
# carecard site configuration. Every key is documented in carecard's README
# ("config.yaml reference"). Durations are written 90s, 15m, 4h, 2d; paths are relative to
# this file. Build the site with `carecard build`, preview it with `carecard serve`.
site:
  title: My Care Scorecard            # shown on every page
  timezone: Europe/London             # reporting timezone (IANA); periods are cut in it
  periods: [week, month]              # day, week, month, quarter; the first is the headline
  history: 26                         # periods shown on trend charts and sparklines
  # data_through: 2026-04-19T00:00    # explicit cut-off; default: derived from the data
  # on_bad_rows: fail                 # default 'report': rejected rows are listed, build goes on

sources:                              # one entry per kind of export
  - name: desk
    path: content/exports/care-*.csv  # glob of the drops; for an id the latest drop wins
    timezone: Europe/London           # for timestamps written without an offset
    # max_future: 2d                  # a time more than this after the drop's latest receipt
    #                                 # is a typo: its row is rejected (implausible_timestamp)
    columns:                          # canonical field: column name in your export
      id: Ticket
      received_at: Opened
      first_response_at: First Reply
      resolved_at: Closed
      channel: Channel
      csat: Rating
      needs_reply: Needs Reply
      team: Team                      # any other column is an attribute or a dimension
      category: Category
    values:                           # per field: export value -> canonical value
      channel: {Twitter: twitter, Email: email}
      needs_reply: {"Yes": "true", "No": "false"}
    dimensions: [team]                # published as segments; channel always is one

calendars:                            # opening hours for targets on the business clock
  office:
    timezone: Europe/London
    hours:
      mon-fri: ["09:00-17:30"]        # several intervals a day are allowed
    holidays: [2026-04-03, 2026-04-06]

policy:
  exclude:                            # the first matching rule counts the interaction
    - {name: spam, where: {category: spam}}
  first_response:                     # the first matching rule wins; the last has no `where`
    - {where: {channel: email}, within: 8h, clock: business, calendar: office}
    - {within: 60m}                   # elapsed clock by default
  csat: {scale: [1, 5], satisfied: [4, 5]}
  goals:                              # min: higher is better; max: lower is better
    sla_attainment: {min: 0.90, tolerance: 0.05, min_n: 5}
    response_rate: {min: 0.95}
    frt_median: {max: 30}             # minutes
    csat: {min: 0.80, min_n: 3}
    backlog: {max: 2}
"""

ABOUT_MD = """\
---
title: About this scorecard
order: 1
---

This site shows how well the care team answers customers on Twitter/X and by e-mail: how fast
the first reply comes, how many contacts are left without an answer, and how satisfied
customers are afterwards.

The figures are computed from the exports in `content/exports/` and the policy in
`config.yaml`; the definitions page explains every one of them. Replace the sample exports
with your own, adjust the column mapping under `sources`, and run `carecard build` again.
"""

GITIGNORE = """\
# carecard: the built site and the build cache are never committed.
output/
.carecard-cache/
"""

HEADER = ("Ticket", "Opened", "First Reply", "Closed", "Channel", "Team", "Category",
          "Needs Reply", "Rating")
WEEKS = ((15, datetime(2026, 4, 6)), (16, datetime(2026, 4, 13)))
"""ISO week number and its Monday: the two sample drops."""
UNANSWERED = {15: (6, 13, 19), 16: (5, 17, 19)}
"""Interactions without a reply in their week's drop (W15's 19 gains one in W16's drop)."""
PER_WEEK = 20
STAMP = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Scaffold:
    """What `init` wrote."""

    root: Path
    """The site folder."""
    files: tuple[Path, ...]
    """Every file written, relative to `root`, in writing order."""


def _stamp(moment: datetime | None) -> str:
    return moment.strftime(STAMP) if moment is not None else ""


def _interaction(week: int, monday: datetime, i: int, answered: bool) -> tuple[str, ...]:
    """One sample row: fixed arithmetic on (week, i) spreads times, channels and outcomes."""
    received = monday + timedelta(days=i // 3, hours=8 + (i * 5) % 11, minutes=(i * 17) % 60)
    email = i % 4 == 3
    team = "Orders" if email or i % 5 == 1 else "Social Desk"
    category = "spam" if i == 10 else "thanks" if i == 15 else (
        "complaint" if (i + week) % 3 == 0 else "question")
    needs_reply = i != 15
    reply = resolved = None
    rating = ""
    if answered and needs_reply:
        minutes = (i * 131 + week * 7) % 700 + 20 if email else (i * 29 + week * 11) % 100 + 3
        reply = received + timedelta(minutes=minutes)
        if i % 3 != 2:
            resolved = reply + timedelta(hours=(i * 7) % 48 + 1)
            if i % 4 == 0:
                rating = str((5, 4, 2, 5, 3, 4)[(i // 4 + week) % 6])
    return (
        f"T-{week}{i:02d}", _stamp(received), _stamp(reply), _stamp(resolved),
        "Email" if email else "Twitter", team, category, "Yes" if needs_reply else "No", rating,
    )


def sample_exports() -> dict[str, str]:
    """The two weekly sample drops (file name -> CSV text): 40 interactions, one re-exported."""
    drops: dict[str, str] = {}
    previous: list[int] = []
    for week, monday in WEEKS:
        rows = []
        # A snapshot export: what was unanswered at the end of the previous week is exported
        # again once it has its reply, and the later drop wins for that id.
        rows += [_interaction(week - 1, monday - timedelta(days=7), i, True)
                 for i in previous]
        rows += [_interaction(week, monday, i, i not in UNANSWERED[week])
                 for i in range(PER_WEEK)]
        previous = [i for i in UNANSWERED[week] if i == PER_WEEK - 1]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)
        drops[f"care-2026-W{week}.csv"] = text.getvalue()
    return drops


def scaffold_files() -> dict[str, str]:
    """Every file of a new site: relative path -> text."""
    files = {
        "config.yaml": CONFIG_YAML,
        "content/about.md": ABOUT_MD,
        ".gitignore": GITIGNORE,
    }
    files.update({f"content/exports/{name}": text for name, text in sample_exports().items()})
    return files


def init_site(folder: Path | str, force: bool = False) -> Scaffold:
    """Write a new site into `folder`; refuse a non-empty folder unless `force`."""
    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise ConfigError(Problem(
            str(root), "cannot create a site here", "a folder", "a file",
            hint="choose a new folder name.",
        ))
    if root.is_dir() and not force:
        entries = sorted(p.name for p in root.iterdir())
        if entries:
            shown = ", ".join(entries[:3]) + (", …" if len(entries) > 3 else "")
            raise ConfigError(Problem(
                str(root), "cannot create a site here", "an empty or new folder", shown,
                hint="choose a new folder, or pass --force to write the scaffold's files "
                "(existing files of the same name are replaced, others are kept).",
            ))
    written = []
    try:
        for name, text in scaffold_files().items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            written.append(Path(name))
    except OSError as error:
        raise ConfigError(Problem(
            str(root / name), "cannot write", found=error.strerror or str(error),
            hint="check the folder's permissions and free space.",
        )) from None
    return Scaffold(root=root, files=tuple(written))
