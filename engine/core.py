"""The routing core: the hot loops of a decision, written once, compiled with numba.

Each function here is the only implementation of its loop. By default it runs compiled
(``numba.njit``, machine code cached on disk); with ``LEADROUTE_CORE=python`` the very same
source runs in the interpreter (numba's ``py_func``), as a reference a property test holds the
compiled path to (tests/engine/test_core.py). What the core covers and what still runs as
numpy and Python around it is listed in docs/core.md.

Compiled code is cached in ``LEADROUTE_CACHE_DIR`` (default ``~/.cache/leadroute/numba``; an
explicit ``NUMBA_CACHE_DIR`` wins). The first run on a machine compiles, and says so on
stderr; later runs load the cache. Nothing is compiled at install time: numba's wheels carry
their own LLVM.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _default_cache_dir() -> Path:
    try:
        return Path.home() / ".cache" / "leadroute" / "numba"
    except RuntimeError:  # no home folder to be found: a per-user folder in the temp folder
        import tempfile

        return Path(tempfile.gettempdir()) / f"leadroute-numba-{os.getuid()}"


CACHE_DIR = Path(os.environ.get("LEADROUTE_CACHE_DIR") or _default_cache_dir()).expanduser()
# numba reads its cache folder when first imported: set it before
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHE_DIR))

import numba  # noqa: E402

CORE = os.environ.get("LEADROUTE_CORE", "numba").strip().lower()
if CORE not in ("numba", "python"):
    raise ValueError(f"LEADROUTE_CORE={CORE!r}: expected numba (the default) or python")
COMPILED = CORE == "numba"

# Reason codes as the kernel reads them (engine.eligibility.Reason; checked there).
MISSING_SPECIALTY, MISSING_LANGUAGE = 1, 2
NOT_LICENSED, LICENSE_EXPIRED, EXCLUDED, STATUS_AWAY, TIME_OFF, OFF_SHIFT = 3, 4, 5, 6, 7, 8
AT_MAX_OPEN, AT_DAILY_CAP, AT_HOURLY_CAP = 9, 10, 11
FIRST_TEMPORARY = STATUS_AWAY


def _jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` compiled (cached on disk), or ``fn`` itself under ``LEADROUTE_CORE=python``:
    what another kernel calls (``_NAME_k``), so a fused kernel runs the very same loop."""
    if not COMPILED:
        return fn
    return numba.njit(cache=True, nogil=True)(fn)


def _kernel(jitted: Callable[..., Any]) -> Callable[..., Any]:
    """The public name of a kernel: ``jitted`` behind a wrapper that announces a first
    compile (compiled), or the function itself (interpreted)."""
    if not COMPILED:
        return jitted
    return _Announced(jitted)


_ANNOUNCED: list[bool] = []  # said once a process


class _Announced:
    """A compiled kernel that says, the first time it is called in a process and finds no
    cached machine code, that it is compiling (a few seconds, once per machine)."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self.py_func = dispatcher.py_func
        self.__wrapped__ = dispatcher.py_func
        self._call = self._first

    def __call__(self, *args: Any) -> Any:
        return self._call(*args)

    def _first(self, *args: Any) -> Any:
        if not _ANNOUNCED and (_CACHE_PROBLEM or not _cached(self.dispatcher)):
            _ANNOUNCED.append(True)
            print("compiling the routing core (first run only)" if _CACHE_PROBLEM is None else
                  f"compiling the routing core: its cache folder {_cache_dir()} cannot be "
                  f"written ({_CACHE_PROBLEM}), so every run compiles; set "
                  "LEADROUTE_CACHE_DIR to a writable folder", file=sys.stderr, flush=True)
        self._call = self.dispatcher
        # From now on callers reach the dispatcher itself (``core.NAME`` is read at each
        # call): a Python call less per kernel call, which the per-lead path pays thousands
        # of times a second.
        module = sys.modules[__name__]
        name = self.py_func.__name__.lstrip("_")
        if getattr(module, name, None) is self:
            setattr(module, name, self.dispatcher)
        return self.dispatcher(*args)


def _cache_dir() -> str:
    return os.environ.get("NUMBA_CACHE_DIR", str(CACHE_DIR))


def _cache_problem() -> str | None:
    """Why the compile cache folder cannot be written, or None."""
    folder = Path(_cache_dir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None if os.access(folder, os.W_OK | os.X_OK) else "permission denied"


_CACHE_PROBLEM = _cache_problem() if COMPILED else None


def _cached(dispatcher: Any) -> bool:
    """Whether machine code for ``dispatcher``'s current source is in the cache folder (its
    index file names overloads for this source's stamp)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError, ValueError):  # another numba layout
        return True


def _first_failing(active: np.ndarray, officers: np.ndarray, licensing: np.ndarray,
                   excluded: np.ndarray, status_away: np.ndarray, time_off: np.ndarray,
                   off_shift: np.ndarray, open_load: np.ndarray, cap_open: np.ndarray,
                   day_load: np.ndarray, cap_daily: np.ndarray, hour_load: np.ndarray,
                   cap_hourly: np.ndarray) -> np.ndarray:
    """(len(officers),) int8: for each officer (roster index), the first of the checks
    ``active`` (Reason codes in the order of ``engine.eligibility.CHECKS``) they fail, or 0.
    What each check compares is written here once; the table decides which apply and in
    what order."""
    out = np.zeros(len(officers), dtype=np.int8)
    for n in range(len(officers)):
        i = officers[n]
        for k in range(len(active)):
            code = active[k]
            if code == NOT_LICENSED or code == LICENSE_EXPIRED:  # noqa: SIM109 - compiled
                fails = licensing[i] == code
            elif code == EXCLUDED:
                fails = excluded[i]
            elif code == STATUS_AWAY:
                fails = status_away[i]
            elif code == TIME_OFF:
                fails = time_off[i]
            elif code == OFF_SHIFT:
                fails = off_shift[i]
            elif code == AT_MAX_OPEN:
                fails = open_load[i] >= cap_open[i]
            elif code == AT_DAILY_CAP:
                fails = day_load[i] >= cap_daily[i]
            else:  # AT_HOURLY_CAP
                fails = hour_load[i] >= cap_hourly[i]
            if fails:
                out[n] = code
                break
    return out


_first_failing_k = _jit(_first_failing)
first_failing = _kernel(_first_failing_k)


def _walk_chain_into(codes: np.ndarray, in_pool: np.ndarray, has_specialties: np.ndarray,
                     has_languages: np.ndarray, requires_specialties: np.ndarray,
                     requires_languages: np.ndarray, out: np.ndarray, held: np.ndarray
                     ) -> tuple[int, bool]:
    """``walk_chain`` writing each walked step's codes into ``out`` (S, M) and the held
    officers into ``held`` (M,) (bool, or int8 0/1; zeros on entry), so that ``constraints``
    hands back its own blocks without a copy. Returns the first step and whether a pool had
    an officer off shift."""
    steps, m = in_pool.shape
    off_shift = False
    for s in range(steps):
        found = False
        for i in range(m):
            code = codes[i]
            if requires_specialties[s] and not has_specialties[s, i]:
                code = MISSING_SPECIALTY
            elif requires_languages[s] and code == 0 and not has_languages[s, i]:
                code = MISSING_LANGUAGE
            out[s, i] = code
            if code == 0 and in_pool[s, i]:
                found = True
        if found:
            return s, off_shift
        for i in range(m):
            if in_pool[s, i]:
                if out[s, i] >= FIRST_TEMPORARY:
                    held[i] = True
                if out[s, i] == OFF_SHIFT:
                    off_shift = True
    return -1, off_shift


_walk_chain_into_k = _jit(_walk_chain_into)


def _walk_chain(codes: np.ndarray, in_pool: np.ndarray, has_specialties: np.ndarray,
                has_languages: np.ndarray, requires_specialties: np.ndarray,
                requires_languages: np.ndarray
                ) -> tuple[np.ndarray, int, np.ndarray, bool]:
    """The steps of a rule's chain, in order, up to the first with an eligible officer.

    ``codes`` (M,) int8: each officer's first failing hard constraint. Per step ``s``:
    ``in_pool[s]`` (M,) bool, the step's pool; ``has_specialties[s]`` / ``has_languages[s]``
    (M,) bool, officers with every specialty / language the step requires, read only when
    ``requires_specialties[s]`` / ``requires_languages[s]``. A missing specialty is reported
    for everyone lacking it; a missing language for officers who pass everything else.

    Returns the codes of each step walked (S, M) int8 (rows after the returned step are not
    filled), the first step with an officer of its pool at code 0 (-1 when none), the
    officers held back only by a temporary reason in a pool walked without success, and
    whether any of those pools had an officer off shift. The loop is ``_walk_chain_into``.
    """
    steps, m = in_pool.shape
    out = np.zeros((steps, m), dtype=np.int8)
    held = np.zeros(m, dtype=np.bool_)
    first, off_shift = _walk_chain_into_k(codes, in_pool, has_specialties, has_languages,
                                          requires_specialties, requires_languages, out, held)
    return out, first, held, off_shift


_walk_chain_k = _jit(_walk_chain)
walk_chain = _kernel(_walk_chain_k)

# Finish times closer than this are a tie (passes are sums of 1/weight, so float noise).
TIE = 1e-9


def _rotation_order(candidates: np.ndarray, weights: np.ndarray, weighted: bool,
                    passes: np.ndarray, virtual_time: float, last_assigned_s: np.ndarray,
                    seeded: np.ndarray) -> np.ndarray:
    """The candidates (roster indices) in the rotation's order (WF2Q, engine.policies.rotation):
    first the officers whose turn has come (start no later than the pool's virtual time) by
    earliest finish, then the others by earliest start; ties to the least recently assigned,
    then by the seeded order, then by position in ``candidates``. An officer's stride is
    ``1 / weight`` (1 unless ``weighted``), their start ``max(pass, virtual time - stride)``;
    times are compared in units of ``TIE`` (rounded half to even)."""
    n = len(candidates)
    waiting = np.zeros(n, dtype=np.int8)
    key = np.empty(n, dtype=np.float64)
    last = np.empty(n, dtype=np.float64)
    rank = np.empty(n, dtype=np.uint64)
    for j in range(n):
        i = candidates[j]
        stride = 1.0 / weights[i] if weighted else 1.0
        start = max(passes[i], virtual_time - stride)
        if start > virtual_time + TIE:
            waiting[j] = 1
            key[j] = np.rint(start / TIE)
        else:
            key[j] = np.rint((start + stride) / TIE)
        last[j] = last_assigned_s[i]
        rank[j] = seeded[i]
    # least significant key first, each sort stable: the order of np.lexsort
    order = np.argsort(rank, kind="mergesort")
    order = order[np.argsort(last[order], kind="mergesort")]
    order = order[np.argsort(key[order], kind="mergesort")]
    order = order[np.argsort(waiting[order], kind="mergesort")]
    return candidates[order]


_rotation_order_k = _jit(_rotation_order)
rotation_order = _kernel(_rotation_order_k)


# The kinds of wait ``hold_waits`` reports, in the order ``engine.eligibility.hold_until``
# reads them: a shift opening, the next local hour, the next local day.
WAIT_SHIFT, WAIT_HOUR, WAIT_DAY = 0, 1, 2
NO_WAIT = np.iinfo(np.int64).max


def _hold_waits(held: np.ndarray, codes: np.ndarray, minute: np.ndarray,
                next_open: np.ndarray, never_opens: int, tz_of: np.ndarray, zones: int,
                reasons: int) -> tuple[np.ndarray, np.ndarray]:
    """What a held lead waits for, from its held officers (``held``, roster indices, each held
    back only by a temporary reason): per kind of wait (``WAIT_SHIFT``, ``WAIT_HOUR``,
    ``WAIT_DAY``) and per timezone group (``tz_of`` (M,), ``zones`` groups), the smallest
    wall-clock wait in minutes from the start of the current minute (``NO_WAIT`` where none),
    and the count of each reason code among the held officers ((``reasons``,) int64).

    ``codes`` (M,) each officer's reason; ``minute`` (M,) their local minute of the week;
    ``next_open`` (M, W) minutes until their next shift opens (``never_opens`` for none). An
    officer off shift waits for their shift, one at the hourly cap for the next local hour,
    one at the daily cap for the next local day; the other reasons have no known time."""
    waits = np.full((3, zones), NO_WAIT, dtype=np.int64)
    counts = np.zeros(reasons, dtype=np.int64)
    for n in range(len(held)):
        i = held[n]
        code = codes[i]
        counts[code] += 1
        if code == OFF_SHIFT:
            opens = next_open[i, minute[i]]
            if opens == never_opens:
                continue
            kind, wait = WAIT_SHIFT, np.int64(opens)
        elif code == AT_HOURLY_CAP:
            kind, wait = WAIT_HOUR, 60 - minute[i] % 60
        elif code == AT_DAILY_CAP:
            kind, wait = WAIT_DAY, 1440 - minute[i] % 1440
        else:
            continue
        g = tz_of[i]
        if wait < waits[kind, g]:
            waits[kind, g] = wait
    return waits, counts


_hold_waits_k = _jit(_hold_waits)
hold_waits = _kernel(_hold_waits_k)


# The rows of ``constraints``' results (see there).
LOAD_MINUTE, LOAD_OPEN, LOAD_DAY, LOAD_HOUR = 0, 1, 2, 3
CODE_LICENSING, CODE_CHECKS, CODE_HELD, CODE_STEPS = 0, 1, 2, 3
SUMMARY_FIRST, SUMMARY_OFF_SHIFT, SUMMARY_COUNTS = 0, 1, 2
REASONS = AT_HOURLY_CAP + 1
SUMMARY_WAITS = SUMMARY_COUNTS + REASONS


def _constraints_into(active: np.ndarray, officers: np.ndarray, expiry: np.ndarray,
                      date_ordinal: int, excluded: np.ndarray, status_away: np.ndarray,
                      time_off: np.ndarray, off_shift: np.ndarray, minute0: np.ndarray,
                      into: int, day: np.ndarray, hour: np.ndarray, open_leads: np.ndarray,
                      day_key: np.ndarray, day_count: np.ndarray, hour_key: np.ndarray,
                      hour_count: np.ndarray, pending: np.ndarray, caps: np.ndarray,
                      chain: np.ndarray, requires: np.ndarray, next_open: np.ndarray,
                      never_opens: int, tz_of: np.ndarray, zones: int, loads: np.ndarray,
                      out: np.ndarray, summary: np.ndarray) -> None:
    """``constraints`` writing its three results into ``loads`` (4, M), ``out`` (3 + S, M),
    zeros on entry, and ``summary``: the loop itself, which ``route_chunk`` runs lead after
    lead."""
    m = len(expiry)
    steps = chain.shape[1]
    minute, open_load, day_load, hour_load = \
        loads[LOAD_MINUTE], loads[LOAD_OPEN], loads[LOAD_DAY], loads[LOAD_HOUR]
    licensing = out[CODE_LICENSING]
    for i in range(m):
        minute[i] = minute0[i] + into
        e = expiry[i]
        licensing[i] = NOT_LICENSED if e == 0 else (LICENSE_EXPIRED if e < date_ordinal else 0)
        p = pending[i]
        open_load[i] = open_leads[i] + p
        day_load[i] = (day_count[i] if day_key[i] == day[i] else 0) + p
        hour_load[i] = (hour_count[i] if hour_key[i] == hour[i] else 0) + p
    codes = _first_failing_k(active, officers, licensing, excluded, status_away, time_off,
                             off_shift, open_load, caps[0], day_load, caps[1], hour_load,
                             caps[2])
    out[CODE_CHECKS, :len(codes)] = codes
    summary[:SUMMARY_WAITS] = 0
    summary[SUMMARY_WAITS:] = NO_WAIT
    summary[SUMMARY_FIRST] = -1
    if steps == 0:
        return
    held = out[CODE_HELD]
    first, any_off_shift = _walk_chain_into_k(codes, chain[0], chain[1], chain[2],
                                              requires[0], requires[1], out[CODE_STEPS:], held)
    summary[SUMMARY_FIRST] = first
    summary[SUMMARY_OFF_SHIFT] = any_off_shift
    if first < 0:
        waits, counts = _hold_waits_k(np.flatnonzero(held), codes, minute, next_open,
                                      never_opens, tz_of, zones, REASONS)
        summary[SUMMARY_COUNTS:SUMMARY_WAITS] = counts
        summary[SUMMARY_WAITS:] = waits.ravel()


_constraints_into_k = _jit(_constraints_into)


def _constraints(active: np.ndarray, officers: np.ndarray, expiry: np.ndarray,
                 date_ordinal: int, excluded: np.ndarray, status_away: np.ndarray,
                 time_off: np.ndarray, off_shift: np.ndarray, minute0: np.ndarray, into: int,
                 day: np.ndarray, hour: np.ndarray, open_leads: np.ndarray,
                 day_key: np.ndarray, day_count: np.ndarray, hour_key: np.ndarray,
                 hour_count: np.ndarray, pending: np.ndarray, caps: np.ndarray,
                 chain: np.ndarray, requires: np.ndarray, next_open: np.ndarray,
                 never_opens: int, tz_of: np.ndarray, zones: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A decision's hard constraints and chain in one call: the checks' inputs, then
    ``first_failing``, ``walk_chain`` and, when no step has an eligible officer,
    ``hold_waits`` over the officers held back (the same kernels, called from here). The
    loop is ``_constraints_into``, which ``route_chunk`` runs lead after lead too.

    The inputs, per officer (M,): the local minute of the week (``minute0``, the quarter
    hour's start, plus ``into`` minutes); the licensing code in the lead's state on its
    local date (``expiry`` date ordinals, 0 not licensed); the loads against the caps
    (``caps`` (3, M): open leads, daily, hourly): open leads, this local day's and this
    local hour's count (a count kept for an earlier ``day_key`` / ``hour_key`` is zero),
    each plus ``pending`` (slots held by open offers). Who is off shift comes in
    (``Roster.off_shift`` keeps it per quarter hour; reading an (M, W) table here officer
    by officer cost more than the rest of the call). The checks run for ``officers`` (roster
    indices); the chain needs every officer: ``chain`` (3, S, M) is each step's pool,
    officers with its specialties, with its languages, and ``requires`` (2, S) whether it
    requires specialties, languages (S may be 0: no chain).

    Returns three arrays, so that the call boxes three objects rather than a dozen:
    ``loads`` (4, M) int64, rows ``LOAD_*``: minute, open, day and hour loads;
    ``codes`` (3 + S, M) int8, rows ``CODE_*``: licensing, the checks' codes of
    ``officers`` (in the row's first ``len(officers)`` places), the held officers (1) as
    ``walk_chain`` finds them, then each walked step's codes (rows after the first step
    with an eligible officer are not filled); ``summary`` int64, at ``SUMMARY_*``: the first
    step with an eligible officer (-1 when none), whether a pool walked had an officer off
    shift, ``hold_waits``' counts (``REASONS``) and its waits (3 x ``zones``, row by row;
    no wait and no count when a step had an eligible officer or there is no chain).
    """
    m = len(expiry)
    loads = np.empty((4, m), dtype=np.int64)
    out = np.zeros((CODE_STEPS + chain.shape[1], m), dtype=np.int8)
    summary = np.empty(SUMMARY_WAITS + 3 * zones, dtype=np.int64)
    _constraints_into_k(active, officers, expiry, date_ordinal, excluded, status_away, time_off,
                        off_shift, minute0, into, day, hour, open_leads, day_key, day_count,
                        hour_key, hour_count, pending, caps, chain, requires, next_open,
                        never_opens, tz_of, zones, loads, out, summary)
    return loads, out, summary


_constraints_k = _jit(_constraints)
constraints = _kernel(_constraints_k)

def _pairwise_sum(values: np.ndarray) -> float:
    """The sum of ``values`` (1-D float64, contiguous) exactly as numpy's ``sum`` adds them
    (pairwise: blocks of up to 128 in eight running sums, halves above that), so that a
    total computed here equals the one ``np.sum`` gives to the last bit."""
    n = len(values)
    if n < 8:
        res = 0.0
        for i in range(n):
            res += values[i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = values[0], values[1], values[2], values[3]
        r4, r5, r6, r7 = values[4], values[5], values[6], values[7]
        i = 8
        while i < n - n % 8:
            r0 += values[i]
            r1 += values[i + 1]
            r2 += values[i + 2]
            r3 += values[i + 3]
            r4 += values[i + 4]
            r5 += values[i + 5]
            r6 += values[i + 6]
            r7 += values[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += values[i]
            i += 1
        return res
    half = n // 2
    half -= half % 8
    return _pairwise_sum_k(values[:half]) + _pairwise_sum_k(values[half:])


_pairwise_sum_k = _jit(_pairwise_sum)


def _advance(weight: float, weighted: bool, officer_pass: float, virtual_time: float,
             total_weight: float) -> tuple[float, float]:
    """A pool's rotation after an officer of ``weight`` and pass ``officer_pass`` takes a
    lead for which officers of ``total_weight`` were eligible: the officer's new pass and
    the pool's new virtual time (``engine.policies.rotation``)."""
    stride = 1.0 / weight if weighted else 1.0
    start = max(officer_pass, virtual_time - stride)
    return start + stride, virtual_time + 1.0 / total_weight


_advance_k = _jit(_advance)
# one decision's turn in the interpreter: a jitted call would cost more than the arithmetic
advance_step = _advance


def _claim(i: int, day: int, hour: int, open_leads: np.ndarray, day_key: np.ndarray,
           day_count: np.ndarray, hour_key: np.ndarray, hour_count: np.ndarray) -> None:
    """Officer ``i`` takes a lead in their local ``day`` (date ordinal) and ``hour``
    (ordinal * 24 + hour): one more open lead, and one more in that day's and hour's count
    (a count kept for an earlier day or hour starts again)."""
    open_leads[i] += 1
    if day_key[i] != day:
        day_key[i] = day
        day_count[i] = 0
    day_count[i] += 1
    if hour_key[i] != hour:
        hour_key[i] = hour
        hour_count[i] = 0
    hour_count[i] += 1


_claim_k = _jit(_claim)
claim = _claim  # one decision's claim (``RoutingState.apply``), in the interpreter

# ``route_chunk``'s results per lead: in ``placed`` (n, 2) int64 the officer who took the
# lead (-1: not placed) and the number of candidates ranked; in ``moved`` (n, 3) float64 the
# eligible weight and the rotation's new pass and virtual time.
PLACED_OFFICER, PLACED_CANDIDATES = 0, 1
MOVED_WEIGHT, MOVED_PASS, MOVED_TIME = 0, 1, 2


def _route_chunk(start: int, count: int, active: np.ndarray, everyone: np.ndarray,
                 excluded: np.ndarray, expiry: np.ndarray, expiry_of: np.ndarray,
                 date_of: np.ndarray, status_away: np.ndarray, time_off: np.ndarray,
                 time_off_of: np.ndarray, off_shift: np.ndarray, quarter_of: np.ndarray,
                 into_of: np.ndarray, minute0: np.ndarray, day: np.ndarray, hour: np.ndarray,
                 open_leads: np.ndarray, day_key: np.ndarray, day_count: np.ndarray,
                 hour_key: np.ndarray, hour_count: np.ndarray, last_assigned_s: np.ndarray,
                 pending: np.ndarray, caps: np.ndarray, chains: np.ndarray,
                 requires: np.ndarray, steps_of: np.ndarray, chain_of: np.ndarray,
                 places: np.ndarray, on_call: bool, next_open: np.ndarray, never_opens: int,
                 tz_of: np.ndarray, zones: int, weights: np.ndarray, weighted: bool,
                 seeded: np.ndarray, passes: np.ndarray, virtual_time: np.ndarray,
                 pool_of: np.ndarray, now_s: np.ndarray, codes_out: np.ndarray,
                 summary_out: np.ndarray, order_out: np.ndarray, placed: np.ndarray,
                 moved: np.ndarray) -> int:
    """Leads ``start`` to ``count - 1`` of a chunk decided one after another by a rotation
    (round robin or weighted round robin), each seeing the state the ones before it left:
    ``constraints`` for the lead (its codes and summary into ``codes_out[n]`` (3 + S, M),
    zeros on entry, and ``summary_out[n]``); then, when a step of its chain has an eligible
    officer and its chain ``places`` it (an offer to one officer), ``rotation_order`` over
    them (into ``order_out[n]``), the first one's turn (``advance``) and their claim on the
    caps' counters (``claim``), written into the state's arrays in place.

    A lead's inputs are rows of the chunk's tables: ``expiry[expiry_of[n]]`` (its state's
    licences), ``time_off[time_off_of[n]]``, ``off_shift[n]``, ``date_of[n]`` (its local
    date), ``now_s[n]`` (when it is decided) and ``minute0``, ``day``, ``hour`` at
    ``quarter_of[n]`` with ``into_of[n]`` (``Roster.local_quarter``), its chain
    ``chains[c, :, :steps_of[c]]`` and ``requires[c, :, :steps_of[c]]`` for ``c =
    chain_of[n]``, whose step ``s`` rotates pool ``pool_of[c, s]`` (a row of ``passes``
    and ``virtual_time``).

    Returns the first lead it did not decide: ``count`` when it decided them all, or a lead
    for the caller's own path, left untouched by the state: one with eligible officers whose
    chain does not place it (an offer to several), or, with ``on_call`` (an after-hours
    pool), one nobody can take now while an officer of a pool walked is off shift.
    """
    m = len(status_away)
    loads = np.empty((4, m), dtype=np.int64)
    candidates = np.empty(m, dtype=np.int64)
    candidate_weights = np.empty(m, dtype=np.float64)
    for n in range(start, count):
        c = chain_of[n]
        steps = steps_of[c]
        q = quarter_of[n]
        into = into_of[n]
        out = codes_out[n, :CODE_STEPS + steps]
        summary = summary_out[n]
        _constraints_into_k(active, everyone, expiry[expiry_of[n]], date_of[n], excluded,
                            status_away, time_off[time_off_of[n]], off_shift[n],
                            minute0[q], into, day[q], hour[q], open_leads, day_key, day_count,
                            hour_key, hour_count, pending, caps, chains[c, :, :steps],
                            requires[c, :, :steps], next_open, never_opens, tz_of, zones,
                            loads, out, summary)
        placed[n, PLACED_OFFICER] = -1
        first = summary[SUMMARY_FIRST]
        if first < 0:
            if on_call and summary[SUMMARY_OFF_SHIFT]:
                return n
            continue
        if not places[c]:
            return n
        in_pool = chains[c, 0, first]
        codes = out[CODE_STEPS + first]
        k = 0
        for i in range(m):
            if in_pool[i] and codes[i] == 0:
                candidates[k] = i
                k += 1
        p = pool_of[c, first]
        order = _rotation_order_k(candidates[:k], weights, weighted, passes[p],
                                  virtual_time[p], last_assigned_s, seeded)
        order_out[n, :k] = order
        i = order[0]
        if weighted:
            for j in range(k):
                candidate_weights[j] = weights[candidates[j]]
            total = _pairwise_sum_k(candidate_weights[:k])
        else:
            total = float(k)
        new_pass, new_time = _advance_k(weights[i], weighted, passes[p, i], virtual_time[p],
                                        total)
        _claim_k(i, day[q, i], hour[q, i], open_leads, day_key, day_count, hour_key,
                 hour_count)
        last_assigned_s[i] = now_s[n]
        passes[p, i] = new_pass
        virtual_time[p] = new_time
        placed[n, PLACED_OFFICER] = i
        placed[n, PLACED_CANDIDATES] = k
        moved[n, MOVED_WEIGHT] = total
        moved[n, MOVED_PASS] = new_pass
        moved[n, MOVED_TIME] = new_time
    return count


_route_chunk_k = _jit(_route_chunk)
route_chunk = _kernel(_route_chunk_k)


# What the fused kernel calls by name: a test swaps these for their source too
# (tests/engine/test_core.py), so the interpreted path runs every loop interpreted.
CALLED = ("_first_failing_k", "_walk_chain_into_k", "_hold_waits_k", "_constraints_into_k",
          "_rotation_order_k", "_advance_k", "_pairwise_sum_k", "_claim_k")


__all__ = ["CACHE_DIR", "CALLED", "COMPILED", "CORE", "NO_WAIT", "TIE", "WAIT_DAY",
           "WAIT_HOUR", "WAIT_SHIFT", "constraints", "first_failing", "hold_waits",
           "rotation_order", "route_chunk", "walk_chain"]
