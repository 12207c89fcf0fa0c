"""Leads decided a chunk at a time by the routing core (``engine.chunked``) get the very
decisions and explanations ``engine.decide.decide`` gives them lead after lead, and leave the
same state."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import route as route_cli
from engine import chunked, core
from engine.chunked import brief, chunkable, decide_in_order, runs_in_order
from engine.decide import Decision, decide
from engine.domain import Lead
from engine.roster import Roster
from engine.rules import load_policy
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_officer, make_policy
from tests.engine.test_core import LANGUAGES, interpreted
from tests.engine.test_core import POLICIES as CORE_POLICIES
from tests.engine.test_properties import STATES, ZIPS, officer_fields

ROOT = Path(__file__).resolve().parents[2]
POLICIES = {
    **CORE_POLICIES,  # rotations, an after-hours pool, broadcasts, chains, languages
    "wrr_seed": make_policy(routing="{method: weighted_round_robin, seed: 7}"),
    # a chain whose second rule offers to several: those leads go to the caller's own path,
    # one lead, and the chunk goes on after it
    "chain_offers": make_policy(
        rules="- name: va\n  if: {field: loan_program, eq: va}\n"
              "  then: {pool: main, require_specialties: [va], fallback: [main]}\n"
              "- name: reverse\n  if: {field: loan_program, eq: reverse}\n"
              "  then: {pool: main, require_specialties: [reverse], priority: high,"
              " offer: {mode: broadcast, max_officers: 2}}",
        routing="{method: weighted_round_robin}"),
}


def facts(d: Decision) -> tuple[object, ...]:
    """Everything a decision says: its fields (the state delta included), the explanation
    spelled out and as the route file writes it."""
    plain = {f.name: getattr(d, f.name) for f in dataclasses.fields(d) if f.name != "explanation"}
    return (tuple(plain.items()), d.explanation.to_dict(detail="full"),
            d.to_json(detail="summary"))


def state_of(state: RoutingState) -> tuple[object, ...]:
    return (state.open_leads.tolist(), state.day_key.tolist(), state.day_count.tolist(),
            state.hour_key.tolist(), state.hour_count.tolist(), state.last_assigned_s.tolist(),
            state.reserved.tolist(),
            sorted((pool, rot.passes.tolist(), rot.virtual_time)
                   for pool, rot in state.rotations.items()))


def one_by_one(leads: list[Lead], roster: Roster, policy, state: RoutingState
               ) -> list[Decision]:
    out = []
    for lead in leads:
        d = decide(lead, roster, policy, state, lead.received_at)
        state.apply(d.state_delta)
        out.append(d)
    return out


def in_chunks(leads: list[Lead], roster: Roster, policy, state: RoutingState
              ) -> tuple[list[Decision], int]:
    left = []

    def one(lead: Lead) -> Decision:
        left.append(lead.lead_id)
        d = decide(lead, roster, policy, state, lead.received_at)
        state.apply(d.state_delta)
        return d

    got = []
    caches: dict[tuple[str, bool], dict] = {}
    for run in runs_in_order(leads, roster, policy, state, one):
        for k, lead in enumerate(run.leads):
            d = run.decision(k)
            # a record that reads only the brief (the route file) gets what the whole
            # decision says, in both details, plain and escaped, through kept fragments
            for detail in ("full", "summary"):
                for quote in (False, True):
                    cache = caches.setdefault((detail, quote), {})
                    b = run.brief(k, detail, cache, quote)
                    assert b == brief(d, detail, {}, quote)
                    assert "".join(b.parts) == "".join(d.json_parts(detail=detail,
                                                                    quote=quote))
            got.append((lead, d))
    assert [lead.lead_id for lead, _ in got] == [lead.lead_id for lead in leads]
    return [d for _, d in got], len(left)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    officers=st.lists(st.tuples(officer_fields, LANGUAGES), min_size=1, max_size=9),
    leads=st.lists(st.tuples(st.sampled_from(STATES), st.integers(0, 60 * 3600),
                             st.sampled_from(["conventional", "va", "reverse"]),
                             st.sampled_from(["en", "es", "zh"])),
                   min_size=1, max_size=40),
    policy_name=st.sampled_from(sorted(POLICIES)),
    chunk=st.sampled_from([1, 3, 7, 512]),
)
def test_chunks_decide_as_decide_does_lead_after_lead(officers, leads, policy_name, chunk):
    """On random rosters (licences, caps, hours, time off, status, weights, languages,
    specialties), policies (rotations, chains with requirements, offers to several, an
    after-hours pool) and leads, in chunks of every size: the same decisions, explanations
    and state deltas as ``decide`` lead after lead, and the same state after."""
    roster = Roster([make_officer(f"O{i}", languages=langs, **f)
                     for i, (f, langs) in enumerate(officers)])
    policy = POLICIES[policy_name]
    batch = [make_lead(f"L{k}", zip=ZIPS[us_state], loan_program=program, language=language,
                       received_at=(TUESDAY_15_UTC + timedelta(seconds=offset_s)).isoformat())
             for k, (us_state, offset_s, program, language) in enumerate(
                 sorted(leads, key=lambda x: x[1]))]
    expected_state = RoutingState.empty(roster.ids_tuple)
    expected = one_by_one(batch, roster, policy, expected_state)
    state = RoutingState.empty(roster.ids_tuple)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(chunked, "CHUNK", chunk)
        got, _ = in_chunks(batch, roster, policy, state)
    assert [facts(d) for d in got] == [facts(d) for d in expected]
    assert state_of(state) == state_of(expected_state)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    officers=st.lists(st.tuples(officer_fields, LANGUAGES), min_size=1, max_size=6),
    leads=st.lists(st.tuples(st.sampled_from(STATES), st.integers(0, 30 * 3600),
                             st.sampled_from(["conventional", "va"])),
                   min_size=1, max_size=15),
    policy_name=st.sampled_from(["wrr", "on_call", "chain_offers"]),
)
def test_the_interpreted_chunk_kernel_decides_as_the_compiled_one(officers, leads,
                                                                  policy_name):
    """``route_chunk``'s source run by the interpreter (``LEADROUTE_CORE=python``) gives
    what the compiled kernel gives."""
    roster = Roster([make_officer(f"O{i}", languages=langs, **f)
                     for i, (f, langs) in enumerate(officers)])
    policy = POLICIES[policy_name]
    batch = [make_lead(f"L{k}", zip=ZIPS[us_state], loan_program=program,
                       received_at=(TUESDAY_15_UTC + timedelta(seconds=offset_s)).isoformat())
             for k, (us_state, offset_s, program) in enumerate(sorted(leads, key=lambda x: x[1]))]
    compiled_state = RoutingState.empty(roster.ids_tuple)
    compiled, _ = in_chunks(batch, roster, policy, compiled_state)
    with interpreted():
        state = RoutingState.empty(roster.ids_tuple)
        reference, _ = in_chunks(batch, roster, policy, state)
    assert [facts(d) for d in compiled] == [facts(d) for d in reference]
    assert state_of(compiled_state) == state_of(state)


def test_leads_the_core_leaves_to_the_caller_go_through_it_in_order():
    """An offer to several is the caller's: ``one`` decides it, in its place in the order,
    and the chunk goes on after it with the state ``one`` left."""
    roster = Roster([make_officer(f"O{i}", licensed_states="CA") for i in range(4)])
    policy = POLICIES["chain_offers"]
    programs = ["conventional", "reverse", "conventional", "reverse", "conventional"]
    batch = [make_lead(f"L{k}", zip=ZIPS["CA"], loan_program=p,
                       received_at=(TUESDAY_15_UTC + timedelta(minutes=k)).isoformat())
             for k, p in enumerate(programs)]
    expected = one_by_one(batch, roster, policy, RoutingState.empty(roster.ids_tuple))
    got, left = in_chunks(batch, roster, policy, RoutingState.empty(roster.ids_tuple))
    assert [facts(d) for d in got] == [facts(d) for d in expected]
    assert left == 0  # nobody has the reverse specialty: those leads are held, not offered
    specialists = Roster([make_officer(f"O{i}", licensed_states="CA", specialties="reverse")
                          for i in range(4)])
    expected = one_by_one(batch, specialists, policy, RoutingState.empty(specialists.ids_tuple))
    got, left = in_chunks(batch, specialists, policy,
                          RoutingState.empty(specialists.ids_tuple))
    assert [facts(d) for d in got] == [facts(d) for d in expected]
    assert left == 2 and [d.status.value for d in got] == [
        "assigned", "offered", "assigned", "offered", "assigned"]


def test_only_rotations_deciding_as_leads_arrive_are_chunked():
    assert chunkable(POLICIES["rr"]) and chunkable(POLICIES["wrr"])
    greedy = make_policy(routing="{method: greedy}")
    assert not chunkable(greedy)
    assert not chunkable(make_policy(routing="{method: batch_optimal}"))
    with pytest.raises(ValueError, match="greedy"):
        next(decide_in_order([], Roster([make_officer("O1")]), greedy,
                             RoutingState.empty(("O1",)), lambda lead: None))
    with pytest.raises(ValueError, match="laid out for the roster"):
        next(decide_in_order([], Roster([make_officer("O1")]), POLICIES["rr"],
                             RoutingState.empty(("O2",)), lambda lead: None))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.7, 1.0, 1.1, 2.0, 3.3, 1 / 3,
                                        2.000001]), max_size=700))
def test_the_cores_sum_is_numpys_to_the_last_bit(values):
    """The eligible weight the chunk kernel adds up equals ``np.sum``'s (pairwise) to the
    last bit, compiled and interpreted, so a rotation's virtual time moves alike."""
    a = np.array(values, dtype=np.float64)
    expected = float(a.sum())
    assert core._pairwise_sum_k(a) == expected
    assert core._pairwise_sum(a) == expected


def test_route_writes_the_same_file_in_chunks(tmp_path, monkeypatch):
    """``leadroute route`` on the demo leads writes the same bytes whether a rotation's leads
    are decided in chunks or one by one through the lifecycle."""
    leads = ROOT / "data" / "demo" / "leads.csv"
    officers = ROOT / "data" / "demo" / "officers.csv"
    policy = ROOT / "data" / "policies" / "default.yaml"
    assert chunkable(load_policy(policy))
    route_cli.route_file(leads, officers, policy, tmp_path / "chunks.csv", progress=False)
    monkeypatch.setattr(route_cli, "chunkable", lambda policy: False)
    route_cli.route_file(leads, officers, policy, tmp_path / "one.csv", progress=False)
    assert (tmp_path / "chunks.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zones=st.lists(st.sampled_from(["America/New_York", "America/Los_Angeles",
                                    "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu",
                                    "Europe/London"]), min_size=1, max_size=5),
    change=st.sampled_from(["2025-03-09T05:00:00+00:00", "2025-11-02T04:30:00+00:00",
                            "2025-04-05T14:00:00+00:00", "2025-03-30T00:30:00+00:00"]),
    minutes=st.lists(st.integers(-240, 240), min_size=1, max_size=30),
    hourly=st.sampled_from(["", "1", "2"]),
)
def test_chunks_decide_alike_across_clock_changes(zones, change, minutes, hourly):
    """Leads in the hours around a clock change (US spring and autumn, Lord Howe's half
    hour, Europe), officers in zones whose offsets are not whole hours, hourly and daily
    caps and working hours: the same decisions (hold times included) as ``decide``."""
    from datetime import datetime

    roster = Roster([make_officer(f"O{i}", timezone=tz, licensed_states="CA;NY",
                                  work_hours="Mon-Sun 01:00-03:30;Mon-Sun 08:00-18:00",
                                  hourly_cap=hourly, daily_cap="3")
                     for i, tz in enumerate(zones)])
    at = datetime.fromisoformat(change)
    batch = [make_lead(f"L{k}", zip=ZIPS["CA" if k % 2 else "NY"],
                       received_at=(at + timedelta(minutes=m)).isoformat())
             for k, m in enumerate(sorted(minutes))]
    policy = POLICIES["wrr"]
    expected = one_by_one(batch, roster, policy, RoutingState.empty(roster.ids_tuple))
    got, _ = in_chunks(batch, roster, policy, RoutingState.empty(roster.ids_tuple))
    assert [facts(d) for d in got] == [facts(d) for d in expected]


def test_a_large_roster_gets_smaller_chunks():
    """A chunk's tables grow with the roster: 512 leads a chunk for a lender's roster, fewer
    for a very large one, never none."""
    from engine.chunked import CHUNK_BYTES, chunk_size

    assert chunk_size(300) == chunk_size(1) == 512
    assert chunk_size(20_000) < 100 and chunk_size(10**7) == 1
    for officers in (2_800, 5_000, 20_000):
        assert chunk_size(officers) * officers * 24 <= CHUNK_BYTES
