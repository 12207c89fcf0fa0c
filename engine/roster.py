"""The officer roster: parsing from CSV rows, and the compiled form decisions run against.

``parse_officers`` validates every row and reports every problem with file, row and column.
``Roster`` holds the officers plus array views (licenses by state, schedules by minute of week,
caps) so that eligibility over a thousand officers is a handful of numpy operations.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import numpy as np

from engine.domain import (
    MINUTES_PER_WEEK,
    AwayPeriod,
    Caps,
    Channel,
    License,
    Officer,
    OfficerStatus,
    Specialty,
)
from engine.errors import InputError, Problem
from engine.geo import US_STATES
from engine.leads import ISO_639_1, TIMESTAMP_YEARS, normalize_email, normalize_phone
from engine.schedule import parse_work_hours

OFFICER_COLUMNS = (
    "officer_id", "name", "nmls_id", "licensed_states", "languages", "specialties", "max_open",
    "daily_cap", "hourly_cap", "timezone", "work_hours", "weight", "team", "status", "email",
    "phone", "notify",
)
OPTIONAL_OFFICER_COLUMNS = ("backup_officer_id", "away")
NO_CAP = np.iinfo(np.int64).max
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ZERO = timedelta(0)
NO_EXPIRY = np.iinfo(np.int64).max  # date ordinal standing for "no known expiry"


# Caps above this are typing mistakes (and 10**20 would overflow the int64 cap arrays): an
# officer with no cap leaves the column empty.
MAX_CAP = 100_000
# A rotation weight is a share relative to the others: 0.001 to 1000 covers any real split,
# and keeps denormal or overflowing numbers (1e-320, 1e308) out of the rotation's arithmetic.
WEIGHT_RANGE = (1e-3, 1e3)
_WHOLE = re.compile(r"\d+", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # line breaks, tabs, NUL: one line per value
_DECIMAL = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# Names in the tz database that are not places: the host's own zone (its meaning depends on
# the machine), the rules file, a placeholder. Paths ("posix/...", "right/...") are system
# copies of the database, not names.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def zone(name: str) -> ZoneInfo:
    """A ZoneInfo, cached; raises ZoneInfoNotFoundError or ValueError for unknown names."""
    return ZoneInfo(name)


@cache
def iana_timezones() -> frozenset[str]:
    """The names of the IANA timezone database (``America/Chicago``, ``UTC``, links such as
    ``US/Central``), without ``localtime`` (whatever the host is set to), ``Factory``,
    ``posixrules`` and the paths of system copies."""
    return frozenset(n for n in available_timezones()
                     if n not in _NOT_PLACES and not n.startswith(("posix/", "right/")))


def is_iana_timezone(name: str) -> bool:
    """Whether ``name`` is a timezone of the IANA database (see ``iana_timezones``)."""
    return name in iana_timezones()


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


def parse_officer(row: Mapping[str, Any], where: str = "") -> Officer:
    """Validate one roster row; raise InputError listing every problem (column = field)."""
    problems: list[Problem] = []

    def text(column: str) -> str:
        value = row.get(column)
        return "" if value is None else str(value).strip()

    def bad(column: str, value: object, message: str) -> None:
        problems.append(Problem(column, value, message, where))

    for column in (*OFFICER_COLUMNS, *OPTIONAL_OFFICER_COLUMNS):
        control = _CONTROL.search(text(column))
        if control is not None:
            bad(column, text(column), f"has a control character ({control[0]!r}) at position "
                                      f"{control.start() + 1}: a value is one line of text")
    officer_id = text("officer_id")
    if not officer_id:
        bad("officer_id", "", "is required")
    tz_name = text("timezone")
    if not is_iana_timezone(tz_name):
        bad("timezone", tz_name, "is not an IANA timezone such as America/Chicago (a place "
                                 "name, not localtime or a path)")
        tz_name = ""

    licenses: list[License] = []
    seen_states: set[str] = set()
    for part in _split(text("licensed_states")):
        state, _, expiry = part.partition(":")
        state = state.strip().upper()
        if state not in US_STATES:
            bad("licensed_states", part, "is not a US state, DC or territory code")
            continue
        if state in seen_states:
            bad("licensed_states", part, f"lists {state} twice")
            continue
        seen_states.add(state)
        expires_on = None
        if expiry.strip():
            try:
                expires_on = date.fromisoformat(expiry.strip())
            except ValueError:
                bad("licensed_states", part, "expiry must be a date like CA:2026-12-31")
                continue
        licenses.append(License(state, expires_on))

    languages = frozenset(x.lower() for x in _split(text("languages"))) or frozenset({"en"})
    for lang in sorted(languages - ISO_639_1):
        bad("languages", lang, "is not an ISO 639-1 code such as en, es, zh")

    specialties: set[Specialty] = set()
    for spec in _split(text("specialties")):
        try:
            specialties.add(Specialty(spec.lower()))
        except ValueError:
            bad("specialties", spec, "expected one of " + ", ".join(s.value for s in Specialty))

    caps: dict[str, int | None] = {}
    for column in ("max_open", "daily_cap", "hourly_cap"):
        raw = text(column)
        if not raw:
            caps[column] = None
            continue
        if raw.startswith("-") and _WHOLE.fullmatch(raw[1:]):
            bad(column, raw, "must not be negative (empty means no cap)")
            continue
        if not _WHOLE.fullmatch(raw):  # int() would take "1_000" and other scripts' digits
            bad(column, raw, "expected a whole number of leads (empty means no cap)")
            continue
        if int(raw) > MAX_CAP:
            bad(column, raw, f"must be at most {MAX_CAP:,} (empty means no cap)")
            continue
        caps[column] = int(raw)

    try:
        schedule = parse_work_hours(text("work_hours"))
    except ValueError as exc:
        bad("work_hours", text("work_hours"), str(exc))
        schedule = parse_work_hours("")

    weight_raw = text("weight") or "1"
    weight = float(weight_raw) if _DECIMAL.fullmatch(weight_raw) else float("nan")
    lo, hi = WEIGHT_RANGE
    if not weight > 0:
        bad("weight", weight_raw, "expected a positive number (1 is the usual share)")
    elif not lo <= weight <= hi:
        bad("weight", weight_raw, f"must be from {lo:g} to {hi:g} (1 is the usual share; "
                                  "weights are relative to each other)")

    status_raw = text("status").lower() or "active"
    try:
        status = OfficerStatus(status_raw)
    except ValueError:
        bad("status", text("status"), "expected active or away")
        status = OfficerStatus.ACTIVE

    email = ""
    if text("email"):
        email = normalize_email(text("email")) or ""
        if not email:
            bad("email", text("email"), "is not a valid email address")
    phone = ""
    if text("phone"):
        phone = normalize_phone(text("phone")) or ""
        if not phone:
            bad("phone", text("phone"), "is not a valid phone number")

    notify: list[Channel] = []
    for ch in _split(text("notify")) or ["email"]:
        try:
            notify.append(Channel(ch.lower()))
        except ValueError:
            bad("notify", ch, "expected one of " + ", ".join(c.value for c in Channel))
    if Channel.EMAIL in notify and not text("email"):
        bad("email", "", "is required when notify includes email")
    if Channel.SMS in notify and not text("phone"):
        bad("phone", "", "is required when notify includes sms")

    away: list[AwayPeriod] = []
    for part in _split(text("away")):
        try:
            away.append(_parse_away(part, zone(tz_name) if tz_name else ZoneInfo("UTC")))
        except ValueError as exc:
            bad("away", part, str(exc))

    if problems:
        raise InputError(problems)
    return Officer(
        officer_id=officer_id,
        name=text("name"),
        nmls_id=text("nmls_id"),
        licenses=tuple(licenses),
        languages=languages,
        specialties=frozenset(specialties),
        team=text("team"),
        weight=weight,
        caps=Caps(caps.get("max_open"), caps.get("daily_cap"), caps.get("hourly_cap")),
        schedule=schedule,
        timezone=tz_name,
        status=status,
        away=tuple(away),
        backup_officer_id=text("backup_officer_id"),
        email=email,
        phone=phone,
        notify=tuple(notify),
    )


def _parse_away(part: str, tz: ZoneInfo) -> AwayPeriod:
    """``2026-12-01/2026-12-05`` (whole days, inclusive) or two ISO times joined by ``/``."""
    start_raw, sep, end_raw = part.partition("/")
    if not sep:
        raise ValueError("expected START/END, e.g. 2026-12-01/2026-12-05")

    def moment(raw: str, end: bool) -> datetime:
        raw = raw.strip()
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end:
                return datetime.combine(date.fromordinal(day.toordinal() + 1), time(), tz)
            return datetime.combine(day, time(), tz)
        value = datetime.fromisoformat(raw)
        return value if value.tzinfo else value.replace(tzinfo=tz)

    try:
        start, end = moment(start_raw, False), moment(end_raw, True)
    except ValueError as exc:
        raise ValueError(f"expected START/END dates or times, e.g. 2026-12-01/2026-12-05 ({exc})")\
            from None
    lo, hi = TIMESTAMP_YEARS
    # far-off years overflow UTC arithmetic; a whole day's end is the next midnight
    if not (lo <= start.year <= hi and lo <= end.year <= hi + 1):
        raise ValueError(f"expected dates from {lo} to {hi}")
    if end <= start:
        raise ValueError("ends before it starts")
    return AwayPeriod(start, end)


def parse_officers(rows: Iterable[Mapping[str, Any]], source: str = "officers", *,
                   numbers: Iterable[int] | None = None) -> list[Officer]:
    """Parse a whole roster; raise one InputError with every problem in every row.

    Rows are numbered as in the file (the header is row 1, the first officer row 2), or by
    ``numbers`` when given (a file's own row numbers, blank lines counted). Also checks for
    duplicate ids and backup officers that are not on the roster.
    """
    officers: list[Officer] = []
    problems: list[Problem] = []
    first_row: dict[str, int] = {}
    numbered = zip(numbers, rows, strict=True) if numbers is not None else enumerate(rows, 2)
    for number, row in numbered:
        where = f"{source} row {number}"
        missing = [c for c in OFFICER_COLUMNS if c not in row]
        if missing and number == 2:
            raise InputError(
                Problem("columns", ", ".join(missing), "missing required columns",
                        f"{source} row 1")
            )
        try:
            officer = parse_officer(row, where)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if officer.officer_id in first_row:
            problems.append(Problem(
                "officer_id", officer.officer_id,
                f"duplicates the id on row {first_row[officer.officer_id]}", where))
            continue
        first_row[officer.officer_id] = number
        officers.append(officer)
    for officer in officers:
        backup = officer.backup_officer_id
        if backup and (backup not in first_row or backup == officer.officer_id):
            problems.append(Problem(
                "backup_officer_id", backup, "is not another officer on the roster",
                f"{source} row {first_row[officer.officer_id]}"))
    if problems:
        raise InputError(problems)
    return officers


class Roster:
    """Officers plus the arrays that make eligibility vectorized. Immutable once built.

    Officer ``i`` is ``officers[i]``; every array is indexed the same way (shape ``(M,)`` or
    ``(M, ...)``).
    """

    def __init__(self, officers: Sequence[Officer]) -> None:
        self.officers: tuple[Officer, ...] = tuple(officers)
        ids = [o.officer_id for o in self.officers]
        if len(set(ids)) != len(ids):
            raise ValueError("officer ids must be unique")
        self.index: dict[str, int] = {oid: i for i, oid in enumerate(ids)}
        self.ids: np.ndarray = np.array(ids, dtype=object)
        self.ids_tuple: tuple[str, ...] = tuple(ids)
        m = len(self.officers)
        # license expiry ordinal per state; 0 means not licensed there
        self._license: dict[str, np.ndarray] = {}
        for i, officer in enumerate(self.officers):
            for lic in officer.licenses:
                arr = self._license.setdefault(lic.state, np.zeros(m, dtype=np.int64))
                arr[i] = NO_EXPIRY if lic.expires_on is None else lic.expires_on.toordinal()
        self._unlicensed = np.zeros(m, dtype=np.int64)
        self.status_away = np.array([o.status is OfficerStatus.AWAY for o in self.officers],
                                    dtype=bool)
        self.with_away_periods = np.array(
            [i for i, o in enumerate(self.officers) if o.away], dtype=np.int64)
        self.weights = np.array([o.weight for o in self.officers], dtype=float)
        self.cap_open = np.array([_cap(o.caps.max_open) for o in self.officers], dtype=np.int64)
        self.cap_daily = np.array([_cap(o.caps.daily) for o in self.officers], dtype=np.int64)
        self.cap_hourly = np.array([_cap(o.caps.hourly) for o in self.officers], dtype=np.int64)
        # the three caps as one (3, M) block: open, daily, hourly (as the routing core reads them)
        self.caps = np.stack([self.cap_open, self.cap_daily, self.cap_hourly])
        self.has_zero_caps = bool((self.cap_daily == 0).any() or (self.cap_hourly == 0).any())
        # whether any officer has each cap, or is away (checks that cannot fail are skipped)
        self.any_cap_open = bool((self.cap_open != NO_CAP).any())
        self.any_cap_daily = bool((self.cap_daily != NO_CAP).any())
        self.any_cap_hourly = bool((self.cap_hourly != NO_CAP).any())
        self.any_status_away = bool(self.status_away.any())
        # working hours: (M, minutes per week) bitmap, one row per officer, in its own timezone
        self.on_shift = np.ones((m, MINUTES_PER_WEEK), dtype=bool)
        for i, officer in enumerate(self.officers):
            if not officer.schedule.always:
                self.on_shift[i] = False
                for start, end in officer.schedule.intervals:
                    self.on_shift[i, start:end] = True
        # minutes from each minute of the week until the officer's next shift opens (0 while on
        # shift; NEVER_OPENS for an officer with no working hours at all)
        self.next_open = _minutes_until_open(self.on_shift)
        self.positions = np.arange(m)
        # row starts into the flattened bitmap: on_shift_flat[row_start + minute] is a 1-D take
        self.on_shift_flat = self.on_shift.ravel()
        self.row_start = self.positions * MINUTES_PER_WEEK
        self.tz_groups: list[tuple[ZoneInfo, np.ndarray]] = []
        by_tz: dict[str, list[int]] = {}
        for i, officer in enumerate(self.officers):
            by_tz.setdefault(officer.timezone, []).append(i)
        self.tz_of = np.zeros(m, dtype=np.int64)  # (M,) index into tz_groups
        for g, (name, members) in enumerate(sorted(by_tz.items())):
            self.tz_groups.append((zone(name), np.array(members, dtype=np.int64)))
            self.tz_of[members] = g
        self.zones = [zone(o.timezone) for o in self.officers]

    def __len__(self) -> int:
        return len(self.officers)

    def license_expiry(self, state: str) -> np.ndarray:
        """(M,) int64: license expiry date ordinal in ``state``; 0 where not licensed."""
        return self._license.get(state, self._unlicensed)

    def local_clock(self, now: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each officer's local time at ``now``, as three (M,) int64 arrays: minute of the week
        (Monday 00:00 = 0), calendar day (date ordinal) and clock hour (ordinal * 24 + hour).
        See ``local_quarter``."""
        minute0, into, day, hour = self.local_quarter(now)
        return (minute0 + into if into else minute0), day, hour

    def local_quarter(self, now: datetime) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """``local_clock`` as the minute of the week at the start of ``now``'s quarter hour of
        UTC and the minutes into it (the routing core adds them), then day and hour.

        Every zone changes its UTC offset on a quarter hour of UTC (Newfoundland's clocks
        change at 02:00 local, half past the UTC hour; Nepal is 5:45 ahead), so within a
        quarter hour of UTC each officer's local day and hour are fixed and the minute of
        the week moves with the clock. They are computed once per quarter hour, per timezone
        (officers share a handful); the day and hour arrays returned are shared and read-only.
        """
        epoch_s = int(now.timestamp())
        quarter = epoch_s // 900
        cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = \
            self.__dict__.setdefault("_clock", {})
        found = cache.get(quarter)
        if found is None:
            if len(cache) > 4096:
                cache.clear()
            start_s = quarter * 900
            moment = datetime.fromtimestamp(start_s, tz=UTC)
            minutes, days, hours = [], [], []
            for tz, _ in self.tz_groups:  # plain ints: a handful of zones
                local_s = start_s + int((moment.astimezone(tz).utcoffset() or _ZERO)
                                        .total_seconds())
                d = local_s // 86400 + _EPOCH_ORDINAL
                days.append(d)
                # 1970-01-01 was a Thursday: three days after a Monday
                minutes.append((local_s // 60 + 3 * 1440) % MINUTES_PER_WEEK)
                hours.append(d * 24 + (local_s % 86400) // 3600)
            g = self.tz_of
            found = (np.array(minutes, dtype=np.int64)[g], np.array(days, dtype=np.int64)[g],
                     np.array(hours, dtype=np.int64)[g])
            for arr in found:
                arr.flags.writeable = False
            cache[quarter] = found
        minute0, day, hour = found
        into = epoch_s // 60 - quarter * 15  # minutes into the quarter hour
        return minute0, into, day, hour

    def off_shift(self, now: datetime) -> np.ndarray:
        """(M,) bool, read-only: officers outside their working hours at ``now``. Computed
        for the fifteen minutes of a quarter hour of UTC at once (see ``local_clock``)."""
        epoch_s = int(now.timestamp())
        quarter = epoch_s // 900
        cache: dict[int, np.ndarray] = self.__dict__.setdefault("_off_shift", {})
        found = cache.get(quarter)
        if found is None:
            if len(cache) > 4096:
                cache.clear()
            minute0 = self.local_clock(datetime.fromtimestamp(quarter * 900, tz=UTC))[0]
            found = ~self.on_shift_flat[self.row_start + minute0 + np.arange(15)[:, None]]
            found.flags.writeable = False
            cache[quarter] = found
        return found[epoch_s // 60 - quarter * 15]

    def mask_cache(self) -> dict[object, np.ndarray]:
        """A per-roster cache for officer masks derived from it (pools, languages, specialties)."""
        return self.__dict__.setdefault("_masks", {})

    def select(self, *, ids: Iterable[str] = (), teams: Iterable[str] = (),
               specialties: Iterable[str] = (), languages: Iterable[str] = (),
               states: Iterable[str] = (), everyone: bool = False) -> np.ndarray:
        """(M,) bool: officers matching any of the given ids/teams/specialties/languages/states."""
        ids, teams = set(ids), set(teams)
        specs, langs, states = set(specialties), set(languages), set(states)
        mask = np.zeros(len(self.officers), dtype=bool)
        for i, o in enumerate(self.officers):
            mask[i] = everyone or (
                o.officer_id in ids or o.team in teams or bool(specs & o.specialties)
                or bool(langs & o.languages) or any(lic.state in states for lic in o.licenses)
            )
        return mask


NEVER_OPENS = np.iinfo(np.int16).max


def _minutes_until_open(on_shift: np.ndarray) -> np.ndarray:
    """(M, W) int16: minutes from each minute of the week to the next on-shift minute."""
    m, w = on_shift.shape
    out = np.full((m, w), NEVER_OPENS, dtype=np.int16)
    for i in range(m):
        open_at = np.flatnonzero(on_shift[i])
        if len(open_at) == 0:
            continue
        # next opening at or after each minute, wrapping around the week
        extended = np.concatenate((open_at, open_at + w))
        nxt = extended[np.searchsorted(extended, np.arange(w))]
        out[i] = (nxt - np.arange(w)).astype(np.int16)
    return out


def _cap(value: int | None) -> int:
    return NO_CAP if value is None else value
