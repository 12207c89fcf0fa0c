"""Reading roster and lead files (CSV) into domain objects, with file/row/column errors."""

from __future__ import annotations

import csv
import gc
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from engine.domain import Lead, Officer
from engine.errors import InputError, Problem
from engine.leads import MAX_NAME_CHARS, REQUIRED_COLUMNS, LeadParser
from engine.roster import OFFICER_COLUMNS, parse_officers

# The longest value a CSV cell may hold; a longer one rejects its row (the other rows are read).
# Far above any real lead value (a TCPA consent text is a few thousand characters).
MAX_VALUE_CHARS = 65_536
# A header with more columns, or a column name longer, is not a file of leads or officers
# (and would make every row, and the check of every name, that much work).
MAX_COLUMNS = 1_000
# The csv module's own limit per field (131,072 by default), raised so that a long value is
# this module's row problem, not a csv.Error for the whole file.
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One row of a CSV file.

    ``number`` is the row as a spreadsheet shows it (the header is row 1; a value with line
    breaks inside quotes keeps its row one row). ``values`` maps each column of the header to
    its text. ``problems`` say why the row cannot be used as read: bytes that are not UTF-8
    (shown as U+FFFD in ``values``), a value longer than ``MAX_VALUE_CHARS``, more or fewer
    values than the header has columns, a quote that is never closed, text that is not CSV.
    A row with problems keeps whatever values could be read (its lead id, for one).
    """

    number: int
    values: dict[str, str]
    problems: tuple[Problem, ...] = ()


class _Lines:
    """The physical lines of a text file for ``csv.reader``, numbered from 1, remembering the
    lines each record took and taking lines back to be read again."""

    def __init__(self, fh: TextIO) -> None:
        self._fh = fh
        self._back: deque[tuple[int, str]] = deque()
        self._count = 0
        self.taken: list[tuple[int, str]] = []
        self.at_end = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._back:
            item = self._back.popleft()
        else:
            line = self._fh.readline()
            if not line:
                self.at_end = True
                raise StopIteration
            self._count += 1
            item = (self._count, line)
        self.taken.append(item)
        return item[1]

    def put_back(self, items: list[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(items))
        self.at_end = False


def _undecodable(text: str) -> str:
    """The bytes of ``text`` that were not UTF-8 (decoded as surrogate escapes), as hex."""
    found = [f"0x{ord(c) - 0xDC00:02X}" for c in text if "\udc80" <= c <= "\udcff"]
    return " ".join(found[:4]) + (" ..." if len(found) > 4 else "")


def _readable(text: str) -> str:
    """``text`` with bytes that were not UTF-8 shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_csv(path: Path) -> tuple[list[str], Iterator[CsvRow]]:
    """The header and the rows of a CSV file (UTF-8, BOM tolerated), each row with the
    problems that keep it from being used (see ``CsvRow``); blank lines are skipped.

    A row's problem never stops the reading: bytes that are not UTF-8 reject their row, not
    the file; a quote that opens a value and never closes it (the csv module would read the
    rest of the file as that one value) rejects the row where it opens, and reading goes on
    at the next line. Raises InputError when the file cannot be opened or its header (row 1)
    cannot be read: not UTF-8, not CSV, a column named twice.
    """
    try:
        fh = open(path, newline="", encoding="utf-8-sig",  # noqa: SIM115 - closed by rows()
                  errors="surrogateescape")
    except OSError as exc:
        raise InputError(Problem("file", str(path), f"cannot be read: {exc.strerror}")) from None
    csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
    lines = _Lines(fh)
    reader = csv.reader(lines, strict=True)
    name = path.name

    def record() -> tuple[list[str] | None, str]:
        """The next record and, when it is not one, why; ([], "") at the end of the file."""
        lines.taken = []
        try:
            return next(reader), ""
        except StopIteration:
            return [], ""
        except csv.Error as exc:
            return None, str(exc)

    def broken(error: str, columns: list[str]) -> tuple[list[str], Problem]:
        """The first line of a record that is not one, read on its own; its other lines are
        put back to be read as rows of their own."""
        (line_no, line), rest = lines.taken[0], lines.taken[1:]
        at_end = lines.at_end
        lines.put_back(rest)
        try:
            values = next(csv.reader([line]), [])
        except csv.Error:
            values = []
        column = columns[len(values) - 1] if 0 < len(values) <= len(columns) else "row"
        shown = _readable(values[-1][:40]) if values else ""
        if error and at_end:  # csv: "unexpected end of data" inside quotes
            return values, Problem(
                column, shown,
                f"opens a quoted value (line {line_no} of the file) that is never closed: the "
                "rest of the file would be read as this one value; close or remove the quote")
        if rest:
            return values, Problem(
                column, shown,
                f"opens a quoted value (line {line_no} of the file) that runs over "
                f"{len(rest) + 1} lines without making a well-formed row: an unbalanced "
                "quote? The lines after this one are read as rows of their own")
        return values, Problem("row", _readable(line.rstrip("\r\n")[:40]),
                               f"is not valid CSV ({error}; line {line_no} of the file)")

    def swallows_rows(taken: list[tuple[int, str]], width: int) -> bool:
        """Whether a record of several lines has, between its first and last, a line that
        reads as a whole row on its own: a quote left open takes in the rows up to the next
        quote (a value with line breaks inside quotes is rarely a row's worth of commas)."""
        for _, line in taken[1:-1]:
            try:
                if len(next(csv.reader([line]), [])) >= width > 1:
                    return True
            except csv.Error:
                continue
        return False

    def refuse(problem: Problem) -> InputError:
        fh.close()
        return InputError(replace(problem, where=f"{name} row 1"))

    values, error = record()
    while values == [] and lines.taken:  # blank lines before the header
        values, error = record()
    if values is None:
        raise refuse(Problem("header", "", "opens a quote that is never closed"
                             if lines.at_end else f"is not valid CSV: {error}"))
    header = [v.strip() for v in values]
    if len(header) > MAX_COLUMNS:
        raise refuse(Problem("header", f"{len(header):,} columns",
                             f"has more than {MAX_COLUMNS:,} columns"))
    for i, column in enumerate(header):
        if not column.isascii() and _undecodable(column):
            raise refuse(Problem("header", _readable(column), "has bytes that are not UTF-8 "
                                 f"({_undecodable(column)}) in column {i + 1}: save the file "
                                 "as UTF-8 CSV"))
        if len(column) > MAX_NAME_CHARS:
            raise refuse(Problem("header", f"{len(column):,} characters",
                                 f"column {i + 1} has a name longer than {MAX_NAME_CHARS} "
                                 "characters"))
    seen: dict[str, int] = {}
    for i, column in enumerate(header):
        if column and column in seen:
            raise refuse(Problem("columns", column,
                                 f"is named twice in the header (columns {seen[column] + 1} "
                                 f"and {i + 1}); each column must be named once"))
        seen[column] = i
    first = lines.taken[0][0] if lines.taken else 1
    width = len(header)
    unnamed = [i for i, column in enumerate(header) if not column]

    def rows() -> Iterator[CsvRow]:
        number = first
        with fh:
            while True:
                values, error = record()
                if values == [] and not lines.taken:
                    return
                number += 1
                problems: list[Problem] = []
                where = f"{name} row {number}"
                taken = lines.taken
                if values is None or (len(taken) > 1 and (
                        len(values) != width
                        or max(map(len, values), default=0) > MAX_VALUE_CHARS
                        or swallows_rows(taken, width))):
                    values, problem = broken(error, header)
                    problems.append(replace(problem, where=where))
                    yield CsvRow(number, {c: _readable(v) for c, v in zip(header, values,
                                                                         strict=False)},
                                 tuple(problems))
                    continue
                if not values:  # a blank line
                    continue
                text = taken[0][1] if len(taken) == 1 else "".join(t for _, t in taken)
                if len(values) != width:
                    problems.append(Problem(
                        "values", len(values),
                        f"expected {width}, one for each column of the header: "
                        + ("a comma inside a value that is not quoted?" if len(values) > width
                           else "a value missing, or a line break inside an unquoted value?"),
                        where))
                if len(text) > MAX_VALUE_CHARS:
                    for column, value in zip(header, values, strict=False):
                        if len(value) > MAX_VALUE_CHARS:
                            problems.append(Problem(
                                column or "value", f"{len(value):,} characters",
                                f"is longer than {MAX_VALUE_CHARS:,} characters, the most a "
                                "value may have", where))
                if not text.isascii():
                    for column, value in zip(header, values, strict=False):
                        bad = _undecodable(value)
                        if bad:
                            problems.append(Problem(
                                column or "value", _readable(value),
                                f"has bytes that are not UTF-8 ({bad}): save the file as "
                                "UTF-8 CSV", where))
                for i in unnamed:
                    if i < len(values) and values[i].strip():
                        problems.append(Problem(
                            f"column {i + 1}", values[i], "is a value under a column with no "
                            "name in the header", where))
                if problems:
                    values = [_readable(v) for v in values]
                yield CsvRow(number, dict(zip(header, values, strict=False)), tuple(problems))

    return header, rows()


# What a spreadsheet may take for the start of a formula (OWASP, "CSV Injection"): a cell of
# ours that begins so is written with a leading single quote, which spreadsheets show as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """``value`` as a CSV cell no spreadsheet will run: text beginning with ``= + - @``, a
    tab or a carriage return gets a leading ``'`` (``=HYPERLINK(...)`` is written
    ``'=HYPERLINK(...)``, and so is text that only looks like a number: ``'-5``, an E.164
    phone ``'+13125550134``). Numbers (int, float) are returned as they are: only text can
    carry a formula, and a number the program computed stays a number."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')
_quotes = _NEEDS_QUOTES.search


def csv_cell(text: str) -> str:
    """``text`` as ``csv.writer`` (the excel dialect) writes one cell among several: quoted,
    with quotes doubled, when it holds a comma, a quote or a line break; as it is otherwise."""
    if _NEEDS_QUOTES.search(text) is None:
        return text
    return '"' + text.replace('"', '""') + '"'


def csv_cells(cells: list[str]) -> str:
    """Text cells as ``csv.writer`` writes them in a row of two or more, joined by commas
    (no line end), each cell made spreadsheet-safe first: ``csv_line`` without its end, so
    a row's text can be built from the texts of its parts."""
    out = []
    for c in cells:  # csv_cell inlined: a Python call less per cell of every output row
        if c.startswith(FORMULA_STARTS):
            c = "'" + c
        out.append(c if _quotes(c) is None else '"' + c.replace('"', '""') + '"')
    return ",".join(out)


def csv_line(cells: list[str]) -> str:
    """A row of two or more text cells as ``csv.writer`` writes it (``\r\n`` ended), each
    cell made spreadsheet-safe first: rows built as text can be written in bulk."""
    return csv_cells(cells) + "\r\n"


def csv_row_parts(head: str, json_escaped: list[str]) -> list[str]:
    """A row of the cells whose text is ``head`` (``csv_cells``) and one more cell, a JSON
    object's text, as parts to be joined when written: ``json_escaped`` is that text's parts
    with their quotes already doubled (``engine.decide.Decision.json_parts`` with
    ``quote``). A JSON object begins with ``{`` (nothing a spreadsheet runs) and holds
    quotes, so ``csv.writer`` quotes it. The long parts are kept fragments shared from row
    to row: a file of rows is joined once, when written, instead of row by row."""
    return [head, ',"', *json_escaped, '"\r\n']


def read_csv_rows(path: Path) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and the rows of a CSV file (see ``read_csv``) as column -> text; InputError
    at the first row that cannot be read, naming the file and row."""
    header, rows = read_csv(path)

    def values() -> Iterator[dict[str, str]]:
        for row in rows:
            if row.problems:
                raise InputError(list(row.problems))
            yield row.values

    return header, values()


def load_roster(path: str | Path) -> list[Officer]:
    """Parse an officers CSV; InputError lists every problem with file, row and column."""
    path = Path(path)
    header, rows = read_csv(path)
    if not header:
        raise InputError(Problem("file", str(path), "is empty; expected a header row"))
    # checked here too: parse_officers sees the columns only through the rows
    error = missing_columns(header, OFFICER_COLUMNS, "officer", path.name)
    if error is not None:
        raise error
    read = list(rows)  # a roster is small; every row's problems are listed together
    unreadable = [p for row in read for p in row.problems]
    good = [row for row in read if not row.problems]
    try:
        officers = parse_officers([row.values for row in good], source=path.name,
                                  numbers=[row.number for row in good])
    except InputError as exc:
        unreadable += exc.problems
    if unreadable:
        raise InputError(sorted(unreadable, key=lambda p: _row_of(p.where)))
    if not officers:
        raise InputError(Problem("file", str(path), "has a header but no officers"))
    return officers


def _row_of(where: str) -> int:
    """The row number in ``"officers.csv row 12"`` (0 when there is none), to sort by."""
    tail = where.rpartition(" row ")[2]
    return int(tail) if tail.isdigit() else 0


def _plain(name: str) -> str:
    """A column name as meant: compatibility forms folded, invisible and control characters
    out, lower case (``\ufeffLead_ID\u200b`` is ``lead_id``)."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc")).strip() \
        .casefold()


def missing_columns(header: list[str], required: tuple[str, ...], what: str, source: str
                    ) -> InputError | None:
    """An InputError naming the ``required`` columns not in ``header`` (and the columns that
    look like them but are written otherwise: another case, invisible characters), or None."""
    missing = [c for c in required if c not in header]
    if not missing:
        return None
    near = [f"column {i + 1} {name!r} is not {_plain(name)!r}" for i, name in enumerate(header)
            if _plain(name) in missing]
    hint = f" ({'; '.join(near)}: names are written exactly, in lower case)" if near else ""
    return InputError(Problem("columns", ", ".join(missing),
                              f"required {what} columns are missing from the header{hint}",
                              f"{source} row 1"))


def check_lead_header(header: list[str], source: str) -> None:
    """Raise an InputError naming the required lead columns ``header`` lacks."""
    error = missing_columns(header, REQUIRED_COLUMNS, "lead", source)
    if error is not None:
        raise error


@dataclass(frozen=True, slots=True)
class LeadRow:
    """One row of a leads file, parsed: its Lead, or the InputError that keeps it from being
    one (the reader's problems or the parser's); ``number`` as a spreadsheet shows it."""

    number: int
    lead: Lead | None
    error: InputError | None


def read_leads(path: Path, parser: LeadParser) -> Iterator[LeadRow]:
    """The rows of a leads file in the ``leadroute route`` input format, each parsed by
    ``parser`` row by row, in file order. The header is checked at once (InputError: an
    empty file, or the missing columns named); a bad row is reported and reading goes on."""
    header, rows = read_csv(path)
    if not header:
        raise InputError(Problem("file", path.name, "is empty; expected a header row",
                                 path.name))
    check_lead_header(header, path.name)

    def parsed() -> Iterator[LeadRow]:
        for row in rows:
            try:
                if row.problems:
                    raise InputError(list(row.problems))
                lead = parser.parse(row.values, f"{path.name} row {row.number}")
            except InputError as exc:
                yield LeadRow(row.number, None, exc)
                continue
            yield LeadRow(row.number, lead, None)

    return parsed()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a long batch (a file of leads, a simulated
    month). The roster, the parsed leads and the records kept are many long-lived objects it
    would rescan again and again; decisions make no reference cycles, so reference counting
    frees them, and what cycles a batch leaves are collected once it is re-enabled. Keeps the
    cost per lead flat."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
