"""The routing history a conversion model learns from: one row per routed lead.

A history row holds the lead columns of ``leadroute route`` input (contact columns may be blank
or absent: the model never reads them), who got the lead and when, what the logging policy was
and the probability it gave that officer, the officer's load at the time, how long the first
contact attempt took, and the outcome stages as 0/1. The format is documented in
``docs/scoring.md``.

``load_history`` validates every row and reports every problem with file, row and column, like
the lead and roster parsers. Columns that name a protected characteristic are listed in
``History.excluded_columns`` and never read.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from engine.domain import Lead
from engine.errors import InputError, Problem
from engine.fair_lending import protected_characteristic
from engine.io import read_csv_rows
from engine.leads import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, LeadParser, read_timestamp
from engine.roster import Roster

CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone")
LEAD_COLUMNS = tuple(c for c in REQUIRED_COLUMNS if c not in CONTACT_COLUMNS)
OUTCOME_COLUMNS = ("contacted", "application", "funded", "lost")
ASSIGNMENT_COLUMNS = (
    "officer_id", "assigned_at", "policy", "policy_version", "propensity", "officer_open_leads",
    "response_delay_s",
)
HISTORY_COLUMNS = LEAD_COLUMNS + ASSIGNMENT_COLUMNS + OUTCOME_COLUMNS
OPTIONAL_HISTORY_COLUMNS = CONTACT_COLUMNS + OPTIONAL_COLUMNS
DEFAULT_TARGET = "funded"
# The lead parser insists on a way to reach the borrower; a history needs none, and the model
# never reads contact details, so rows are parsed with this stand-in (a reserved fictional
# number) in place of whatever contact columns the file has.
_STAND_IN_PHONE = "+12025550100"
MAX_LISTED_PROBLEMS = 50
# A first attempt more than a year after assignment is no response to the lead: such a
# delay is a unit or export mistake, not data to fit a decay on.
MAX_RESPONSE_DELAY_S = 366 * 86400.0
# A plain decimal number in ASCII: ``float`` also takes Arabic-Indic or fullwidth digits,
# ``_`` separators, ``nan`` and ``inf``, none of which a history export writes.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


@dataclass(frozen=True)
class History:
    """A validated history, columnar. Row ``i`` of every array is history row ``i``.

    ``officer_idx`` indexes ``roster`` (the roster the history was read against); times are
    POSIX seconds; ``delay_s`` (assignment to the first contact attempt, reached or not) is
    NaN where no attempt was recorded. ``outcomes`` maps each of ``OUTCOME_COLUMNS`` to an
    (N,) int8 array of 0/1.
    """

    source: str
    sha256: str
    roster: Roster
    leads: tuple[Lead, ...]
    officer_idx: np.ndarray  # (N,) int64
    assigned_s: np.ndarray  # (N,) float, POSIX seconds
    propensity: np.ndarray  # (N,) float in (0, 1]
    open_leads: np.ndarray  # (N,) float, officer's open leads at assignment
    delay_s: np.ndarray  # (N,) float seconds to the first attempt, NaN when none recorded
    outcomes: dict[str, np.ndarray]
    policy: np.ndarray  # (N,) object, logging policy name
    policy_version: np.ndarray  # (N,) object
    target: str = DEFAULT_TARGET
    excluded_columns: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    dropped_unknown_officers: int = 0

    def __len__(self) -> int:
        return len(self.leads)

    @property
    def y(self) -> np.ndarray:
        """(N,) int8: the target outcome."""
        return self.outcomes[self.target]

    @property
    def officer_ids(self) -> np.ndarray:
        """(N,) object: the officer each lead went to."""
        return self.roster.ids[self.officer_idx]

    def take(self, rows: np.ndarray) -> History:
        """The history restricted to ``rows`` (an index or boolean array), same roster."""
        idx = np.arange(len(self))[rows]
        return replace(
            self,
            leads=tuple(self.leads[i] for i in idx),
            officer_idx=self.officer_idx[idx], assigned_s=self.assigned_s[idx],
            propensity=self.propensity[idx], open_leads=self.open_leads[idx],
            delay_s=self.delay_s[idx],
            outcomes={k: v[idx] for k, v in self.outcomes.items()},
            policy=self.policy[idx], policy_version=self.policy_version[idx],
        )

    def with_target(self, target: str) -> History:
        if target not in self.outcomes:
            raise ValueError(f"target must be one of {', '.join(OUTCOME_COLUMNS)}, got {target!r}")
        return replace(self, target=target)

    def time_split(self, holdout_fraction: float) -> tuple[History, History]:
        """(earlier, later): the last ``holdout_fraction`` of rows by ``assigned_at`` held out."""
        if not 0 < holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
        order = np.argsort(self.assigned_s, kind="stable")
        cut = round(len(self) * (1 - holdout_fraction))
        return self.take(np.sort(order[:cut])), self.take(np.sort(order[cut:]))


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (the data hash a model card records)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_history(path: str | Path, roster: Roster, *, target: str = DEFAULT_TARGET,
                 drop_unknown_officers: bool = False,
                 parser: LeadParser | None = None) -> History:
    """Read and validate a history CSV against ``roster``.

    Raises InputError listing every problem (file, row, column), up to MAX_LISTED_PROBLEMS.
    An officer id missing from the roster is a problem unless ``drop_unknown_officers``, in
    which case the row is skipped and counted in ``History.dropped_unknown_officers``.
    """
    path = Path(path)
    header, rows = read_csv_rows(path)
    if not header:
        raise InputError(Problem("file", str(path), "is empty; expected a header row"))
    history = history_from_rows(header, rows, roster, source=path.name, target=target,
                                drop_unknown_officers=drop_unknown_officers, parser=parser)
    return replace(history, sha256=file_sha256(path))


def _number(text: str) -> float | None:
    """``text`` as a finite number if it is a plain ASCII decimal, else None."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def history_from_rows(header: Sequence[str], rows: Iterable[Mapping[str, Any]], roster: Roster,
                      *, source: str = "history", target: str = DEFAULT_TARGET,
                      drop_unknown_officers: bool = False,
                      parser: LeadParser | None = None) -> History:
    """Validate rows (column -> text, as ``csv.DictReader`` gives) into a History.

    Rows are numbered as in a file: the header is row 1, the first record row 2.
    """
    missing = [c for c in HISTORY_COLUMNS if c not in header]
    if missing:
        raise InputError(Problem("columns", ", ".join(missing),
                                 "required history columns are missing from the header",
                                 f"{source} row 1"))
    if target not in OUTCOME_COLUMNS:
        raise InputError(Problem("target", target,
                                 "expected one of " + ", ".join(OUTCOME_COLUMNS), source))
    excluded = tuple(c for c in header if protected_characteristic(c) is not None)
    known = set(HISTORY_COLUMNS) | set(OPTIONAL_HISTORY_COLUMNS)
    ignored = tuple(c for c in header if c not in known and c not in excluded)
    parser = parser or LeadParser.default()
    lead_columns = [c for c in LEAD_COLUMNS + OPTIONAL_COLUMNS if c in header]

    problems: list[Problem] = []
    n_problems = 0
    leads: list[Lead] = []
    officer_idx: list[int] = []
    assigned: list[float] = []
    propensity: list[float] = []
    open_leads: list[float] = []
    delay: list[float] = []
    outcomes: dict[str, list[int]] = {c: [] for c in OUTCOME_COLUMNS}
    policy: list[str] = []
    version: list[str] = []
    first_row: dict[str, int] = {}
    dropped = 0

    for number, row in enumerate(rows, start=2):
        where = f"{source} row {number}"
        row_problems: list[Problem] = []

        def text(column: str, row: Mapping[str, Any] = row) -> str:
            value = row.get(column)
            return "" if value is None else str(value).strip()

        def bad(column: str, value: object, message: str, where: str = where,
                found: list[Problem] = row_problems) -> None:
            found.append(Problem(column, value, message, where))

        officer_id = text("officer_id")
        if officer_id not in roster.index:
            if drop_unknown_officers and officer_id:
                dropped += 1
                continue
            bad("officer_id", officer_id, "is not an officer on the roster" if officer_id
                else "is required (the officer who got the lead)")

        lead_row = {c: text(c) for c in lead_columns}
        lead_row["phone"] = _STAND_IN_PHONE
        lead: Lead | None = None
        try:
            lead = parser.parse(lead_row, where)
        except InputError as exc:
            row_problems.extend(exc.problems)
        if lead is not None:
            if lead.lead_id in first_row:
                bad("lead_id", lead.lead_id,
                    f"duplicates the lead on row {first_row[lead.lead_id]}")
            else:
                first_row[lead.lead_id] = number

        assigned_at: datetime | None = None
        try:
            assigned_at = read_timestamp(text("assigned_at"))
        except ValueError as exc:
            bad("assigned_at", text("assigned_at"), str(exc))
        if assigned_at is not None and lead is not None and assigned_at < lead.received_at:
            bad("assigned_at", text("assigned_at"), "is before received_at")

        for column in ("policy", "policy_version"):
            if not text(column):
                bad(column, "", "is required (the logging policy's name and version)")

        prop = _number(text("propensity"))
        if prop is None or not 0 < prop <= 1:
            bad("propensity", text("propensity"),
                "expected the probability the logging policy gave this officer, in (0, 1]")

        load = _number(text("officer_open_leads"))
        if load is None or load < 0 or load != int(load):
            bad("officer_open_leads", text("officer_open_leads"),
                "expected a whole number of open leads, 0 or more")

        stage: dict[str, int] = {}
        for column in OUTCOME_COLUMNS:
            raw = text(column)
            if raw not in ("0", "1"):
                bad(column, raw, "expected 0 or 1")
            else:
                stage[column] = int(raw)
        if len(stage) == len(OUTCOME_COLUMNS):
            if stage["funded"] and stage["lost"]:
                bad("lost", "1", "a lead cannot be both funded and lost")
            if stage["funded"] and not stage["application"]:
                bad("application", "0", "must be 1 when funded is 1 (stages are cumulative)")
            if stage["application"] and not stage["contacted"]:
                bad("contacted", "0", "must be 1 when application is 1 (stages are cumulative)")

        delay_raw = text("response_delay_s")
        delay_s = float("nan")
        if delay_raw:
            value = _number(delay_raw)
            if value is None or not 0 <= value <= MAX_RESPONSE_DELAY_S:
                bad("response_delay_s", delay_raw,
                    "expected seconds from assignment to first contact attempt, 0 to "
                    f"{MAX_RESPONSE_DELAY_S:.0f} (a year; blank if no attempt was made or "
                    "none was recorded)")
            else:
                delay_s = value

        if row_problems:
            n_problems += len(row_problems)
            problems.extend(row_problems[: max(0, MAX_LISTED_PROBLEMS - len(problems))])
            continue
        assert lead is not None and assigned_at is not None and prop is not None
        assert load is not None
        leads.append(lead)
        officer_idx.append(roster.index[officer_id])
        assigned.append(assigned_at.timestamp())
        propensity.append(prop)
        open_leads.append(load)
        delay.append(delay_s)
        for column in OUTCOME_COLUMNS:
            outcomes[column].append(stage[column])
        policy.append(text("policy"))
        version.append(text("policy_version"))

    if n_problems > len(problems):
        problems.append(Problem("rows", n_problems - len(problems),
                                "more problems not listed; fix the ones above first", source))
    if problems:
        raise InputError(problems)
    if not leads:
        raise InputError(Problem("rows", 0, "the history has no rows to learn from", source))
    return History(
        source=source, sha256="", roster=roster, leads=tuple(leads),
        officer_idx=np.array(officer_idx, dtype=np.int64),
        assigned_s=np.array(assigned, dtype=float),
        propensity=np.array(propensity, dtype=float),
        open_leads=np.array(open_leads, dtype=float),
        delay_s=np.array(delay, dtype=float),
        outcomes={k: np.array(v, dtype=np.int8) for k, v in outcomes.items()},
        policy=np.array(policy, dtype=object), policy_version=np.array(version, dtype=object),
        target=target, excluded_columns=excluded, ignored_columns=ignored,
        dropped_unknown_officers=dropped,
    )
