"""The one-line message of every rejection reason (STYLE: WHERE: expected X, found 'Y'. Hint: …).

Interaction-level and message-level sources share these texts, so a reason reads the same
whichever shape of export it came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from generator.config.site_section import REJECTED_SHARE_MIN_ROWS
from generator.errors import Problem
from generator.ingest.readers import MAX_FIELD, MAX_RECORD
from generator.ingest.timestamps import detect_formats, has_known_layout
from generator.model import QualityReport
from generator.sqltext import sql_str

#: Reasons of records a reader could not split into the header's values (SPEC §3.4).
MALFORMED_REASONS: dict[str, str] = {
    "malformed_row": "malformed row (values unlike the header)",
    "field_too_large": "value too large to read",
}


@dataclass(frozen=True)
class Context:
    """What a few messages quote besides the row itself."""

    source_index: int
    """Index of the source in config.yaml (hints name `sources[i]`)."""
    csat_scale: tuple[float, float] = (1, 5)
    data_through: str = ""
    """site.data_through as written, for 'after_data_through'."""
    max_future: str = "2d"
    """The source's max_future as written, for 'implausible_timestamp'."""
    on_duplicate: str = "reject"
    """The source's on_duplicate, for 'duplicate_id'."""
    timestamp_format: str | None = None
    """The source's timestamp_format, for 'unparseable_timestamp'."""


def reference_text(
    latest: datetime | None, earlier: bool | None, time: str = "received_at", rows: str = "rows"
) -> str:
    """What an implausible timestamp is measured against: the latest `time` of the other
    `rows` of its drop, or (`earlier`) of the source's earlier drops."""
    if latest is None:
        return ""
    when = latest.astimezone(timezone.utc).isoformat(sep=" ")
    among = "the source's earlier drops" if earlier else f"the drop's other {rows}"
    return f"the latest {time} of {among} ({when})"


def rejection_problem(
    where: str,
    reason: str,
    field: str,
    value: str | None,
    context: Context,
    received: str | None = None,
    reference: str = "",
) -> Problem:
    """The message for one rejected row; `received` is the row's received_at as written and
    `reference` what an implausible timestamp was measured against (:func:`reference_text`)."""
    found = value if value is not None else ""
    index = context.source_index
    if reason == "missing_required":
        return Problem(where, "", f"a value for the required field '{field}'", found,
                       f"map another column with sources[{index}].columns.{field}, "
                       "or fix the export.")
    if reason == "unparseable_timestamp":
        return Problem(where, "", "a timestamp like '2026-11-23 14:05:00' or "
                       "'2026-11-23T14:05:00+00:00'", found, _timestamp_hint(found, context))
    if reason == "timestamp_out_of_range":
        return Problem(where, "", "a time from 1970 to 2100", found,
                       "a date this far off is a typing or export error; correct the export.")
    if reason == "implausible_timestamp":
        return Problem(where, "", f"a time at most {context.max_future} after {reference}",
                       found, "check the year and the column mapping; if this source's exports "
                       f"do run ahead, raise sources[{index}].max_future.")
    if reason == "reserved_value":
        return Problem(where, "", f"any value but 'all' for '{field}' (it names the whole)",
                       found, f"map it to another value with sources[{index}].values.{field}.")
    if reason == "unmapped_value":
        return Problem(where, "", f"true or false for '{field}'", found,
                       f"map it with sources[{index}].values.{field}, e.g. {{{found}: true}}.")
    if reason == "not_a_number":
        return Problem(where, "", f"a number for '{field}'", found,
                       f"leave the cell empty when there is no {field}.")
    if reason == "csat_outside_scale":
        low, high = context.csat_scale
        return Problem(where, "", f"a score from {low:g} to {high:g} (policy.csat.scale)", found,
                       "check the survey scale in policy.csat.")
    if reason == "csat_not_on_scale":
        low, high = context.csat_scale
        return Problem(where, "", f"a whole score from {low:g} to {high:g} (policy.csat)",
                       found, "scores between the points of the scale are dropped; check the "
                       "survey scale in policy.csat.")
    if reason == "number_too_large":
        return Problem(where, "", f"a number of at most 10^16 for '{field}'", found,
                       f"leave the cell empty when there is no {field}.")
    if reason == "negative_number":
        return Problem(where, "", f"a number of at least 0 for '{field}'", found,
                       f"leave the cell empty when there is no {field}.")
    if reason == "invalid_sentiment":
        return Problem(where, "", "a number from -1 to 1 or positive, neutral or negative", found)
    if reason in ("reply_before_receipt", "resolution_before_receipt"):
        return Problem(where, "", f"a time at or after received_at '{received}'", found,
                       "check the timezone of the source and the column mapping.")
    if reason == "after_data_through":
        return Problem(where, "", f"a time at or before site.data_through ({context.data_through})",
                       found, "raise site.data_through or remove it to derive it from the data.")
    if reason == "duplicate_id":
        if context.on_duplicate == "identical":
            return Problem(where, "", "an id that appears once in the drop, or only in "
                           "identical copies", found,
                           "its copies differ, so every copy is rejected; set "
                           f"sources[{context.source_index}].on_duplicate: keep_last to keep "
                           "the last copy.")
        return Problem(where, "", "an id that appears once in the drop", found,
                       "every copy is rejected; export the drop again without duplicates, or "
                       f"set sources[{context.source_index}].on_duplicate (identical, "
                       "keep_last).")
    if reason == "inexact_id":
        return Problem(where, "", "an id as text, or as a whole number of at most 2^53 "
                       "(9007199254740992)", found,
                       "a number this large may have lost its last digits before it was "
                       "exported (most tools hold numbers as doubles); export ids as text (in "
                       "JSON, as a string in quotes).")
    if reason == "id_in_exponent":
        return Problem(where, "", "an id written out in full", found,
                       "a spreadsheet wrote this id in exponent notation and lost its last "
                       "digits; export the column as text.")
    return Problem(where, reason, "", found)


def _timestamp_hint(text: str, context: Context) -> str:
    """What to do about an unparsed timestamp: the format it looks like (SPEC §3.4)."""
    key = f"sources[{context.source_index}].timestamp_format"
    formats, native = detect_formats(text)
    if formats and native and context.timestamp_format:
        return (f"it looks like '{formats[0]}', which parses without a format: remove {key} "
                f"('{context.timestamp_format}').")
    if len(formats) == 2:
        return (f"it looks like '{formats[0]}' or '{formats[1]}' (day or month first: a date "
                f"after the 12th tells which); set {key} to the right one, in quotes.")
    if formats and not native:
        return f"it looks like '{formats[0]}': set {key}: '{formats[0]}' (in quotes)."
    if has_known_layout(text):
        return ("the layout is a known one but this date or time does not exist (like 30 "
                "February or 25:61): correct the export.")
    if context.timestamp_format:
        return f"check {key} ('{context.timestamp_format}')."
    return f"set {key}."


#: What a rejection quotes instead of a malformed record's text when the site pseudonymises.
HIDDEN_TEXT = "(text not shown: site.privacy.pseudonymise)"


def malformed_sql(column: str, pseudonymise: bool) -> str:
    """SQL of a staged record's MALFORMED_COLUMN JSON; with site.privacy.pseudonymise its
    quoted text is replaced by HIDDEN_TEXT as it is staged (it may name a person)."""
    if not pseudonymise:
        return column
    patch = sql_str(json.dumps({"found": HIDDEN_TEXT}))
    return f"CAST(json_merge_patch({column}, {patch}) AS VARCHAR)"


def malformed_problem(where: str, why: str, source_index: int) -> tuple[Problem, str]:
    """The message for a record a reader could not read (`why`: the JSON it left in
    MALFORMED_COLUMN), and the export column it concerns ('' for the whole record)."""
    info = json.loads(why)
    found = str(info.get("found", ""))
    column = str(info.get("column") or "")
    if info.get("reason") == "field_too_large" and column:
        return Problem(
            f"{where}, column '{column}'", "", f"a value of at most {MAX_FIELD:,} characters",
            found, f"this one has {int(info.get('size', 0)):,}; the row is rejected, the rest "
            "of the drop is read. Shorten such values in the export, or leave out the column.",
        ), column
    if info.get("reason") == "field_too_large":
        return Problem(
            where, "", f"a record of at most {MAX_RECORD:,} characters", found,
            "a value quoted on this line runs on much further (a quote that is closed only "
            "far below?); the row is rejected, the rest of the drop is read.",
        ), ""
    if "values" in info:
        expected = int(info["expected"])
        return Problem(
            where, "", f"{expected} value{'' if expected == 1 else 's'} like the header line",
            found, f"the line has {info['values']}; quote values that contain the delimiter, or "
            f"set sources[{source_index}].delimiter.",
        ), ""
    return Problem(where, "", "a record like the header line", found,
                   f"the CSV reader said: {info.get('error', 'unknown error')}."), ""


def rejected_share_problems(
    quality: QualityReport, share: float, smallest: int = REJECTED_SHARE_MIN_ROWS
) -> list[Problem | str]:
    """The drops of at least `smallest` rows with more than `share` of them rejected (SPEC
    §3.4: a wrong timestamp format or a broken export fails the build rather than publishing
    an empty scorecard): one problem per drop, naming its top reasons, then its first rejected
    row's message."""
    out: list[Problem | str] = []
    for drop in quality.drops:
        if drop.read < smallest or drop.rejected <= share * drop.read:
            continue
        top = sorted(drop.rejected_by_reason.items(), key=lambda item: (-item[1], item[0]))[:3]
        reasons = ", ".join(f"{reason} {count}" for reason, count in top)
        out.append(Problem(
            drop.file, "rejected rows",
            f"at most {share:.0%} of the drop's {drop.read} rows (site.max_rejected_share)",
            f"{drop.rejected} ({drop.rejected / drop.read:.0%}; {reasons})",
            "a wrong timestamp_format or column mapping is the usual cause; nothing is "
            "published. Raise site.max_rejected_share if this drop is expected to be mostly "
            "rejected.",
        ))
        first = next((r for r in quality.rejections if r.file == drop.file), None)
        if first is not None:
            out.append(f"  the first: {first.message}")
    return out
