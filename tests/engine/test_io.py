"""Reading CSV files: every row comes out, with the problems that keep it from being used."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.io import MAX_VALUE_CHARS, read_csv, read_csv_rows, spreadsheet_safe


def rows_of(tmp_path: Path, data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str],
                                                                        list[str]]]]:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    header, rows = read_csv(path)
    return header, [(r.number, r.values, [str(p) for p in r.problems]) for r in rows]


def test_read_csv_numbers_rows_as_a_spreadsheet_does(tmp_path):
    """Rows are numbered from the header (row 1); a quoted value with a line break stays in
    its row, a blank line counts as a row and is skipped; a BOM and CRLF are read."""
    header, rows = rows_of(tmp_path, b'\xef\xbb\xbfa,b\r\n1,"two\r\nlines"\r\n\r\n3,4\r\n')
    assert header == ["a", "b"]
    assert rows == [(2, {"a": "1", "b": "two\r\nlines"}, []), (4, {"a": "3", "b": "4"}, [])]


@pytest.mark.parametrize(("data", "expected"), [
    # (file, [(row number, problem fragment or "")])
    (b'a,b,c\n1,2,3\n4,"5,6\n7,8,9\n',
     [(2, ""), (3, "f.csv row 3: b='5,6\\n': opens a quoted value (line 3 of the file) that is "
                   "never closed"), (4, "")]),
    (b'a,b,c\n1,"2\n4,5,6\n7,8,9\n10,"11",12\n',
     [(2, "f.csv row 2: b='2\\n': opens a quoted value (line 2 of the file) that runs over 4 "
          "lines"), (3, ""), (4, ""), (5, "")]),
    (b'a,b\n1,"x\n2,3\n"\n',
     [(2, "f.csv row 2: b='x\\n': opens a quoted value (line 2 of the file) that runs over 3 "
          "lines"), (3, ""),
      (4, "f.csv row 4: a='\\n': opens a quoted value (line 4 of the file) that is never "
          "closed")]),
    (b'a,b\n"1"x,2\n3,4\n', [(2, "f.csv row 2: row='\"1\"x,2': is not valid CSV"), (3, "")]),
    (b"a,b\n1,2,3\n4,5\n", [(2, "f.csv row 2: values=3: expected 2, one for each column of the "
                                "header: a comma inside a value that is not quoted?"), (3, "")]),
    (b"a,b,c\n1,2\n4,5,6\n", [(2, "f.csv row 2: values=2: expected 3"), (3, "")]),
    (b"a,b\nJos\xe9,2\n3,4\n", [(2, "f.csv row 2: a='Jos\ufffd': has bytes that are not UTF-8 "
                                    "(0xE9): save the file as UTF-8 CSV"), (3, "")]),
    (b"a,b\n1,%b\n3,4\n" % (b"x" * (MAX_VALUE_CHARS + 1)),
     [(2, "f.csv row 2: b='65,537 characters': is longer than 65,536 characters"), (3, "")]),
    (b"a,b,\n1,2,\n3,4,5\n", [(2, ""), (3, "f.csv row 3: column 3='5': is a value under a "
                                          "column with no name in the header")]),
])
def test_read_csv_rejects_a_malformed_row_and_reads_on(tmp_path, data, expected):
    """A stray quote, a value over the length limit, too many or too few values, bytes that
    are not UTF-8: the row comes out with its problem, and the rows after it are read."""
    _, rows = rows_of(tmp_path, data)
    assert [number for number, _, _ in rows] == [number for number, _ in expected]
    for (_, _, problems), (_, fragment) in zip(rows, expected, strict=True):
        if fragment:
            assert len(problems) == 1 and problems[0].startswith(fragment), problems
        else:
            assert problems == []


@pytest.mark.parametrize(("data", "message"), [
    (b"a,b,a\n1,2,3\n", "f.csv row 1: columns='a': is named twice in the header (columns 1 "
                        "and 3); each column must be named once"),
    (b"a,\xe9b\n1,2\n", "f.csv row 1: header='\ufffdb': has bytes that are not UTF-8 (0xE9) "
                        "in column 2"),
    (b'a,"b\n1,2\n', "f.csv row 1: header='': opens a quote that is never closed"),
])
def test_read_csv_refuses_a_header_it_cannot_read(tmp_path, data, message):
    """A header that names a column twice, is not UTF-8 or is not CSV refuses the file."""
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_csv(path)
    assert str(err.value) == message or str(err.value).startswith(message)


def test_read_csv_rows_raises_at_the_first_bad_row_naming_it(tmp_path):
    """The all-or-nothing reader (rosters, histories) raises at the first bad row with file
    and row."""
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n3,4,5\n")
    _, rows = read_csv_rows(path)
    assert next(rows) == {"a": "1", "b": "2"}
    with pytest.raises(InputError, match=r"f.csv row 3: values=3"):
        next(rows)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet='ab,"\r\n\xe9', max_size=12), min_size=1, max_size=12),
       st.binary(max_size=3))
def test_read_csv_every_line_comes_out_in_some_row(tmp_path_factory, lines, junk):
    """Whatever the file holds, reading raises nothing but InputError for its header, and
    every line of a file without quotes or line breaks in values is a row of its own."""
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    path.write_bytes("\n".join(["a,b", *lines]).encode("utf-8", "replace") + junk)
    try:
        _, rows = read_csv(path)
        got = list(rows)
    except InputError:
        return
    numbers = [r.number for r in got]
    assert numbers == sorted(set(numbers))
    if not any(c in line for line in lines for c in '"\r'):
        kept = [line for line in "\n".join(lines).split("\n") if line]
        if not junk.strip(b"\r\n"):
            assert len(got) == len(kept)


@pytest.mark.parametrize(("value", "written"), [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-5", "'-5"), ("+13125550134", "'+13125550134"),
    ("L1", "L1"), ("a=b", "a=b"), ("", ""), (" =1", " =1"), ("'=1", "'=1"),
    (-5, -5), (2.5, 2.5), (None, None),
])
def test_spreadsheet_safe_prefixes_text_that_starts_a_formula(value, written):
    """Text starting with = + - @, a tab or a carriage return gets a leading quote (OWASP),
    numbers-as-text and phones included; other text and real numbers are unchanged."""
    assert spreadsheet_safe(value) == written


@pytest.mark.parametrize(("data", "message"), [
    (",".join(f"c{i}" for i in range(1001)).encode() + b"\n",
     "f.csv row 1: header='1,001 columns': has more than 1,000 columns"),
    (b"a," + b"b" * 257 + b"\n1,2\n",
     "f.csv row 1: header='257 characters': column 2 has a name longer than 256 characters"),
])
def test_read_csv_refuses_a_header_too_wide_or_too_long(tmp_path, data, message):
    """More than 1,000 columns, or a column name over 256 characters, refuses the file."""
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    with pytest.raises(InputError) as err:
        read_csv(path)
    assert str(err.value) == message


@pytest.mark.parametrize(("column", "hint"), [
    ("Lead_ID", "column 1 'Lead_ID' is not 'lead_id'"),
    ("lead\u200b_id", "column 1 'lead\\u200b_id' is not 'lead_id'"),
    ("lead_id\x00", "column 1 'lead_id\\x00' is not 'lead_id'"),
])
def test_check_lead_header_names_a_column_written_otherwise(column, hint):
    """A required column missing because it is written in another case or with invisible
    characters is named with what it was taken for."""
    from engine.io import check_lead_header
    from engine.leads import REQUIRED_COLUMNS

    header = [column, *REQUIRED_COLUMNS[1:]]
    with pytest.raises(InputError) as err:
        check_lead_header(header, "leads.csv")
    assert str(err.value).startswith("leads.csv row 1: columns='lead_id': required lead columns "
                                     "are missing from the header (")
    assert hint in str(err.value)


def test_read_leads_gives_each_row_its_lead_or_its_error_and_reads_on(tmp_path):
    """``read_leads``: a good row gives its Lead; a row the reader refuses (an unclosed
    quote, a short row) or the parser refuses (a bad time) gives its InputError naming the
    row and column; the rows after it are still read. An empty file or a missing column is
    refused at once, before any row."""
    from engine.io import read_leads
    from engine.leads import LeadParser

    header = ("lead_id,received_at,source,first_name,last_name,email,phone,zip,loan_purpose,"
              "loan_program,loan_amount,property_value,credit_score,language,is_veteran\n")
    good = ("{id},2025-03-04T10:15:00-05:00,web_form,,,,+12025550100,32426,purchase,"
            "conventional,200000,250000,700,en,false\n")
    path = tmp_path / "leads.csv"
    path.write_text(header + good.format(id="A1")
                    + good.format(id="A2").replace("2025-03-04T10:15:00-05:00", "yesterday")
                    + '"A3,2025\n' + "A4,short\n" + good.format(id="A5"), encoding="utf-8")
    rows = list(read_leads(path, LeadParser.default()))
    assert [r.number for r in rows] == [2, 3, 4, 5, 6]
    assert [r.lead.lead_id if r.lead else None for r in rows] == ["A1", None, None, None, "A5"]
    assert rows[0].error is None and rows[4].error is None
    assert "leads.csv row 3" in str(rows[1].error) and "received_at" in str(rows[1].error)
    assert "never closed" in str(rows[2].error)
    assert rows[3].error is not None and "row 5" in str(rows[3].error)
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.csv.*is empty; expected a header row"):
        read_leads(tmp_path / "empty.csv", LeadParser.default())
    (tmp_path / "narrow.csv").write_text("lead_id\nA1\n", encoding="utf-8")
    with pytest.raises(InputError, match="required lead columns are missing"):
        read_leads(tmp_path / "narrow.csv", LeadParser.default())
