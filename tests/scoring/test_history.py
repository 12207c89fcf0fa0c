"""History validation: every problem is reported with file, row and column."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.errors import InputError
from engine.roster import Roster
from engine.scoring.history import (
    HISTORY_COLUMNS,
    MAX_LISTED_PROBLEMS,
    file_sha256,
    history_from_rows,
    load_history,
)
from engine.scoring.synthetic import SyntheticHistory


def _rows(world: SyntheticHistory, n: int = 3) -> list[dict[str, str]]:
    return [dict(r) for r in world.history_rows[:n]]


def _write(path: Path, header: list[str], rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_load_history_reads_a_valid_file(tmp_path: Path, small_world: SyntheticHistory,
                                         small_roster: Roster) -> None:
    """A valid history loads with one entry per row, its hash and its protected columns set
    aside."""
    path = _write(tmp_path / "h.csv", list(small_world.header), _rows(small_world, 50))
    history = load_history(path, small_roster)
    assert len(history) == 50
    assert history.sha256 == file_sha256(path)
    assert set(history.excluded_columns) == {"applicant_race", "age", "gender"}
    assert history.y.dtype == np.int8 and set(np.unique(history.y)) <= {0, 1}
    first = small_world.history_rows[0]
    assert history.officer_ids[0] == first["officer_id"]
    assert history.propensity[0] == pytest.approx(float(first["propensity"]))


def test_load_history_accepts_blank_or_absent_contact_columns(
        tmp_path: Path, small_world: SyntheticHistory, small_roster: Roster) -> None:
    """Contact columns may be blank or missing: the model never reads them."""
    header = [c for c in small_world.header if c not in ("first_name", "last_name", "email",
                                                         "phone")]
    history = load_history(_write(tmp_path / "h.csv", header, _rows(small_world)), small_roster)
    assert len(history) == 3


INVALID_CELLS = [
    # (column, value, message fragment)
    ("propensity", "0", "in (0, 1]"),
    ("propensity", "1.5", "in (0, 1]"),
    ("propensity", "", "in (0, 1]"),
    ("officer_open_leads", "-1", "whole number of open leads"),
    ("officer_open_leads", "2.5", "whole number of open leads"),
    ("funded", "yes", "expected 0 or 1"),
    ("contacted", "", "expected 0 or 1"),
    ("assigned_at", "2025-01-06 10:00", "ISO 8601 time with a UTC offset"),
    ("assigned_at", "2000-01-01T00:00:00+00:00", "before received_at"),
    ("response_delay_s", "-3", "seconds from assignment"),
    ("response_delay_s", "NaN", "seconds from assignment"),
    ("response_delay_s", "inf", "seconds from assignment"),
    ("response_delay_s", "1e309", "seconds from assignment"),
    ("response_delay_s", "1e300", "seconds from assignment"),
    ("response_delay_s", "=1+1", "seconds from assignment"),
    ("response_delay_s", "\u0663\u0660", "seconds from assignment"),  # Arabic-Indic 30
    ("response_delay_s", "\uff13\uff10", "seconds from assignment"),  # fullwidth 30
    ("response_delay_s", "1_000", "seconds from assignment"),
    ("propensity", "\u0660.\u0665", "in (0, 1]"),  # Arabic-Indic 0.5
    ("officer_open_leads", "\uff12", "whole number of open leads"),  # fullwidth 2
    ("officer_id", "LO9999", "not an officer on the roster"),
    ("officer_id", "", "is required"),
    ("policy", "", "logging policy"),
    ("loan_program", "balloon", "expected one of"),
    ("zip", "1234", "5-digit US ZIP"),
]


@pytest.mark.parametrize(("column", "value", "message"), INVALID_CELLS)
def test_history_reports_bad_cell_with_row_and_column(
        small_world: SyntheticHistory, small_roster: Roster, column: str, value: str,
        message: str) -> None:
    """A bad value raises InputError naming the source, the row (header = row 1) and column."""
    rows = _rows(small_world)
    rows[1][column] = value
    with pytest.raises(InputError) as err:
        history_from_rows(small_world.header, rows, small_roster, source="h.csv")
    problems = [p for p in err.value.problems if p.field == column]
    assert problems, str(err.value)
    assert problems[0].where == "h.csv row 3"
    assert message in problems[0].message


INCONSISTENT_STAGES = [
    # (changes, column named, message fragment)
    ({"funded": "1", "lost": "1", "application": "1", "contacted": "1"}, "lost",
     "both funded and lost"),
    ({"funded": "1", "lost": "0", "application": "0", "contacted": "1"}, "application",
     "when funded is 1"),
    ({"funded": "0", "lost": "1", "application": "1", "contacted": "0",
      "response_delay_s": ""}, "contacted", "when application is 1"),
]


@pytest.mark.parametrize(("changes", "column", "message"), INCONSISTENT_STAGES)
def test_history_rejects_inconsistent_stages(small_world: SyntheticHistory,
                                             small_roster: Roster, changes: dict[str, str],
                                             column: str, message: str) -> None:
    """Outcome stages are cumulative and exclusive where they must be."""
    rows = _rows(small_world)
    rows[0].update(changes)
    with pytest.raises(InputError) as err:
        history_from_rows(small_world.header, rows, small_roster, source="h.csv")
    assert any(p.field == column and message in p.message and p.where == "h.csv row 2"
               for p in err.value.problems), str(err.value)


def test_history_reads_an_attempt_that_did_not_reach(small_world: SyntheticHistory,
                                                     small_roster: Roster) -> None:
    """``response_delay_s`` is the first attempt, reached or not: kept on an unreached row."""
    rows = _rows(small_world)
    rows[0].update({"contacted": "0", "application": "0", "funded": "0", "lost": "1",
                    "response_delay_s": "30"})
    rows[1].update({"contacted": "0", "application": "0", "funded": "0", "lost": "1",
                    "response_delay_s": ""})
    history = history_from_rows(small_world.header, rows, small_roster, source="h.csv")
    assert history.delay_s[0] == 30.0
    assert np.isnan(history.delay_s[1])


def test_history_rejects_garbage_delay_on_an_unreached_row(small_world: SyntheticHistory,
                                                           small_roster: Roster) -> None:
    """A delay on a row that never reached the lead is read as strictly as on a reached one:
    NaN, infinities, formulas and non-ASCII digits are refused, naming row and column."""
    for value in ("nan", "-inf", "1e309", "=1+1", "\u0663\u0660", "-1"):
        rows = _rows(small_world)
        rows[0].update({"contacted": "0", "application": "0", "funded": "0", "lost": "1",
                        "response_delay_s": value})
        with pytest.raises(InputError) as err:
            history_from_rows(small_world.header, rows, small_roster, source="h.csv")
        assert any(p.field == "response_delay_s" and p.where == "h.csv row 2"
                   and p.value == value for p in err.value.problems), value


def test_history_names_missing_columns(small_world: SyntheticHistory,
                                       small_roster: Roster) -> None:
    """A header without required columns fails once, on row 1, listing them."""
    header = [c for c in small_world.header if c not in ("propensity", "funded")]
    with pytest.raises(InputError, match="propensity, funded") as err:
        history_from_rows(header, _rows(small_world), small_roster, source="h.csv")
    assert err.value.problems[0].where == "h.csv row 1"


def test_history_reports_duplicate_lead_ids(small_world: SyntheticHistory,
                                            small_roster: Roster) -> None:
    """A lead id seen before is reported with the row it first appeared on."""
    rows = _rows(small_world)
    rows[2]["lead_id"] = rows[0]["lead_id"]
    with pytest.raises(InputError, match="duplicates the lead on row 2"):
        history_from_rows(small_world.header, rows, small_roster, source="h.csv")


def test_history_lists_every_problem_up_to_a_limit(small_world: SyntheticHistory,
                                                   small_roster: Roster) -> None:
    """All problems are listed, up to MAX_LISTED_PROBLEMS plus a count of the rest."""
    rows = _rows(small_world, 80)
    for row in rows:
        row["propensity"] = "2"
    with pytest.raises(InputError) as err:
        history_from_rows(small_world.header, rows, small_roster, source="h.csv")
    assert len(err.value.problems) == MAX_LISTED_PROBLEMS + 1
    assert err.value.problems[-1].value == 80 - MAX_LISTED_PROBLEMS


def test_history_can_drop_unknown_officers(small_world: SyntheticHistory,
                                           small_roster: Roster) -> None:
    """With drop_unknown_officers, rows of officers not on the roster are skipped and counted."""
    rows = _rows(small_world, 5)
    rows[1]["officer_id"] = "LO9999"
    history = history_from_rows(small_world.header, rows, small_roster,
                                drop_unknown_officers=True)
    assert len(history) == 4 and history.dropped_unknown_officers == 1


def test_history_rejects_an_unknown_target(small_world: SyntheticHistory,
                                           small_roster: Roster) -> None:
    """The target must be one of the outcome columns."""
    with pytest.raises(InputError, match="expected one of contacted"):
        history_from_rows(small_world.header, _rows(small_world), small_roster,
                          target="revenue")


def test_history_time_split_holds_out_the_latest_rows(small_history: Any) -> None:
    """time_split keeps the earliest rows first and the latest rows for the holdout."""
    early, late = small_history.time_split(0.25)
    assert len(early) + len(late) == len(small_history)
    assert early.assigned_s.max() <= late.assigned_s.min()
    assert len(late) == pytest.approx(0.25 * len(small_history), abs=1)


def test_history_columns_are_documented() -> None:
    """Every required history column appears in docs/scoring.md."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scoring.md").read_text()
    missing = [c for c in HISTORY_COLUMNS if f"`{c}`" not in doc]
    assert not missing, missing
