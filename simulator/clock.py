"""Officers' local clocks over a simulation: hour, minute of the week, shift, local day.

SimPy time is seconds after the scenario's start (a tz-aware datetime). UTC offsets are looked
up once per hour of the simulation and officer (US zones change offset on the hour), so the
hot path is integer arithmetic. Working hours come from the engine's roster bitmaps
(``Roster.on_shift``, ``Roster.next_open``), the same ones eligibility uses.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np

from engine.domain import MINUTES_PER_WEEK
from engine.roster import NEVER_OPENS, Roster, zone

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_QUARTER = 900  # seconds
_MONDAY_SHIFT_MIN = 3 * 1440  # 1970-01-01 was a Thursday


class OfficerClock:
    """Local time of every officer of ``roster`` from ``start`` to ``start + end_s``."""

    def __init__(self, roster: Roster, start: datetime, end_s: float) -> None:
        self.roster = roster
        self.start = start
        self.start_unix = int(start.timestamp())
        # offsets per quarter hour of UTC, as the engine's local clock: every zone changes
        # its offset on one (St John's at half past a UTC hour, Chatham at a quarter to)
        self.first_q = self.start_unix // _QUARTER
        # a response can start after the end: past notification latency, the wait to the
        # next shift (under a week) and a day's margin
        quarters = int(np.ceil((self.start_unix + end_s) / _QUARTER)) - self.first_q + 8 * 96
        names = sorted({o.timezone for o in roster.officers})
        which = np.array([names.index(o.timezone) for o in roster.officers], dtype=np.int64)
        by_zone = np.empty((quarters, len(names)), dtype=np.int64)
        for q in range(quarters):
            moment = datetime.fromtimestamp((self.first_q + q) * _QUARTER, tz=UTC)
            for k, name in enumerate(names):
                offset = moment.astimezone(zone(name)).utcoffset()
                by_zone[q, k] = int(offset.total_seconds()) if offset is not None else 0
        self.offsets = by_zone[:, which]  # (Q, M) seconds
        self.on_shift = roster.on_shift  # (M, W) bool
        self.next_open = roster.next_open  # (M, W) int16 minutes
        self._offset_rows = self.offsets.tolist()  # plain ints for scalar look-ups
        # the last SimPy second the table covers
        self.last_s = float((self.first_q + quarters) * _QUARTER - 1 - self.start_unix)
        # the SimPy moments each zone's offset changes, for searches over local hours
        start_q = (self.first_q + np.arange(1, quarters)) * _QUARTER - self.start_unix
        self._zone_of = which
        self._changes = [start_q[by_zone[1:, k] != by_zone[:-1, k]].astype(float)
                         for k in range(len(names))]
        # time off (departures included) in SimPy seconds, sorted; an end past the table is
        # for good (inf): a departure, or leave that outlasts anything simulated
        self.away_s: list[tuple[tuple[float, float], ...]] = [
            tuple(sorted(((p.start - start).total_seconds(),
                          e if (e := (p.end - start).total_seconds()) <= self.last_s
                          else float("inf")) for p in o.away))
            for o in roster.officers]

    # -- scalar (hot path) ------------------------------------------------------------------

    def local_s(self, officer: int, t_s: float) -> int:
        """Officer-local POSIX-like seconds at SimPy time ``t_s``."""
        unix = self.start_unix + int(t_s)
        return unix + self._offset_rows[unix // _QUARTER - self.first_q][officer]

    def local_hour(self, officer: int, t_s: float) -> int:
        return (self.local_s(officer, t_s) % 86400) // 3600

    def wait_to_shift_s(self, officer: int, t_s: float) -> float:
        """Seconds from ``t_s`` until the officer is on shift (0 while on shift; inf if never)."""
        local = self.local_s(officer, t_s)
        minute = (local // 60 + _MONDAY_SHIFT_MIN) % MINUTES_PER_WEEK
        if self.on_shift[officer, minute]:
            return 0.0
        opens = int(self.next_open[officer, minute])
        if opens == NEVER_OPENS:
            return float("inf")
        return opens * 60.0 - (local % 60) - (t_s - int(t_s))

    def after_away_s(self, officer: int, t_s: float) -> float:
        """The first moment at or after ``t_s`` outside the officer's time off (inf: never
        back before the table's end, e.g. they left)."""
        for a, b in self.away_s[officer]:
            if a <= t_s < b:
                t_s = b
        return t_s

    def ready_s(self, officer: int, t_s: float) -> float:
        """The first moment at or after ``t_s`` the officer is on shift and not on time off
        (inf if never before the table's end): when a response can start."""
        if not self.away_s[officer]:
            return t_s + self.wait_to_shift_s(officer, t_s)
        for _ in range(2 * len(self.away_s[officer]) + 2):
            t_s = self.after_away_s(officer, t_s)
            if t_s > self.last_s:
                return float("inf")
            wait = self.wait_to_shift_s(officer, t_s)
            if wait == 0.0:
                return t_s
            t_s += wait
            if math.isinf(t_s):
                return t_s
        return t_s

    def on_shift_now(self, officer: int, t_s: float) -> bool:
        local = self.local_s(officer, t_s)
        return bool(self.on_shift[officer, (local // 60 + _MONDAY_SHIFT_MIN) % MINUTES_PER_WEEK])

    def datetime_at(self, t_s: float) -> datetime:
        """The tz-aware moment of SimPy time ``t_s`` (in the scenario's timezone)."""
        return self.start + timedelta(seconds=t_s)

    # -- vectorized (bound, metrics) -------------------------------------------------------

    def local_s_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        unix = self.start_unix + np.floor(t_s).astype(np.int64)
        return unix + self.offsets[unix // _QUARTER - self.first_q, officers]

    def wait_to_shift_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Vectorized ``wait_to_shift_s``."""
        local = self.local_s_many(officers, t_s)
        minute = (local // 60 + _MONDAY_SHIFT_MIN) % MINUTES_PER_WEEK
        on = self.on_shift[officers, minute]
        opens = self.next_open[officers, minute].astype(float)
        wait = opens * 60.0 - (local % 60) - (t_s - np.floor(t_s))
        wait = np.where(opens == NEVER_OPENS, np.inf, wait)
        return np.where(on, 0.0, wait)

    def after_away_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Vectorized ``after_away_s``."""
        out = np.array(t_s, dtype=float)
        for o in self.roster.with_away_periods:
            rows = np.flatnonzero(officers == o)
            for a, b in self.away_s[o]:  # sorted by start: one pass moves past them all
                inside = (out[rows] >= a) & (out[rows] < b)
                out[rows[inside]] = b
        return out

    def ready_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Vectorized ``ready_s``."""
        out = np.array(t_s, dtype=float)
        live = np.flatnonzero(np.isfinite(out))
        while len(live):
            moved = self.after_away_many(officers[live], out[live])
            gone = moved > self.last_s
            moved[gone] = np.inf
            wait = np.zeros(len(live))
            ok = ~gone
            wait[ok] = self.wait_to_shift_many(officers[live][ok], moved[ok])
            out[live] = moved + wait
            # settled: on shift and outside time off (an away period ends on a moment
            # the officer may be off shift, and a shift may open inside time off)
            live = live[ok & (wait > 0) & np.isfinite(out[live])]
        return out

    def local_hour_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        return (self.local_s_many(officers, t_s) % 86400) // 3600

    def local_day_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Officer-local calendar day as a date ordinal (what daily caps count against)."""
        return self.local_s_many(officers, t_s) // 86400 + EPOCH_ORDINAL

    def local_hour_index_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """Officer-local hours since the epoch: what hourly caps count against (the engine's
        hour key). A repeated hour when clocks go back has one index, as it has one key."""
        return self.local_s_many(officers, t_s) // 3600

    def next_offset_change_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """SimPy time of the next change of each officer's UTC offset after ``t_s`` (inf if
        none before the table's end)."""
        out = np.full(len(t_s), np.inf)
        zones = self._zone_of[officers]
        for k, changes in enumerate(self._changes):
            if not len(changes):
                continue
            rows = np.flatnonzero(zones == k)
            pos = np.searchsorted(changes, t_s[rows], side="right")
            found = pos < len(changes)
            out[rows[found]] = changes[pos[found]]
        return out

    def next_local_boundary_many(self, officers: np.ndarray, t_s: np.ndarray,
                                 period_s: int) -> np.ndarray:
        """SimPy time of the officer's next local hour (``period_s`` 3600) or midnight (86400)
        after ``t_s``, correct across an offset change in between; never at or before
        ``t_s``."""
        local = self.local_s_many(officers, t_s)
        cand = t_s + (period_s - local % period_s) - (t_s - np.floor(t_s))
        # an offset change in between moves the boundary by the change: land on it
        r = self.local_s_many(officers, np.minimum(cand, self.last_s)) % period_s
        moved = np.where(r == 0, cand, np.where(r > period_s // 2, cand + (period_s - r),
                                                cand - r))
        return np.where(moved > t_s, moved, cand)

    def next_local_midnight_many(self, officers: np.ndarray, t_s: np.ndarray) -> np.ndarray:
        """SimPy time of the officer's next local midnight after ``t_s``."""
        return self.next_local_boundary_many(officers, t_s, 86400)
