"""Reading drops: every format gives the same text table, with positions; bad files say why."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from generator.config.loader import SourceConfig
from generator.errors import DataError
from generator.ingest.readers import POSITION_COLUMN, read_drop, sniff_delimiter
from generator.ingest.sources import Drop

FORMATS = Path(__file__).parent / "data" / "formats"
BAD = FORMATS / "bad"
COLUMNS = ["id", "received_at", "first_response_at", "channel", "csat", "needs_reply", "note"]
# The five interactions of make_formats.py as text cells (empty cells may be NULL).
EXPECTED = [
    ("101", "2026-11-02 09:00:00", "2026-11-02 09:10:00", "twitter", "5", "true", "plain"),
    ("102", "2026-11-02 10:30:00", None, "email", None, "true",
     "comma, semicolon; pipe | tab\tend"),
    ("103", "2026-11-02 11:00:00", "2026-11-02 12:00:00", "facebook", "4.5", "false",
     'two\nlines, "quoted"'),
    ("104", "2026-11-03 08:15:30", "2026-11-03 08:16:00", "twitter", "1", "true", "café ✓"),
    ("105", "2026-11-03 23:59:59", None, "instagram", None, "false", None),
]
CSV_LINES = [2, 3, 4, 6, 7]  # record 103 spans lines 4 and 5 (a quoted newline)


def make_drop(path: Path, **settings: object) -> Drop:
    source = SourceConfig(name="desk", path="exports/*", **settings)  # type: ignore[arg-type]
    return Drop(0, source, path, f"exports/{path.name}", "")


def load(path: Path, **settings: object) -> tuple[str, list[str], list[tuple[object, ...]]]:
    con = duckdb.connect()
    word = read_drop(con, make_drop(path, **settings), "drop_0")
    columns = [row[0] for row in con.execute("DESCRIBE drop_0").fetchall()]
    rows = con.execute("SELECT * FROM drop_0").fetchall()
    return word, columns, rows


def cells(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return [tuple(None if v == "" else v for v in row[:-1]) for row in rows]


@pytest.mark.parametrize(
    "name, word, positions",
    [
        ("comma.csv", "line", CSV_LINES),
        ("semicolon.csv", "line", CSV_LINES),
        ("tab.tsv", "line", CSV_LINES),
        ("pipe.csv", "line", CSV_LINES),
        ("bom_crlf.csv", "line", CSV_LINES),
        ("gzip.csv.gz", "line", CSV_LINES),
        ("lines.jsonl", "line", [1, 2, 4, 5, 6]),  # a blank line 3 counts
        ("array.json", "item", [1, 2, 3, 4, 5]),
        ("table.parquet", "row", [1, 2, 3, 4, 5]),
        ("sheet.xlsx", "row", [2, 3, 4, 5, 6]),
    ],
)
def test_every_format_gives_the_same_text_cells_and_positions(
    name: str, word: str, positions: list[int]
) -> None:
    found_word, columns, rows = load(FORMATS / name)
    assert found_word == word
    assert columns == COLUMNS + [POSITION_COLUMN]
    assert cells(rows) == EXPECTED
    assert [row[-1] for row in rows] == positions


def test_bom_does_not_end_up_in_the_first_column_name() -> None:
    assert (FORMATS / "bom_crlf.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    _, columns, _ = load(FORMATS / "bom_crlf.csv")
    assert columns[0] == "id"


def test_explicit_delimiter_overrides_sniffing(tmp_path: Path) -> None:
    path = tmp_path / "w1.csv"
    path.write_text("id;note\n1;a,b\n", encoding="utf-8")
    assert load(path, delimiter=";")[2] == [("1", "a,b", 2)]
    path.write_text("id;note\n1;ab\n", encoding="utf-8")
    assert load(path, delimiter=",")[1:] == (["id;note", POSITION_COLUMN], [("1;ab", 2)])


def test_format_setting_overrides_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    shutil.copy(FORMATS / "lines.jsonl", path)
    word, _, rows = load(path, format="jsonl")
    assert word == "line" and cells(rows) == EXPECTED


@pytest.mark.parametrize(
    "header, delimiter",
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ("a|b|c", "|"),
     ('"x;y",b,c', ","), ("only", ",")],
)
def test_delimiter_is_sniffed_from_the_header_outside_quotes(header: str, delimiter: str) -> None:
    assert sniff_delimiter(header + "\n1,2,3\n") == delimiter


def test_bare_carriage_return_inside_a_value_stays_in_the_value(tmp_path: Path) -> None:
    # A pandas re-save of twcs leaves raw CRs unquoted inside tweet text.
    path = tmp_path / "w1.csv"
    path.write_bytes(b",id,text\n0,1,hello\r\rworld\n1,2,next\n")
    _, columns, rows = load(path)
    assert columns == ["column0", "id", "text", POSITION_COLUMN]
    assert rows == [("0", "1", "hello\r\rworld", 2), ("1", "2", "next", 3)]


def test_crlf_file_with_quoted_newlines_numbers_lines(tmp_path: Path) -> None:
    path = tmp_path / "w1.csv.gz"
    path.write_bytes(gzip.compress(b'id,t\r\n1,"a\r\nb\nc"\r\n2,d\r\n', mtime=0))
    assert load(path)[2] == [("1", "a\r\nb\nc", 2), ("2", "d", 5)]


def test_numbers_render_as_a_person_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "w1.jsonl"
    path.write_text(
        '{"a": 3, "b": 3.0, "c": 2.5, "d": 1.2e+18, "e": 1234567890123456789, "f": false, '
        '"g": null, "h": {"k": 1}}\n',
        encoding="utf-8",
    )
    assert load(path)[2] == [("3", "3", "2.5", "1.2e+18", "1234567890123456789", "false",
                              None, '{"k":1}', 1)]


def test_parquet_types_render_as_text(tmp_path: Path) -> None:
    path = tmp_path / "w1.parquet"
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT 3::DOUBLE AS d, 2.50::DECIMAL(5,2) AS m, 7::INTEGER AS i,
            TIMESTAMPTZ '2026-11-02 09:00:00+01:00' AS tz, DATE '2026-11-02' AS day,
            true AS b, NULL::VARCHAR AS n, 'nan'::DOUBLE AS nan) TO '{path}' (FORMAT parquet)"""
    )
    assert load(path)[2] == [("3", "2.5", "7", "2026-11-02 08:00:00+00:00", "2026-11-02",
                              "true", None, None, 1)]


BAD_FILES = [
    ("empty.csv",
     ("exports/empty.csv: expected a header line and at least one data row, found ''. "
     "Hint: the file is empty (0 bytes); remove it or export it again.")),
    ("header_only.csv",
     ("exports/header_only.csv: expected a header line and at least one data row, found "
     "'no data rows'. Hint: remove the empty file or export it again.")),
    ("binary.csv",
     ("exports/binary.csv: expected UTF-8 text, found ')r\\xbb\\x04M\\x96\\xdf(q\\xba\\x03L'. "
     "Hint: this is binary data, not a text export; check that the right file was exported.")),
    ("xlsx_named.csv",
     ("exports/xlsx_named.csv: expected UTF-8 text, found "
     "'PK\\x03\\x04\\x14\\x00\\x00\\x00\\x08\\x00\\x00\\x00'. Hint: this looks like an Excel "
     "workbook or zip archive; name it .xlsx or set sources[0].format: xlsx.")),
    ("truncated.csv.gz",
     ("exports/truncated.csv.gz: expected a complete gzip-compressed file. Hint: the file ends "
     "in the middle of the compressed data (a cut-off copy or download); copy or export it "
     "again.")),
    ("latin1.csv",
     ("exports/latin1.csv, line 3: expected UTF-8 text, found "
     "'102,2026-11-02 10:00:00,,email,,,caf\ufffd cr\ufffdme'. Hint: the byte 0xe9 is not "
     "UTF-8 (the file is probably Latin-1 or Windows-1252); re-save it as UTF-8 (in Excel: "
     "'CSV UTF-8').")),
    ("unclosed_quote.csv",
     ("exports/unclosed_quote.csv, line 3: expected a closing quote for the value that opens "
     "with '\"', found '102,2026-11-02 10:00:00,,email,,,\"never closed'. Hint: a quoted value "
     "must end with a quote; a quote inside it is written twice (\"\").")),
    ("object.json",
     ("exports/object.json: expected a JSON array of objects ([{…}, {…}]), found "
     "'{\"id\": 101, \"channel\": \"twitter\"}'. Hint: a file with one object per line is JSON "
     "Lines: name it .jsonl or set sources[0].format: jsonl.")),
    ("bad_item.json",
     ("exports/bad_item.json, item 2: expected a JSON object like {\"id\": \"…\", …}, found "
     "'102'. Hint: every item of the array is one record, written as a JSON object.")),
    ("bad_line.jsonl",
     ("exports/bad_line.jsonl, line 3: expected a JSON object like {\"id\": \"…\", …}, found "
     "'[102]'. Hint: each line of a JSON Lines export holds one record as a JSON object.\n"
     "exports/bad_line.jsonl, line 4: expected a JSON object like {\"id\": \"…\", …}, found "
     "'{\"id\": 103'. Hint: each line of a JSON Lines export holds one record as a JSON object "
     "(this line is not valid JSON).")),
]


@pytest.mark.parametrize("name, message", BAD_FILES, ids=[n for n, _ in BAD_FILES])
def test_bad_file_fails_with_its_exact_message(name: str, message: str) -> None:
    with pytest.raises(DataError) as error:
        load(BAD / name)
    assert str(error.value) == message


def test_utf16_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "w1.csv"
    path.write_bytes("id,note\n1,a\n".encode("utf-16"))
    with pytest.raises(DataError) as error:
        load(path)
    assert str(error.value) == (
        "exports/w1.csv: expected UTF-8 text, found 'UTF-16 text'. "
        "Hint: re-save the file as UTF-8 (in Excel: 'CSV UTF-8')."
    )


def test_not_an_xlsx_workbook_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "w1.xlsx"
    path.write_text("id,note\n1,a\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        load(path)
    assert str(error.value) == (
        "exports/w1.xlsx: expected a readable .xlsx workbook. Hint: the file is not an .xlsx "
        "workbook (an .xlsx is a zip archive); old .xls workbooks must be saved as .xlsx."
    )


def test_not_a_parquet_file_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "w1.parquet"
    path.write_text("id,note\n1,a\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        load(path)
    assert str(error.value) == (
        "exports/w1.parquet: expected a readable Parquet file. Hint: the file does not start "
        "like a Parquet file; check that the right file was exported."
    )


def test_unclosed_quote_after_a_multiline_record_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "w1.csv"
    path.write_text('id,note\n1,"a\nb"\n2,"open\n3,x\n', encoding="utf-8")
    with pytest.raises(DataError) as error:
        load(path)
    assert str(error.value).startswith("exports/w1.csv, line 4: expected a closing quote")


def test_truncated_xlsx_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "w1.xlsx"
    path.write_bytes((FORMATS / "sheet.xlsx").read_bytes()[:1500])
    with pytest.raises(DataError) as error:
        load(path)
    assert str(error.value) == (
        "exports/w1.xlsx: expected a readable .xlsx workbook. "
        "Hint: the workbook reader said: invalid Zip archive: Could not find EOCD"
    )


def test_a_ragged_record_is_a_row_of_its_own_saying_why() -> None:
    import json

    from generator.ingest.readers import MALFORMED_COLUMN

    word, columns, rows = load(FORMATS / "malformed" / "ragged.csv")
    assert columns == [*COLUMNS, POSITION_COLUMN, MALFORMED_COLUMN]
    assert [(row[0], row[-2]) for row in rows] == [("101", 2), (None, 3), ("103", 4)]
    assert json.loads(str(rows[1][-1])) == {"reason": "malformed_row", "values": 4, "expected": 7,
                                       "found": "102,2026-11-02 10:00:00,,email"}
    assert rows[0][-1] is None and rows[2][-1] is None


def test_a_blank_line_between_records_does_not_shift_the_lines_after_it(tmp_path: Path) -> None:
    path = tmp_path / "w1.csv"
    path.write_text('id,note\n1,"a\nb"\n\n2,c\n3,d\n\n', encoding="utf-8")
    assert load(path)[2] == [("1", "a\nb", 2), ("2", "c", 5), ("3", "d", 6)]
