"""Lead streams: real engine leads, HMDA mixes, seasonality, campaigns, replay."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import timedelta

import numpy as np
import pytest

from engine.leads import LeadParser
from simulator.hmda import load_hmda
from simulator.params import Campaign, ReplayStreamParams, SyntheticStreamParams
from simulator.streams import ROUTE_COLUMNS, lead_row, replay_stream, synthetic_stream

STATES = ["CA", "TX", "FL", "NY", "IL", "PA", "OH", "GA", "NC", "AZ", "WA", "CO"]


def _stream(small_scenario, params=None, seed=5, days=None):
    return synthetic_stream(params or small_scenario.stream, start=small_scenario.start,
                            days=days or small_scenario.days, timezone=small_scenario.timezone,
                            default_states=STATES, rng=np.random.default_rng(seed))


def test_synthetic_leads_are_what_the_lead_parser_makes_of_their_rows(small_scenario):
    """Every synthetic lead, written in the route columns and parsed by the engine's
    LeadParser, comes back equal: the engine sees exactly what production sees."""
    stream = _stream(small_scenario)
    parser = LeadParser.default()
    assert len(stream) > 300
    for lead in stream.leads:
        assert parser.parse(lead_row(lead), "synthetic") == lead


def test_same_seed_same_stream_and_arrivals_in_order(small_scenario):
    """A stream is a function of its seed; arrivals never go back in time."""
    a, b = _stream(small_scenario, seed=9), _stream(small_scenario, seed=9)
    assert a.leads == b.leads and np.array_equal(a.arrival_s, b.arrival_s)
    assert np.all(np.diff(a.arrival_s) >= 0)
    assert _stream(small_scenario, seed=10).leads != a.leads
    for lead, at in zip(a.leads, a.arrival_s, strict=True):
        assert lead.received_at == small_scenario.start + timedelta(seconds=float(at))


def test_a_window_ending_within_an_hour_has_no_lead_after_its_end(small_scenario):
    """With a window of 1.01 days, the last hour is partial: its leads arrive within its
    first 0.24 hour, none after the end."""
    for seed in range(5):
        stream = _stream(small_scenario, seed=seed, days=1.01)
        assert stream.arrival_s.max() < 1.01 * 86400


@pytest.mark.slow
def test_program_mix_follows_hmda_and_weekends_are_quieter(small_scenario):
    """Programs follow the 2017 national HMDA mix (conventional less the non-QM and reverse
    share); weekend days get about half the leads of weekdays; volume is leads_per_day."""
    params = SyntheticStreamParams(leads_per_day=400)
    stream = _stream(small_scenario, params, days=28)
    counts = Counter(lead.loan_program.value for lead in stream.leads)
    n = len(stream)
    mix = load_hmda(2017).program_mix
    assert counts["fha"] / n == pytest.approx(mix["fha"] * 0.96, abs=0.01)
    assert counts["va"] / n == pytest.approx(mix["va"] * 0.96, abs=0.01)
    assert counts["non_qm"] / n == pytest.approx(0.03, abs=0.006)
    assert n / 28 == pytest.approx(400, rel=0.03)
    weekday = np.array([lead.received_at.weekday() for lead in stream.leads])
    per_day = np.bincount(weekday, minlength=7) / 4
    assert per_day[5:].mean() / per_day[:4].mean() == pytest.approx(0.5, rel=0.1)


def test_state_mix_follows_hmda_applications(small_scenario):
    """California, the state with the most applications, gets the most leads."""
    counts = Counter(lead.state for lead in _stream(small_scenario).leads)
    assert counts.most_common(1)[0][0] == "CA"
    assert set(counts) <= set(STATES)


def test_campaign_doubles_its_program_in_its_states_only(small_scenario):
    """A VA campaign with multiplier 2 in TX and FL doubles VA leads there; other leads keep
    their volume; campaign leads carry the campaign's name and source."""
    base = SyntheticStreamParams(leads_per_day=600, states=("TX", "FL", "CA"))
    boosted = SyntheticStreamParams(
        leads_per_day=600, states=("TX", "FL", "CA"),
        campaigns=(Campaign("va-push", "va", ("TX", "FL"), 2.0, source="web_form"),))

    def count(stream, pred):
        return sum(1 for lead in stream.leads if pred(lead))

    plain = [_stream(small_scenario, base, seed=s, days=10) for s in range(3)]
    push = [_stream(small_scenario, boosted, seed=s, days=10) for s in range(3)]

    def va_in(states):
        return lambda x: x.loan_program.value == "va" and x.state in states

    ratio = sum(count(s, va_in({"TX", "FL"})) for s in push) / \
        sum(count(s, va_in({"TX", "FL"})) for s in plain)
    assert ratio == pytest.approx(2.0, rel=0.15)
    other = sum(count(s, lambda x: x.loan_program.value != "va") for s in push) / \
        sum(count(s, lambda x: x.loan_program.value != "va") for s in plain)
    assert other == pytest.approx(1.0, rel=0.05)
    tagged = [lead for s in push for lead in s.leads if lead.campaign]
    assert tagged and all(x.campaign == "va-push" and x.source == "web_form"
                          and x.state in {"TX", "FL"} for x in tagged)


def test_replay_keeps_valid_rows_in_time_order_and_lists_the_rest(small_scenario, tmp_path):
    """A replayed file: rows become leads at their received_at, bad rows and rows outside the
    window are listed as dropped."""
    leads = _stream(small_scenario).leads[:5]
    rows = [lead_row(lead) for lead in reversed(leads)]
    rows.append({**lead_row(leads[0]), "lead_id": "BAD", "zip": "00000"})
    late = leads[1].received_at + timedelta(days=30)
    rows.append({**lead_row(leads[1]), "lead_id": "LATE", "received_at": late.isoformat()})
    path = tmp_path / "leads.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROUTE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    stream = replay_stream(ReplayStreamParams(path), start=small_scenario.start,
                           days=small_scenario.days)
    assert [lead.lead_id for lead in stream.leads] == [lead.lead_id for lead in leads]
    assert len(stream.dropped) == 2
    assert "zip" in stream.dropped[0] and "outside the scenario's window" in stream.dropped[1]


def test_replay_drops_only_the_row_of_a_stray_quote(small_scenario, tmp_path):
    """A quote left open on one row of a replayed file drops that row, named, and keeps the
    rows after it."""
    leads = _stream(small_scenario).leads[:6]
    path = tmp_path / "leads.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=ROUTE_COLUMNS)
        writer.writeheader()
        writer.writerows(lead_row(lead) for lead in leads)
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(f"{leads[1].lead_id},", f'{leads[1].lead_id},"', 1)
    path.write_text("".join(lines))
    stream = replay_stream(ReplayStreamParams(path), start=small_scenario.start,
                           days=small_scenario.days)
    assert [lead.lead_id for lead in stream.leads] == [
        lead.lead_id for i, lead in enumerate(leads) if i != 1]
    assert len(stream.dropped) == 1 and stream.dropped[0].startswith("leads.csv row 3: ")
    assert "never closed" in stream.dropped[0]
