"""The route file's fast serialisation: CSV lines and explanation JSON built from cached
fragments give exactly the bytes of ``csv.writer`` and ``json.dumps``."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.decide import decide
from engine.io import csv_cells, csv_line, csv_row_parts, spreadsheet_safe
from engine.roster import Roster
from engine.state import RoutingState
from tests.conftest import TUESDAY_15_UTC, make_lead, make_officer, make_policy
from tests.engine.test_core import POLICIES as CORE_POLICIES
from tests.engine.test_properties import STATES, ZIPS, officer_fields

# the core's property-test policies, and a cascade (its step_s is in the route cell)
POLICIES = {
    **CORE_POLICIES,
    "cascade": make_policy(routing="{method: round_robin, offer: {mode: cascade, "
                                   "max_officers: 2, step_s: 60, accept_within_s: 600}}"),
}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), min_size=2, max_size=6))
def test_csv_line_is_what_csv_writer_writes(cells):
    """Any text cells (quotes, commas, line breaks, formulas, Unicode) come out byte for byte
    as csv.writer writes them after spreadsheet_safe."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow([spreadsheet_safe(c) for c in cells])
    assert csv_line(cells) == buffer.getvalue()
    # a row's text joined from its parts' texts (the route file's row: the lead's cell,
    # then the cells that repeat, kept as one text)
    assert csv_cells(cells[:1]) + "," + csv_cells(cells[1:]) + "\r\n" == buffer.getvalue()


# rosters, leads in time order, a built-in policy and the explanation's detail
DECISIONS = {
    "officers": st.lists(officer_fields, min_size=1, max_size=6),
    "leads": st.lists(st.tuples(st.sampled_from(STATES), st.integers(0, 40 * 3600),
                                st.sampled_from(["conventional", "va", "reverse"])),
                      min_size=1, max_size=20),
    "policy_name": st.sampled_from(sorted(POLICIES)),
    "detail": st.sampled_from(["full", "summary"]),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**DECISIONS)
def test_explanation_json_is_json_dumps_of_to_dict(officers, leads, policy_name, detail):
    """Explanation.to_json, its fragments cached over many decisions, is exactly json.dumps of
    to_dict with the extra keys after its own."""
    cache: dict[object, object] = {}
    for d in _decisions(officers, leads, policy_name):
        extra = {"status": d.status.value, "propensity": d.propensity, "priority": d.priority}
        expected = json.dumps({**d.explanation.to_dict(detail=detail), **extra},
                              separators=(",", ":"))
        assert d.explanation.to_json(detail=detail, cache=cache, extra=extra) == expected
        assert d.explanation.to_json(detail=detail) == expected[:-1].rsplit(',"status"', 1)[0] \
            + "}"


def _decisions(officers, leads, policy_name):
    """Each lead decided in time order on a roster of ``officers``, the state filling as
    it goes."""
    roster = Roster([make_officer(f"O{i}", **f) for i, f in enumerate(officers)])
    policy = POLICIES[policy_name]
    state = RoutingState.empty(roster.ids_tuple)
    for k, (us_state, offset_s, program) in enumerate(sorted(leads, key=lambda x: x[1])):
        now = TUESDAY_15_UTC + timedelta(seconds=offset_s)
        lead = make_lead(f"L{k}", zip=ZIPS[us_state], loan_program=program,
                         received_at=now.isoformat())
        d = decide(lead, roster, policy, state, now)
        yield d
        state.apply(d.state_delta)


def _extra(d) -> dict[str, object]:
    """A decision's own keys as the route file writes them after the explanation's."""
    extra: dict[str, object] = {"status": d.status.value, "propensity": d.propensity,
                                "priority": d.priority}
    if d.offer is not None:
        extra["offer"] = {"mode": d.offer.mode, "officer_ids": list(d.offer.officer_ids),
                          "accept_within_s": d.offer.accept_within_s}
        if d.offer.step_s is not None:
            extra["offer"]["step_s"] = d.offer.step_s  # type: ignore[index]
    if d.hold_until is not None:
        extra["hold_until"] = d.hold_until.isoformat()
    return extra


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    **DECISIONS,
    propensity=st.sampled_from([None, 0.25, 1 / 3, 1, float("nan"), float("inf")]),
)
def test_decision_json_is_json_dumps_of_explanation_and_decision_keys(
        officers, leads, policy_name, detail, propensity):
    """Decision.to_json (the route file's explanation cell: offers, cascades' step_s, held
    leads' hold_until, any propensity) is exactly json.dumps of the explanation's dict with the
    decision's keys after it, its fragments cached over many decisions."""
    cache: dict[object, object] = {}
    for decided in _decisions(officers, leads, policy_name):
        d = decided if propensity is None else dataclasses.replace(decided,
                                                                   propensity=propensity)
        expected = json.dumps({**d.explanation.to_dict(detail=detail), **_extra(d)},
                              separators=(",", ":"))
        assert d.to_json(detail=detail, cache=cache) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**DECISIONS, lead_id=st.text(max_size=8))
def test_route_row_of_escaped_parts_is_csv_line_of_to_json(officers, leads, policy_name, detail,
                                                           lead_id):
    """The route file's line joined from the explanation's parts escaped one by one
    (``json_parts(quote=True)``, one cache for both forms) is csv_line of the cells with
    ``to_json`` among them, which test_csv_line_is_what_csv_writer_writes holds to
    csv.writer."""
    cache: dict[object, object] = {}
    for d in _decisions(officers, leads, policy_name):
        cells = [lead_id, d.officer_id or "", d.status.value, d.reason]
        text = d.to_json(detail=detail, cache=cache)
        escaped = d.json_parts(detail=detail, cache=cache, quote=True)
        assert "".join(escaped) == text.replace('"', '""')
        assert "".join(csv_row_parts(csv_cells(cells), escaped)) == csv_line([*cells, text])
