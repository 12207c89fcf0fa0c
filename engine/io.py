"""Reading roster and lead files (CSV) into domain objects, with file/row/column errors."""

from __future__ import annotations

import csv
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.domain import Officer
from engine.errors import InputError, Problem
from engine.leads import REQUIRED_COLUMNS
from engine.roster import OFFICER_COLUMNS, parse_officers


def read_csv_rows(path: Path) -> tuple[list[str], Iterator[dict[str, str]]]:
    """The header and the rows of a CSV file (UTF-8, BOM tolerated); InputError if unreadable."""
    try:
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 - closed by the iterator
    except OSError as exc:
        raise InputError(Problem("file", str(path), f"cannot be read: {exc.strerror}")) from None
    reader = csv.DictReader(fh)

    def unreadable(exc: Exception) -> InputError:
        fh.close()
        if isinstance(exc, UnicodeDecodeError):  # decoded in blocks: no row number to give
            return InputError(Problem("file", str(path), "is not UTF-8 text; save it as UTF-8 CSV"))
        return InputError(Problem("file", str(path), f"is not a readable CSV file: {exc}",
                                  f"{path.name} row {reader.line_num}"))

    try:
        header = list(reader.fieldnames or [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise unreadable(exc) from None

    def rows() -> Iterator[dict[str, str]]:
        with fh:
            try:
                yield from reader
            except (UnicodeDecodeError, csv.Error) as exc:
                raise unreadable(exc) from None

    return header, rows()


def load_roster(path: str | Path) -> list[Officer]:
    """Parse an officers CSV; InputError lists every problem with file, row and column."""
    path = Path(path)
    header, rows = read_csv_rows(path)
    if not header:
        raise InputError(Problem("file", str(path), "is empty; expected a header row"))
    missing = [c for c in OFFICER_COLUMNS if c not in header]
    if missing:  # checked here too: parse_officers sees the columns only through the rows
        raise InputError(Problem("columns", ", ".join(missing),
                                 "required officer columns are missing from the header",
                                 f"{path.name} row 1"))
    officers = parse_officers(rows, source=path.name)
    if not officers:
        raise InputError(Problem("file", str(path), "has a header but no officers"))
    return officers


def check_lead_header(header: list[str], source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(Problem("columns", ", ".join(missing),
                                 "required lead columns are missing from the header",
                                 f"{source} row 1"))


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
