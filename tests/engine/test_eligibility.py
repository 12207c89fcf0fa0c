"""Hard constraints: every reason an officer is left out, and what happens when nobody fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.decide import Reason, Status, decide
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_policy, make_roster

POLICY = make_policy()


def excluded(decision) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for step in decision.explanation.to_dict()["steps"]:
        for reason, ids in step["excluded"].items():
            merged.setdefault(reason, []).extend(ids)
    return merged


def decide_now(roster, lead=None, state=None, now=TUESDAY_15_UTC, policy=POLICY, **kw):
    state = state or RoutingState.empty(roster.ids_tuple)
    return decide(lead or make_lead(), roster, policy, state, now, **kw)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"licensed_states": "CA"}, "not_licensed"),
        ({"licensed_states": "TX:2025-03-03"}, "license_expired"),
        ({"status": "away"}, "status_away"),
        ({"away": "2025-03-01/2025-03-07"}, "time_off"),
        ({"work_hours": "Mon-Fri 12:00-18:00"}, "off_shift"),  # 10:00 in Chicago
        ({"max_open": "0"}, "at_max_open"),
        ({"daily_cap": "0"}, "at_daily_cap"),
        ({"hourly_cap": "0"}, "at_hourly_cap"),
    ],
)
def test_hard_constraint_leaves_officer_out_with_its_reason(fields, reason):
    """Each hard constraint excludes the officer and names why; the other officer gets it."""
    roster = make_roster(("X", fields), "OK")
    d = decide_now(roster)
    assert d.officer_id == "OK"
    assert excluded(d) == {reason: ["X"]}


def test_license_is_valid_through_its_expiry_date():
    """A license expiring on the lead's date (at the property) still counts that day."""
    roster = make_roster(("X", {"licensed_states": "TX:2025-03-04"}))
    assert decide_now(roster).officer_id == "X"


def test_license_date_is_the_date_at_the_property():
    """At 02:00 UTC on the 5th it is still the 4th in Texas: a license expiring the 4th holds."""
    roster = make_roster(("X", {"licensed_states": "TX:2025-03-04"}))
    now = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
    assert decide_now(roster, make_lead(received_at=now.isoformat()), now=now).officer_id == "X"


def test_excluded_officer_is_skipped_with_reason():
    """An officer already tried for the lead (SLA timeout) is left out as excluded."""
    roster = make_roster("A", "B")
    d = decide_now(roster, exclude={"A": "no answer in 900 s"})
    assert d.officer_id == "B"
    assert excluded(d) == {"excluded": ["A"]}


def test_daily_cap_counts_the_officers_local_day():
    """Leads from before the officer's local midnight do not count against today's cap."""
    roster = make_roster(("A", {"daily_cap": 1, "timezone": "America/Los_Angeles"}), "B")
    state = RoutingState.empty(roster.ids_tuple)
    # 07:30 UTC Mar 4 = 23:30 Mar 3 in Los Angeles
    late = datetime(2025, 3, 4, 7, 30, tzinfo=UTC)
    d1 = decide(
        make_lead("L1"), roster, make_policy(routing="{method: round_robin, seed: 1}"), state, late
    )
    state.apply(d1.state_delta)
    if d1.officer_id != "A":
        state.apply(decide(make_lead("L2"), roster, POLICY, state, late).state_delta)
    assert state.day_count[0] == 1
    # 08:30 UTC = 00:30 Mar 4 in LA: a new day, A is eligible again
    d = decide(make_lead("L3"), roster, POLICY, state, late + timedelta(hours=1))
    assert "at_daily_cap" not in excluded(d)
    d = decide(make_lead("L4"), roster, POLICY, state, late + timedelta(minutes=10))
    assert excluded(d) == {"at_daily_cap": ["A"]}


def test_hourly_cap_resets_on_the_next_clock_hour():
    """An hourly cap counts the current clock hour in the officer's timezone."""
    roster = make_roster(("A", {"hourly_cap": 1}))
    state = RoutingState.empty(roster.ids_tuple)
    t = TUESDAY_15_UTC + timedelta(minutes=50)
    state.apply(decide(make_lead("L1"), roster, POLICY, state, t).state_delta)
    held = decide(make_lead("L2"), roster, POLICY, state, t + timedelta(minutes=5))
    assert held.status is Status.HELD
    assert held.hold_until == TUESDAY_15_UTC + timedelta(hours=1)
    ok = decide(make_lead("L3"), roster, POLICY, state, t + timedelta(minutes=10))
    assert ok.officer_id == "A"


def test_max_open_frees_up_when_a_lead_is_released():
    """At max open leads an officer is held back until one of their leads closes."""
    roster = make_roster(("A", {"max_open": 1}))
    state = RoutingState.empty(roster.ids_tuple)
    state.apply(decide_now(roster, state=state).state_delta)
    held = decide_now(roster, make_lead("L2"), state=state)
    assert held.status is Status.HELD and held.hold_until is None
    state.release("A")
    assert decide_now(roster, make_lead("L3"), state=state).officer_id == "A"


def test_after_hours_lead_is_held_until_the_next_shift_opens():
    """With after_hours hold, a lead arriving off shift is held until the earliest opening."""
    roster = make_roster(
        ("A", {"work_hours": "Mon-Fri 08:00-17:00"}),
        ("B", {"work_hours": "Mon-Fri 07:00-17:00", "timezone": "America/New_York"}),
    )
    now = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)  # Tue 20:00 Chicago, 21:00 New York
    d = decide_now(roster, make_lead(received_at=now.isoformat()), now=now)
    assert d.status is Status.HELD
    assert d.hold_until == datetime(2025, 3, 5, 12, 0, tzinfo=UTC)  # 07:00 New York
    assert "outside working hours" in d.reason


def test_after_hours_on_call_pool_takes_the_lead():
    """With after_hours pool, an off-shift lead goes to the on-call pool, hours waived."""
    policy = make_policy(
        pools="main: {teams: [day]}\non_call: {teams: [night]}",
        routing="{method: round_robin, after_hours: {action: pool, pool: on_call}}",
    )
    roster = make_roster(
        ("A", {"work_hours": "Mon-Fri 08:00-17:00", "team": "day"}),
        ("N", {"work_hours": "Mon-Fri 08:00-17:00", "team": "night"}),
    )
    now = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)
    d = decide_now(roster, make_lead(received_at=now.isoformat()), now=now, policy=policy)
    assert d.officer_id == "N"
    assert d.pool == "on_call"


def test_an_on_call_pool_waives_hours_and_nothing_else():
    """An on-call officer off shift with every cap at one takes one evening lead; the next
    two are held at the caps (working hours are waived, caps are not)."""
    policy = make_policy(routing="{method: round_robin, after_hours: {action: pool, "
                                 "pool: main}}")
    roster = make_roster(("A", {"work_hours": "Mon-Fri 08:00-17:00", "max_open": 1,
                                "daily_cap": 1, "hourly_cap": 1}))
    state = RoutingState.empty(roster.ids_tuple)
    statuses = []
    for k in range(3):
        now = datetime(2025, 3, 5, 2, k, tzinfo=UTC)  # Tue 20:0k in Chicago, off shift
        d = decide_now(roster, make_lead(f"E{k}", received_at=now.isoformat()), state=state,
                       now=now, policy=policy)
        state.apply(d.state_delta)
        statuses.append(d.status)
    assert statuses == [Status.ASSIGNED, Status.HELD, Status.HELD]
    assert state.open_leads[0] == 1


def test_a_shift_opening_across_a_clock_change_is_held_until_the_local_opening():
    """Held on Saturday before the US spring-forward Sunday (2025-03-09): a Monday 08:00
    shift in Chicago opens at 13:00 UTC (CDT), not an hour later as elapsed minutes from
    Saturday's standard time would say; a fall-back Monday likewise opens at 14:00 UTC."""
    roster = make_roster(("A", {"work_hours": "Mon-Fri 08:00-17:00"}))
    for now, opens in ((datetime(2025, 3, 8, 18, 0, tzinfo=UTC),
                        datetime(2025, 3, 10, 13, 0, tzinfo=UTC)),
                       (datetime(2025, 11, 1, 18, 0, tzinfo=UTC),
                        datetime(2025, 11, 3, 14, 0, tzinfo=UTC))):
        d = decide_now(roster, make_lead(received_at=now.isoformat()), now=now)
        assert d.status is Status.HELD and d.hold_until == opens


def test_lead_with_no_licensed_officer_is_unassigned_with_reason():
    """If nobody in the chain is licensed for the state, the lead is unassigned, saying why."""
    roster = make_roster(("A", {"licensed_states": "CA"}), ("B", {"licensed_states": "NY"}))
    d = decide_now(roster)
    assert d.status is Status.UNASSIGNED
    assert "not licensed" in d.reason and "TX" in d.reason


def test_held_beats_unassigned_when_someone_could_take_it_later():
    """A lead is held (not dropped) when a licensed officer is only temporarily unavailable."""
    roster = make_roster(("A", {"licensed_states": "CA"}), ("B", {"status": "away"}))
    d = decide_now(roster)
    assert d.status is Status.HELD
    assert excluded(d) == {"not_licensed": ["A"], "status_away": ["B"]}


def test_specialty_requirement_falls_back_to_the_main_rotation():
    """A VA lead goes to a VA specialist; with none eligible it falls back to main."""
    policy = make_policy(
        pools="main: {everyone: true}\nva: {specialties: [va]}",
        rules="- name: va\n  if: {field: loan_program, eq: va}\n"
        "  then: {pool: va, fallback: [main]}",
    )
    roster = make_roster(("V", {"specialties": "va"}), "G")
    assert decide_now(roster, make_lead(loan_program="va"), policy=policy).officer_id == "V"
    roster = make_roster(("V", {"specialties": "va", "status": "away"}), "G")
    d = decide_now(roster, make_lead(loan_program="va"), policy=policy)
    assert d.officer_id == "G" and d.pool == "main"
    assert [s["pool"] for s in d.explanation.to_dict()["steps"]] == ["va", "main"]


def test_language_requirement_matches_the_borrowers_language():
    """match_lead_language keeps only officers who speak the borrower's language."""
    policy = make_policy(
        rules="- name: lang\n  if: {field: language, ne: en}\n"
        "  then: {pool: main, match_lead_language: true, fallback: [main]}"
    )
    roster = make_roster("E", ("S", {"languages": "en;es"}))
    for k in range(3):
        d = decide_now(roster, make_lead(f"L{k}", language="es"), policy=policy)
        assert d.officer_id == "S"
        assert excluded(d)["missing_language"] == ["E"]


def test_require_specialties_excludes_those_lacking_them():
    """require_specialties leaves out officers without every listed specialty."""
    policy = make_policy(tail="else: {pool: main, require_specialties: [fha, first_time_buyer]}")
    roster = make_roster(
        ("F", {"specialties": "fha"}), ("B", {"specialties": "fha;first_time_buyer"})
    )
    d = decide_now(roster, policy=policy)
    assert d.officer_id == "B"
    assert excluded(d) == {"missing_specialty": ["F"]}


def test_reason_codes_are_ordered_structural_before_temporary():
    """Structural reasons (license) win over temporary ones (hours) for the same officer."""
    roster = make_roster(("X", {"licensed_states": "CA", "work_hours": "Sat 09:00-10:00"}), "OK")
    assert excluded(decide_now(roster)) == {"not_licensed": ["X"]}
    assert Reason.NOT_LICENSED < Reason.OFF_SHIFT


@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(0, 14 * 1440), open_leads=st.lists(st.integers(0, 4), min_size=5,
                                                               max_size=5),
       day_counts=st.lists(st.integers(0, 4), min_size=5, max_size=5),
       hour_counts=st.lists(st.integers(0, 3), min_size=5, max_size=5),
       stale=st.lists(st.booleans(), min_size=5, max_size=5))
def test_officer_constraint_agrees_with_hard_constraints(minutes, open_leads, day_counts,
                                                         hour_counts, stale):
    """The one-officer check gives each officer the same reason as the check for everyone,
    at any moment of two weeks and any counts (current or from an earlier day and hour)."""
    from datetime import timedelta

    from engine.decide import Reason, hard_constraints, officer_constraint
    from engine.state import RoutingState

    roster = make_roster(
        ("A", {"max_open": "2", "daily_cap": "3", "hourly_cap": "1",
               "work_hours": "Mon-Fri 09:00-17:00"}),
        ("B", {"timezone": "America/Los_Angeles", "work_hours": "Mon-Sat 08:00-12:00",
               "daily_cap": "0"}),
        ("C", {"licensed_states": "CA"}),
        ("D", {"status": "away"}),
        ("E", {"timezone": "Asia/Kathmandu", "hourly_cap": "2",
               "licensed_states": "TX:2025-03-05"}),
    )
    now = TUESDAY_15_UTC + timedelta(minutes=minutes)
    lead = make_lead()
    state = RoutingState.empty(roster.ids_tuple)
    _, day, hour = roster.local_clock(now)
    for i in range(5):
        state.open_leads[i] = open_leads[i]
        state.day_count[i], state.day_key[i] = day_counts[i], day[i] - stale[i]
        state.hour_count[i], state.hour_key[i] = hour_counts[i], hour[i] - stale[i]
    everyone = hard_constraints(lead, roster, state, now).codes
    for i in range(5):
        assert officer_constraint(lead, roster, state, now, i) == Reason(int(everyone[i]))


def _hold_until_zone_by_zone(held, codes, minute, roster, now):
    """The reference for hold_until: every kind of wait's smallest wall-clock wait per zone
    turned into an instant zone by zone (the slow path), unless no zone of the roster
    changes its offset within eight days (then elapsed minutes), as the engine did before
    its wait kernel."""
    from engine.eligibility import _steady, _wall_clock_instant
    from engine.roster import NEVER_OPENS

    start = now.replace(second=0, microsecond=0)
    best = None
    kinds = []
    off = codes[held] == Reason.OFF_SHIFT
    opens = roster.next_open[held[off], minute[held[off]]].astype(np.int64)
    kinds.append((held[off][opens != NEVER_OPENS], opens[opens != NEVER_OPENS]))
    for code, period in ((Reason.AT_HOURLY_CAP, 60), (Reason.AT_DAILY_CAP, 1440)):
        capped = held[codes[held] == code]
        kinds.append((capped, period - minute[capped] % period))
    for members, waits in kinds:
        if not len(members):
            continue
        wait = int(waits.min())
        if wait < 7 * 1440 and _steady(roster, int(now.timestamp())):
            at = start + timedelta(minutes=wait)
            best = at if best is None or at < best else best
            continue
        for g in np.unique(roster.tz_of[members]).tolist():
            in_zone = roster.tz_of[members] == g
            tz_name = roster.officers[int(members[in_zone][0])].timezone
            at = max(_wall_clock_instant(now, tz_name, int(waits[in_zone].min())),
                     start + timedelta(minutes=1))
            best = at if best is None or at < best else best
    return best


ZONES = ["America/New_York", "America/Chicago", "America/Phoenix", "Europe/London",
         "Australia/Lord_Howe", "America/St_Johns", "Asia/Kathmandu"]
CHANGES = [datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 3, 30, 1, tzinfo=UTC),
           datetime(2025, 4, 5, 15, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC),
           datetime(2025, 10, 26, 1, tzinfo=UTC)]


@settings(max_examples=1000, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=5),
    hours=st.lists(st.sampled_from(["", "Mon-Fri 08:00-17:00", "Sat 09:00-13:00",
                                    "Sun 01:30-02:30", "Mon-Sun 23:00-01:00"]),
                   min_size=5, max_size=5),
    codes=st.lists(st.sampled_from([Reason.OFF_SHIFT, Reason.AT_HOURLY_CAP,
                                    Reason.AT_DAILY_CAP, Reason.STATUS_AWAY]),
                   min_size=5, max_size=5),
    change=st.sampled_from(CHANGES),
    offset_min=st.one_of(st.integers(-1440, 60), st.integers(-9 * 1440, 2 * 1440)),
    seconds=st.integers(0, 59),
)
def test_hold_until_is_the_zone_by_zone_wall_clock_instant(zones, hours, codes, change,
                                                           offset_min, seconds):
    """Around clock changes (US, EU, Lord Howe's half hour, Newfoundland), hold_until gives
    what turning each zone's smallest wall-clock wait into an instant zone by zone gives, for
    shift openings and the next local hour and day, whichever shortcut it takes."""
    from engine.eligibility import Constraints, hold_until

    roster = make_roster(*[(f"O{i}", {"timezone": z, "work_hours": hours[i]})
                           for i, z in enumerate(zones)])
    now = change + timedelta(minutes=offset_min, seconds=seconds)
    minute, day, hour = roster.local_clock(now)
    code_arr = np.array(codes[:len(zones)], dtype=np.int8)
    off_shift = roster.off_shift(now)
    # an officer marked off shift must be off shift now (an on-shift one waits for nothing)
    code_arr[(code_arr == Reason.OFF_SHIFT) & ~off_shift] = Reason.AT_HOURLY_CAP
    hc = Constraints(code_arr, minute, day, hour, None)  # type: ignore[arg-type]
    held = np.arange(len(zones), dtype=np.int64)
    assert hold_until(held, hc, roster, now) == _hold_until_zone_by_zone(
        held, code_arr, minute, roster, now)


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2400, 1, 1),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)),
                                               ZoneInfo("America/St_Johns"),
                                               ZoneInfo("Asia/Kathmandu"),
                                               ZoneInfo("Australia/Lord_Howe")])))
def test_minute_start_is_the_utc_minute_of_now(now):
    """The start of now's minute in epoch seconds (held_for's instants count from it) is
    the timestamp of now in UTC with seconds and microseconds dropped, in any zone."""
    from engine.eligibility import _minute_start_s

    want = int(now.astimezone(UTC).replace(second=0, microsecond=0).timestamp())
    assert _minute_start_s(now) == want


def test_a_kept_hold_instant_is_given_only_in_its_own_zone_object():
    """``waits_until`` keeps the instants held leads wait for; an instant kept for one fixed
    offset is not handed to a lead whose time has another zone object of the same offset
    (they compare equal, but name the zone differently)."""
    from engine.eligibility import _instant

    est = timezone(timedelta(hours=-5), "EST")
    cdt = timezone(timedelta(hours=-5), "CDT")
    first = _instant(1_741_500_000, est)
    other = _instant(1_741_500_000, cdt)
    assert (first.tzname(), other.tzname()) == ("EST", "CDT")
    assert other == first and other.tzinfo is cdt
    assert _instant(1_741_500_000, cdt) is other  # kept, for that zone object
