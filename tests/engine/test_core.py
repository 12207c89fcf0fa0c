"""The routing core: the compiled kernel and the same source run interpreted
(``LEADROUTE_CORE=python``) give identical decisions and explanations."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import core
from engine.decide import Decision, decide, lead_match
from engine.eligibility import (
    REASON_NAMES,
    Reason,
    Walk,
    chain_masks,
    constraints_and_chain,
    lead_local_day,
    officer_constraint,
)
from engine.roster import NEVER_OPENS, Roster
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_officer, make_policy
from tests.engine.test_properties import STATES, ZIPS, officer_fields

POLICIES = {
    "rr": make_policy(routing="{method: round_robin}"),
    "wrr": make_policy(routing="{method: weighted_round_robin}"),
    "on_call": make_policy(routing="{method: weighted_round_robin, after_hours: {action: pool, "
                                   "pool: main}}"),
    "broadcast": make_policy(routing="{method: round_robin, offer: {mode: broadcast, "
                                     "max_officers: 3, accept_within_s: 600}}"),
    "chain": make_policy(
        rules="- name: va\n  if: {field: loan_program, eq: va}\n"
              "  then: {pool: main, require_specialties: [va], fallback: [main]}",
        routing="{method: round_robin}"),
    "language": make_policy(
        rules="- name: lang\n  if: {field: language, ne: en}\n"
              "  then: {pool: main, match_lead_language: true, fallback: [main]}\n"
              "- name: va\n  if: {field: loan_program, eq: va}\n"
              "  then: {pool: main, require_specialties: [va], require_languages: [es]}",
        routing="{method: weighted_round_robin, after_hours: {action: pool, pool: main}}"),
}
LANGUAGES = st.sampled_from(["en", "es", "en;es", "zh"])

KERNELS = ("first_failing", "walk_chain", "rotation_order", "hold_waits", "constraints",
           "route_chunk")
needs_compiled = pytest.mark.skipif(not core.COMPILED, reason="LEADROUTE_CORE=python: no "
                                                               "compiled kernel to compare")


@contextmanager
def interpreted() -> Iterator[None]:
    """The kernel's own source, run by the interpreter, for the duration."""
    kernels = {name: getattr(core, name) for name in (*KERNELS, *core.CALLED)}
    for name, kernel in kernels.items():
        setattr(core, name, kernel.py_func)
    try:
        yield
    finally:
        for name, kernel in kernels.items():
            setattr(core, name, kernel)


def separate_calls(lead, roster, policy, state, now, exclude) -> tuple[object, ...]:
    """What ``constraints_and_chain`` returns, computed as before the kernels were fused: the
    checks' inputs with numpy, then ``first_failing``, ``walk_chain`` and ``hold_waits``
    called one by one."""
    minute, day, hour = roster.local_clock(now)
    m = len(roster)
    excluded = np.zeros(m, dtype=bool)
    for oid in exclude or ():
        excluded[roster.index[oid]] = True
    expiry = roster.license_expiry(lead.state)
    licensing = np.zeros(m, dtype=np.int8)
    licensing[expiry < lead_local_day(lead, now)] = Reason.LICENSE_EXPIRED
    licensing[expiry == 0] = Reason.NOT_LICENSED
    time_off = np.array([any(p.covers(now) for p in o.away) for o in roster.officers])
    pending = state.reserved
    open_load = state.open_leads + pending
    day_load = state.day_count * (state.day_key == day) + pending
    hour_load = state.hour_count * (state.hour_key == hour) + pending
    active = np.array([c for c in range(3, 12) if c != Reason.EXCLUDED or exclude],
                      dtype=np.int8)
    codes = core.first_failing(active, np.arange(m), licensing, excluded, roster.status_away,
                               time_off, roster.off_shift(now), open_load, roster.cap_open,
                               day_load, roster.cap_daily, hour_load, roster.cap_hourly)
    action = lead_match(lead, policy)[2]
    masks = chain_masks(roster, policy, action, lead.language)
    step_codes, first, held, off_shift = core.walk_chain(
        codes, masks.in_pool, masks.has_specialties, masks.has_languages,
        masks.requires_specialties, masks.requires_languages)
    waits, counts = core.hold_waits(np.flatnonzero(held), codes, minute, roster.next_open,
                                    NEVER_OPENS, roster.tz_of, len(roster.tz_groups),
                                    len(REASON_NAMES))
    if first >= 0:
        waits, counts = np.full_like(waits, core.NO_WAIT), np.zeros_like(counts)
    rows = len(step_codes) if first < 0 else first + 1
    return (codes.tolist(), step_codes[:rows].tolist(), int(first), held.tolist(),
            bool(off_shift), waits.tolist(), counts.tolist(), minute.tolist(),
            licensing.tolist(), roster.off_shift(now).tolist(), open_load.tolist(),
            day_load.tolist(), hour_load.tolist())


def fused(walk: Walk) -> tuple[object, ...]:
    """``separate_calls``' figures, read from the fused kernel's results. A roster without
    daily (hourly) caps keeps no day (hour) load: its check never runs, so any count is
    compared as zero there."""
    c = walk.hc.inputs
    rows = len(walk.step_codes) if walk.first < 0 else walk.first + 1
    return (walk.hc.codes.tolist(), walk.step_codes[:rows].tolist(), walk.first,
            walk.held.tolist(), walk.any_off_shift, walk.waits.tolist(), walk.counts.tolist(),
            c.minute.tolist(), c.licensing.tolist(), c.off_shift.tolist(), c.open_load.tolist(),
            None if c.day_load is None else c.day_load.tolist(),
            None if c.hour_load is None else c.hour_load.tolist())


def facts(d: Decision) -> tuple[object, ...]:
    """Everything a decision says, the explanation spelled out (its arrays as lists)."""
    plain = {f.name: getattr(d, f.name) for f in dataclasses.fields(d) if f.name != "explanation"}
    return tuple(plain.items()), d.explanation.to_dict(detail="full")


@needs_compiled
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    officers=st.lists(st.tuples(officer_fields, LANGUAGES), min_size=1, max_size=8),
    leads=st.lists(st.tuples(st.sampled_from(STATES), st.integers(0, 40 * 3600),
                             st.sampled_from(["conventional", "va", "reverse"]),
                             st.booleans(), st.sampled_from(["en", "es", "zh"])),
                   min_size=1, max_size=25),
    policy_name=st.sampled_from(sorted(POLICIES)),
    exclude_first=st.booleans(),
)
def test_compiled_and_interpreted_core_decide_alike(officers, leads, policy_name,
                                                    exclude_first):
    """On random rosters (licences, caps, hours, time off, status), policies and leads, the
    compiled core and its interpreted source give the same decisions, explanations and
    one-officer checks, lead after lead as the state fills."""
    roster = Roster([make_officer(f"O{i}", languages=langs, **f)
                     for i, (f, langs) in enumerate(officers)])
    policy = POLICIES[policy_name]
    state = RoutingState.empty(roster.ids_tuple)
    exclude = {"O0": "declined"} if exclude_first else None
    for k, (us_state, offset_s, program, release, language) in enumerate(
            sorted(leads, key=lambda x: x[1])):
        now = TUESDAY_15_UTC + timedelta(seconds=offset_s)
        lead = make_lead(f"L{k}", zip=ZIPS[us_state], loan_program=program, language=language,
                         received_at=now.isoformat())
        compiled = decide(lead, roster, policy, state, now, exclude=exclude)
        one = [officer_constraint(lead, roster, state, now, i, exclude=exclude)
               for i in range(len(roster))]
        with interpreted():
            reference = decide(lead, roster, policy, state, now, exclude=exclude)
            one_ref = [officer_constraint(lead, roster, state, now, i, exclude=exclude)
                       for i in range(len(roster))]
        assert facts(compiled) == facts(reference)
        assert one == one_ref and all(isinstance(r, Reason) for r in one)
        # the fused kernel, compiled and interpreted, gives what the separate calls gave
        action = lead_match(lead, policy)[2]
        got = fused(constraints_and_chain(lead, roster, policy, state, now, action, exclude))
        with interpreted():
            got_ref = fused(constraints_and_chain(lead, roster, policy, state, now, action,
                                                  exclude))
            expected = list(separate_calls(lead, roster, policy, state, now, exclude))
        for k, has_cap in ((11, roster.any_cap_daily), (12, roster.any_cap_hourly)):
            if not has_cap:
                expected[k] = None
        assert got == got_ref == tuple(expected)
        state.apply(compiled.state_delta)
        if compiled.offer is not None and len(compiled.offer.officer_ids) > 1:
            state.reserve(compiled.offer.officer_ids[-1])  # an open offer holds a slot
        if release and compiled.officer_id is not None:
            state.release(compiled.officer_id)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 12),
    data=st.data(),
    weighted=st.booleans(),
    virtual_time=st.sampled_from([0.0, 1.0, 2.5, 1 / 3, 10.0]),
)
def test_rotation_order_is_the_lexsort_of_its_keys(n, data, weighted, virtual_time):
    """The core's rotation ranking equals np.lexsort of (waiting, finish, last assigned,
    seeded order) computed with numpy, ties and never-assigned officers included."""
    weights = np.array(data.draw(st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]),
                                          min_size=n, max_size=n)))
    passes = np.array(data.draw(st.lists(st.sampled_from([0.0, 1 / 3, 0.5, 1.0, 2.0, 2.5,
                                                          3.0, 11.0]), min_size=n, max_size=n)))
    last = np.array(data.draw(st.lists(st.sampled_from([-np.inf, 100.0, 200.0]),
                                       min_size=n, max_size=n)))
    seeded = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
                      dtype=np.uint64)
    cand = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))),
                    dtype=np.int64)
    stride = 1.0 / weights[cand] if weighted else 1.0
    start = np.maximum(passes[cand], virtual_time - stride)
    waiting = start > virtual_time + core.TIE
    key = np.round(np.where(waiting, start, start + stride) / core.TIE)
    expected = cand[np.lexsort((seeded[cand], last[cand], key, waiting))]
    got = core.rotation_order(cand, weights, weighted, passes, virtual_time, last, seeded)
    assert got.tolist() == expected.tolist()


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 12),
    data=st.data(),
    zones=st.integers(1, 3),
)
def test_hold_waits_are_the_smallest_wait_of_each_kind_and_zone(n, data, zones):
    """The core's waits of a held lead equal, per kind and timezone, the minimum computed
    with numpy (a shift opening from the next-open table, the next local hour or day), and
    its counts the bincount of the held officers' codes; compiled and interpreted agree."""
    never = 99
    codes = np.array(data.draw(st.lists(st.integers(0, 11), min_size=n, max_size=n)),
                     dtype=np.int8)
    minute = np.array(data.draw(st.lists(st.integers(0, 10079), min_size=n, max_size=n)),
                      dtype=np.int64)
    next_open = np.array(data.draw(st.lists(st.sampled_from([0, 5, 61, never]), min_size=n,
                                            max_size=n)), dtype=np.int16)[:, None] \
        .repeat(10080, axis=1)
    tz_of = np.array(data.draw(st.lists(st.integers(0, zones - 1), min_size=n, max_size=n)),
                     dtype=np.int64)
    held = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1)))), dtype=np.int64)
    waits, counts = core.hold_waits(held, codes, minute, next_open, never, tz_of, zones, 12)
    expected = np.full((3, zones), core.NO_WAIT, dtype=np.int64)
    c, mi, g = codes[held], minute[held], tz_of[held]
    opens = next_open[held, mi].astype(np.int64)
    for kind, who, wait in ((core.WAIT_SHIFT, (c == core.OFF_SHIFT) & (opens != never), opens),
                            (core.WAIT_HOUR, c == core.AT_HOURLY_CAP, 60 - mi % 60),
                            (core.WAIT_DAY, c == core.AT_DAILY_CAP, 1440 - mi % 1440)):
        for z in range(zones):
            if (who & (g == z)).any():
                expected[kind, z] = wait[who & (g == z)].min()
    assert waits.tolist() == expected.tolist()
    assert counts.tolist() == np.bincount(c, minlength=12).tolist()
    source = getattr(core.hold_waits, "py_func", core.hold_waits)  # the interpreted source
    py_waits, py_counts = source(held, codes, minute, next_open, never, tz_of, zones, 12)
    assert py_waits.tolist() == waits.tolist() and py_counts.tolist() == counts.tolist()


def test_first_run_says_it_is_compiling_then_uses_the_cache(tmp_path: Path):
    """A cold cache folder: the first process says it is compiling the routing core, the
    second finds the machine code and says nothing."""
    code = ("from engine import core; import numpy as np; z = np.zeros(1, dtype=bool); "
            "c = np.zeros(1, dtype=np.int64); "
            "print(core.first_failing(np.array([8], dtype=np.int8), c, np.zeros(1, np.int8), "
            "z, z, z, ~z, c, c, c, c, c, c)[0])")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "LEADROUTE_CORE")}
    env["LEADROUTE_CACHE_DIR"] = str(tmp_path / "cache")
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True) for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["8", "8"]  # off shift
    assert "compiling the routing core (first run only)" in runs[0].stderr
    assert "compiling" not in runs[1].stderr
    assert list((tmp_path / "cache").rglob("*.nbi"))


def test_an_unknown_core_is_refused_with_its_value():
    """LEADROUTE_CORE other than numba or python stops at import, naming the value."""
    env = dict(os.environ, LEADROUTE_CORE="fortran")
    run = subprocess.run([sys.executable, "-c", "import engine.core"], env=env,
                         capture_output=True, text=True)
    assert run.returncode != 0 and "LEADROUTE_CORE='fortran'" in run.stderr


def test_a_cache_folder_that_cannot_be_written_is_named_and_routing_goes_on(tmp_path: Path):
    """LEADROUTE_CACHE_DIR pointing at a file: the kernels still run (compiled each time) and
    the message names the folder and what to set."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    code = ("from engine import core; import numpy as np; "
            "print(core.rotation_order(np.array([1, 0]), np.ones(2), False, np.zeros(2), 0.0, "
            "np.array([2.0, 1.0]), np.zeros(2, dtype=np.uint64)).tolist())")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "LEADROUTE_CORE")}
    env["LEADROUTE_CACHE_DIR"] = str(blocked)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert run.stdout.strip() == "[1, 0]"  # officer 1 assigned longest ago goes first
    assert str(blocked) in run.stderr and "LEADROUTE_CACHE_DIR" in run.stderr
