"""Property tests: whatever the roster, leads and policy, no decision breaks licensing or caps."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decide import Status, decide
from engine.roster import Roster, zone
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_officer, make_policy

STATES = ["TX", "CA", "NY"]
ZIPS = {"TX": "75201", "CA": "90012", "NY": "10001"}
TZS = ["America/Chicago", "America/New_York", "America/Los_Angeles"]

officer_fields = st.fixed_dictionaries(
    {
        "licensed_states": st.lists(st.sampled_from(STATES), unique=True, max_size=3).map(";".join),
        "max_open": st.one_of(st.just(""), st.integers(0, 4).map(str)),
        "daily_cap": st.one_of(st.just(""), st.integers(0, 4).map(str)),
        "hourly_cap": st.one_of(st.just(""), st.integers(0, 2).map(str)),
        "timezone": st.sampled_from(TZS),
        "work_hours": st.sampled_from(
            ["", "Mon-Fri 08:00-18:00", "Mon-Sun 12:00-14:00;Sat 09:00-13:00"]
        ),
        "weight": st.sampled_from(["0.5", "1", "2", "3"]),
        "status": st.sampled_from(["active", "active", "active", "away"]),
        "specialties": st.sampled_from(["", "va", "jumbo;va", "reverse"]),
        "away": st.sampled_from(
            ["", "2025-03-04/2025-03-04", "2025-03-05T00:00:00+00:00/2025-03-05T06:00:00+00:00"]
        ),
    }
)

POLICIES = {
    "rr": make_policy(routing="{method: round_robin}"),
    "wrr": make_policy(routing="{method: weighted_round_robin}"),
    # on call: working hours waived after hours, every other constraint kept
    "on_call": make_policy(routing="{method: weighted_round_robin, after_hours: {action: pool, "
                                   "pool: main}}"),
    "default": None,  # filled from the shipped file in the test
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    officers=st.lists(officer_fields, min_size=1, max_size=6),
    leads=st.lists(
        st.tuples(
            st.sampled_from(STATES),
            st.integers(0, 40 * 3600),
            st.sampled_from(["conventional", "va", "reverse"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=40,
    ),
    policy_name=st.sampled_from(["rr", "wrr", "on_call", "default"]),
)
def test_no_decision_breaks_licensing_hours_time_off_or_caps(
    officers, leads, policy_name, default_policy_file
):
    """Every assignment is to an active officer licensed in the property's state on that date,
    on shift (or on call after hours), not on time off, and within max-open, daily and hourly
    caps."""
    roster = Roster([make_officer(f"O{i}", **f) for i, f in enumerate(officers)])
    policy = POLICIES[policy_name] or default_policy_file
    state = RoutingState.empty(roster.ids_tuple)
    open_now: Counter[str] = Counter()
    per_day: Counter[tuple[str, object]] = Counter()
    per_hour: Counter[tuple[str, object]] = Counter()
    for k, (us_state, offset_s, program, release) in enumerate(sorted(leads, key=lambda x: x[1])):
        now = TUESDAY_15_UTC + timedelta(seconds=offset_s)
        lead = make_lead(
            f"L{k}", zip=ZIPS[us_state], loan_program=program, received_at=now.isoformat()
        )
        d = decide(lead, roster, policy, state, now)
        if d.status is Status.ASSIGNED:
            o = roster.officers[roster.index[d.officer_id]]
            local = now.astimezone(zone(o.timezone))
            lic = o.license_for(lead.state)
            assert lic is not None and lic.active_on(now.astimezone(zone(lead.timezone)).date())
            assert o.status.value == "active"
            assert not any(p.covers(now) for p in o.away)
            minute = local.weekday() * 1440 + local.hour * 60 + local.minute
            on_call = "after hours: sent to the on-call pool" in d.explanation.notes
            assert o.schedule.is_open(minute) or on_call
            open_now[o.officer_id] += 1
            per_day[(o.officer_id, local.date())] += 1
            per_hour[(o.officer_id, local.replace(minute=0, second=0, microsecond=0))] += 1
            if o.caps.max_open is not None:
                assert open_now[o.officer_id] <= o.caps.max_open
            if o.caps.daily is not None:
                assert per_day[(o.officer_id, local.date())] <= o.caps.daily
            if o.caps.hourly is not None:
                assert (
                    per_hour[(o.officer_id, local.replace(minute=0, second=0, microsecond=0))]
                    <= o.caps.hourly
                )
            state.apply(d.state_delta)
            if release:  # some leads close at once, freeing capacity
                state.release(o.officer_id)
                open_now[o.officer_id] -= 1
        else:
            assert d.state_delta.is_empty
            assert d.officer_id is None and d.reason
