"""Pair features: specialty and language matches, one-hot categories, officer-local hours."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from engine.fair_lending import protected_characteristic
from engine.roster import Roster
from engine.scoring.features import (
    NUMERIC_FEATURES,
    TIME_FEATURES,
    HistoryStats,
    LeadBlock,
    Timing,
    Vocabulary,
    assemble,
    feature_names,
    officer_local_clock,
    officer_local_hours,
)
from engine.scoring.history import History
from tests.conftest import make_lead, make_officer

VOCAB = Vocabulary(sources=("referral", "zillow"), languages=("en", "es"))


def _roster() -> Roster:
    return Roster([
        make_officer("VA", specialties="va", languages="en"),
        make_officer("ES", specialties="fha;first_time_buyer", languages="en;es"),
        make_officer("JR", specialties="jumbo;reverse", languages="en"),
    ])


def _features(lead_fields: dict[str, str], history: History) -> dict[str, np.ndarray]:
    roster = _roster()
    lead = make_lead("X", **lead_fields)
    block = LeadBlock.build([lead], VOCAB)
    stats = _empty_stats(history)
    tables = stats.bind(roster)
    m = len(roster)
    lead_rows, officers = np.zeros(m, dtype=np.int64), np.arange(m)
    now_s = np.full(m, lead.received_at.timestamp() + 600.0)
    timing = Timing.at(now_s, block, lead_rows, officers, roster,
                       officer_local_clock(now_s, officers, roster)[1])
    x = assemble(block, lead_rows, officers, tables, np.full(m, 10), np.zeros(m), timing)
    return dict(zip(feature_names(VOCAB), x.T, strict=True))


def _empty_stats(history: History) -> HistoryStats:
    none = np.zeros(0, dtype=np.int64)
    block = LeadBlock.build(history.leads[:1], VOCAB)
    return HistoryStats.fit(history.roster, none, np.zeros(0), block, none, none, np.zeros(0),
                            np.zeros(0), len(VOCAB.sources), np.zeros(0, dtype=bool))


def test_feature_names_never_name_a_protected_characteristic() -> None:
    """No feature name refers to a protected characteristic."""
    names = feature_names(Vocabulary(("referral",), ("en", "es", "zh")))
    assert [n for n in names if protected_characteristic(n.replace("=", " "))] == []
    assert names[-len(NUMERIC_FEATURES):] == NUMERIC_FEATURES


@pytest.mark.parametrize(
    ("lead_fields", "column", "expected"),
    [
        ({"loan_program": "va", "is_veteran": "true"}, "match_va", [1, 0, 0]),
        ({"loan_program": "conventional", "is_veteran": "true"}, "match_va", [1, 0, 0]),
        ({"loan_program": "fha"}, "match_fha", [0, 1, 0]),
        ({"loan_program": "conventional"}, "match_fha", [0, 0, 0]),
        ({"loan_amount": "1500000", "property_value": "2000000"}, "match_jumbo", [0, 0, 1]),
        ({"loan_purpose": "reverse", "loan_program": "reverse"}, "match_reverse", [0, 0, 1]),
        ({"first_time_buyer": "true"}, "match_first_time_buyer", [0, 1, 0]),
        ({"first_time_buyer": "false"}, "match_first_time_buyer", [0, 0, 0]),
        ({"language": "es"}, "speaks_language", [0, 1, 0]),
        ({"language": "en"}, "speaks_language", [1, 1, 1]),
        ({"language": "zh"}, "speaks_language", [0, 0, 0]),
    ],
)
def test_pair_features_match_lead_needs_to_officer_skills(
        small_history: History, lead_fields: dict[str, str], column: str,
        expected: list[int]) -> None:
    """A specialty or language column is 1 exactly where the lead calls for what the officer
    has."""
    assert _features(lead_fields, small_history)[column].tolist() == expected


def test_categories_are_one_hot_with_an_other_slot(small_history: History) -> None:
    """A known source sets its own column; an unseen source sets source=other."""
    known = _features({"source": "zillow"}, small_history)
    unseen = _features({"source": "billboard"}, small_history)
    assert known["source=zillow"].tolist() == [1, 1, 1] and known["source=other"].sum() == 0
    assert unseen["source=other"].tolist() == [1, 1, 1] and unseen["source=zillow"].sum() == 0
    assert known["loan_purpose=purchase"].tolist() == [1, 1, 1]
    assert known["language=en"].tolist() == [1, 1, 1]


def test_officer_local_hours_use_each_officers_timezone() -> None:
    """15:00 UTC in January is 10:00 in New York and 07:00 in Los Angeles."""
    roster = Roster([make_officer("NY", timezone="America/New_York"),
                     make_officer("LA", timezone="America/Los_Angeles")])
    moment = datetime(2025, 1, 7, 15, 0, tzinfo=UTC).timestamp()
    hours = officer_local_hours(np.array([moment, moment]), np.array([0, 1]), roster)
    assert hours.tolist() == [10, 7]


def test_expected_delay_is_the_population_hour_for_a_new_officer(
        small_history: History) -> None:
    """An officer with no contacts on record is expected to be as fast as everyone is at that
    hour; an officer with many records is pulled toward their own delays."""
    from tests.scoring.test_shrinkage import _stats

    stats = _stats(small_history)
    newcomer = make_officer("NEW", team="team-1")
    tables = stats.bind(Roster([*small_history.roster.officers, newcomer]))
    d = stats.delay
    pop = d.sums.sum(0) / np.maximum(d.counts.sum(0), 1)
    busy_hours = d.counts.sum(0) > 200  # hours with enough contacts that the prior barely pulls
    np.testing.assert_allclose(tables.delay[-1][busy_hours], pop[busy_hours], atol=0.02)
    assert np.ptp(tables.delay[:-1, 14]) > 0.3  # officers differ


def test_timing_reads_the_wait_and_the_borrowers_clock_at_the_decision() -> None:
    """The lead's wait is now - received_at (0 for a lead stamped after now), the borrower's
    hour and weekday are in the ZIP's timezone across a DST change, and an officer off shift
    waits until their hours open."""
    lead = make_lead("X", received_at="2025-03-09T06:30:00+00:00")  # Dallas: 00:30 CST, Sun
    roster = Roster([make_officer("A", work_hours="Mon-Fri 09:00-17:00"),
                     make_officer("B")])
    block = LeadBlock.build([lead], VOCAB)
    # 08:30 UTC is 03:30 CDT: clocks sprang forward at 02:00 local (08:00 UTC)
    now_s = np.full(2, datetime(2025, 3, 9, 8, 30, tzinfo=UTC).timestamp())
    officers = np.arange(2)
    _, minutes = officer_local_clock(now_s, officers, roster)
    timing = Timing.at(now_s, block, np.zeros(2, dtype=np.int64), officers, roster, minutes)
    np.testing.assert_allclose(timing.age_s, 7200.0)
    np.testing.assert_allclose(timing.borrower_hour, 3.5)
    assert list(timing.borrower_weekday) == [6, 6]
    # A opens Monday 09:00 CDT = 14:00 UTC on 10 March: 29.5 hours after 08:30 UTC on the 9th
    np.testing.assert_allclose(timing.shift_wait_s, [29.5 * 3600, 0.0])
    early = Timing.at(np.full(2, lead.received_at.timestamp() - 60.0), block,
                      np.zeros(2, dtype=np.int64), officers, roster, minutes)
    assert list(early.age_s) == [0.0, 0.0]
    columns = dict(zip(TIME_FEATURES, timing.columns(np.log1p([300.0, 60.0])).T, strict=True))
    np.testing.assert_allclose(columns["log_expected_wait_to_contact_s"],
                               np.log1p([7200 + 29.5 * 3600 + 300, 7200 + 60]))
    assert list(columns["borrower_weekend"]) == [1.0, 1.0]


def test_rate_among_reached_leads_separates_converting_from_reaching() -> None:
    """Two officers fund 8 of 100 leads each; one reached 10 of them, the other 80. Their
    overall rates agree, but the rate among reached leads ranks the first far above the
    second (a slow caller who converts whoever they reach is not read as unable)."""
    roster = _roster()
    block = LeadBlock.build([make_lead("X")], VOCAB)
    officer = np.repeat([0, 1], 100)
    reached = np.zeros(200, dtype=bool)
    reached[:10] = True  # officer 0 reaches 10 leads
    reached[100:180] = True  # officer 1 reaches 80
    y = np.zeros(200)
    y[:8] = 1.0  # officer 0 funds 8 of the 10 reached
    y[100:108] = 1.0  # officer 1 funds 8 of the 80 reached
    n = len(y)
    stats = HistoryStats.fit(roster, officer, y, block, np.zeros(n, dtype=np.int64),
                             np.zeros(n, dtype=np.int64), np.full(n, np.nan), np.zeros(n),
                             len(VOCAB.sources), reached)
    tables = stats.bind(roster)
    assert tables.rate_all[0] == pytest.approx(tables.rate_all[1])
    assert tables.rate_reached[0] > 0.5 > 0.15 > tables.rate_reached[1]
    # an officer with no record starts at the population's (here: the team's) rate
    assert tables.rate_reached[1] < tables.rate_reached[2] < tables.rate_reached[0]
