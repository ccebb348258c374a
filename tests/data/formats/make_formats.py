"""Write the format fixtures of tests/test_readers.py: one small export in every format.

Run `python tests/data/formats/make_formats.py` from the repository root; the outputs are
committed, and the script is deterministic (fixed zip and gzip timestamps), so re-running it
gives the same bytes. The xlsx writer is a minimal hand-written SpreadsheetML (no dependency):
numbers as numeric cells, timestamps as date cells (style numFmtId 22), text as inline strings.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import duckdb

HERE = Path(__file__).resolve().parent
COLUMNS = ("id", "received_at", "first_response_at", "channel", "csat", "needs_reply", "note")
# The same five interactions in every file; ids and csat are numbers where the format has them.
ROWS: list[dict[str, object]] = [
    {"id": 101, "received_at": "2026-11-02 09:00:00", "first_response_at": "2026-11-02 09:10:00",
     "channel": "twitter", "csat": 5, "needs_reply": True, "note": "plain"},
    {"id": 102, "received_at": "2026-11-02 10:30:00", "first_response_at": None,
     "channel": "email", "csat": None, "needs_reply": True,
     "note": "comma, semicolon; pipe | tab\tend"},
    {"id": 103, "received_at": "2026-11-02 11:00:00", "first_response_at": "2026-11-02 12:00:00",
     "channel": "facebook", "csat": 4.5, "needs_reply": False, "note": 'two\nlines, "quoted"'},
    {"id": 104, "received_at": "2026-11-03 08:15:30", "first_response_at": "2026-11-03 08:16:00",
     "channel": "twitter", "csat": 1, "needs_reply": True, "note": "café ✓"},
    {"id": 105, "received_at": "2026-11-03 23:59:59", "first_response_at": None,
     "channel": "instagram", "csat": None, "needs_reply": False, "note": None},
]


def text(value: object) -> str:
    """A cell as written in a text export."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv(name: str, delimiter: str, newline: str = "\n", bom: bool = False,
              compress: bool = False) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(COLUMNS)
    for row in ROWS:
        writer.writerow([text(row[c]) for c in COLUMNS])
    data = (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")
    if compress:
        data = gzip.compress(data, mtime=0)
    (HERE / name).write_bytes(data)


def json_value(value: object) -> object:
    return value


def write_json() -> None:
    lines = [json.dumps({c: row[c] for c in COLUMNS}, ensure_ascii=False) for row in ROWS]
    # A blank line between records 2 and 3: JSON Lines positions count it.
    (HERE / "lines.jsonl").write_text("\n".join(lines[:2] + [""] + lines[2:]) + "\n", "utf-8")
    items = [{c: row[c] for c in COLUMNS} for row in ROWS]
    (HERE / "array.json").write_text(json.dumps(items, ensure_ascii=False, indent=1), "utf-8")


def write_parquet() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t (id BIGINT, received_at TIMESTAMP, first_response_at TIMESTAMP, "
        "channel VARCHAR, csat DOUBLE, needs_reply BOOLEAN, note VARCHAR)"
    )
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[row[c] for c in COLUMNS] for row in ROWS])
    target = HERE / "table.parquet"
    con.execute(f"COPY (SELECT * FROM t ORDER BY id) TO '{target}' (FORMAT parquet)")


def serial(stamp: str) -> str:
    """An Excel date serial (1900 system) for a naive timestamp."""
    delta = datetime.fromisoformat(stamp) - datetime(1899, 12, 30)
    return repr(delta.days + delta.seconds / 86400)


def column_letter(index: int) -> str:
    return chr(ord("A") + index)


def xlsx_cell(ref: str, column: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if column in ("received_at", "first_response_at"):
        return f'<c r="{ref}" s="1"><v>{serial(str(value))}</v></c>'
    return (f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(str(value))}'
            "</t></is></c>")


def sheet_xml(rows: list[list[str]]) -> str:
    body = "".join(f'<row r="{n}">{"".join(cells)}</row>' for n, cells in enumerate(rows, 1))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{body}</sheetData></worksheet>")


def write_xlsx() -> None:
    header = [xlsx_cell(f"{column_letter(i)}1", "", c) for i, c in enumerate(COLUMNS)]
    rows = [header] + [
        [xlsx_cell(f"{column_letter(i)}{n}", c, row[c]) for i, c in enumerate(COLUMNS)]
        for n, row in enumerate(ROWS, start=2)
    ]
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/worksheets/sheet2.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/></Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>"),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Export" sheetId="1" r:id="rId1"/>'
            '<sheet name="Notes" sheetId="2" r:id="rId2"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/worksheet" Target="worksheets/sheet2.xml"/>'
            f'<Relationship Id="rId3" Type="{rel}/styles" Target="styles.xml"/>'
            "</Relationships>"),
        "xl/styles.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<styleSheet xmlns="{main}"><fonts count="1"><font/></fonts>'
            '<fills count="1"><fill/></fills><borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="22" applyNumberFormat="1"/>'
            "</cellXfs></styleSheet>"),
        "xl/worksheets/sheet1.xml": sheet_xml(rows),
        "xl/worksheets/sheet2.xml": sheet_xml(
            [[xlsx_cell("A1", "", "only the first sheet is read")]]),
    }
    with zipfile.ZipFile(HERE / "sheet.xlsx", "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)


def write_bad() -> None:
    bad = HERE / "bad"
    bad.mkdir(exist_ok=True)
    header = ",".join(COLUMNS) + "\n"
    good = "101,2026-11-02 09:00:00,,twitter,,,ok\n"
    (bad / "empty.csv").write_bytes(b"")
    (bad / "header_only.csv").write_text(header, "utf-8")
    (bad / "binary.csv").write_bytes(bytes((i * 73 + 41) % 256 for i in range(600)))
    (bad / "latin1.csv").write_bytes((header + good + "102,2026-11-02 10:00:00,,email,,,"
                                     "caf\u00e9 cr\u00e8me\n").encode("latin-1"))
    (bad / "unclosed_quote.csv").write_text(
        header + good + '102,2026-11-02 10:00:00,,email,,,"never closed\n'
        "103,2026-11-02 11:00:00,,email,,,x\n", "utf-8")
    full = gzip.compress((header + good * 2000).encode(), mtime=0)
    (bad / "truncated.csv.gz").write_bytes(full[: len(full) // 2])
    (bad / "object.json").write_text('{"id": 101, "channel": "twitter"}\n', "utf-8")
    (bad / "bad_item.json").write_text('[{"id": 101}, 102, {"id": 103}]\n', "utf-8")
    (bad / "bad_line.jsonl").write_text('{"id": 101}\n\n[102]\n{"id": 103\n', "utf-8")
    (bad / "xlsx_named.csv").write_bytes((HERE / "sheet.xlsx").read_bytes())
    # Readable: a malformed record is a rejected row, the rest of the drop is kept.
    malformed = HERE / "malformed"
    malformed.mkdir(exist_ok=True)
    (malformed / "ragged.csv").write_text(
        header + good + "102,2026-11-02 10:00:00,,email\n" + good.replace("101", "103"), "utf-8")


def main() -> None:
    write_csv("comma.csv", ",")
    write_csv("semicolon.csv", ";")
    write_csv("tab.tsv", "\t")
    write_csv("pipe.csv", "|")
    write_csv("bom_crlf.csv", ",", newline="\r\n", bom=True)
    write_csv("gzip.csv.gz", ",", compress=True)
    write_json()
    write_parquet()
    write_xlsx()
    write_bad()


if __name__ == "__main__":
    main()
