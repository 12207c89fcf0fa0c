"""Scenario files: the shipped ones load, ``extends`` merges, errors name the YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.params import ReplayStreamParams, SyntheticStreamParams
from simulator.scenario import load_scenario
from tests.simulator.conftest import DATA, SCENARIOS

REFERENCE = SCENARIOS / "reference.yaml"


@pytest.mark.parametrize("name", ["reference", "surge", "attrition", "va_campaign"])
def test_shipped_scenarios_load(name):
    """Every shipped scenario validates and its roster parses."""
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    assert sc.name == name and sc.days == 30
    assert sc.roster_path == (SCENARIOS / "reference_officers.csv").resolve()


def test_extends_merges_mappings_and_keeps_parent_paths():
    """A child overrides single keys of the parent's mappings; the parent's relative roster
    path stays relative to the parent file."""
    surge = load_scenario(SCENARIOS / "surge.yaml")
    ref = load_scenario(REFERENCE)
    assert isinstance(surge.stream, SyntheticStreamParams)
    assert isinstance(ref.stream, SyntheticStreamParams)
    assert surge.stream.volume_multiplier == 1.5
    assert surge.stream.amount_scale == ref.stream.amount_scale == 1.6
    assert surge.world == ref.world
    small = load_scenario(DATA / "small.yaml")
    assert small.roster_path == (DATA / "small_officers.csv").resolve()


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = f"extends: {REFERENCE}\n"

# (YAML added to a scenario extending the reference, expected path, words in the message)
ERRORS = [
    ("world:\n  response:\n    bogus: 1\n", "world.response.bogus", "unknown key"),
    ("world:\n  response:\n    median_s: -5\n", "world.response.median_s", "must be > 0"),
    ("days: soon\n", "days", "valid number"),
    ("world:\n  skills:\n    overrides:\n      LO001: {skill: 0}\n",
     "world.skills.overrides.LO001.skill", "must be > 0"),
    ("world:\n  conversion:\n    funding_rate_by_program: {va: 0.5}\n",
     "world.conversion.funding_rate_by_program.conventional", "is required"),
    ("world:\n  decay:\n    flatten: 2\n", "world.decay.flatten", "[0, 1]"),
    ("stream:\n  hour_weights: [1, 2]\n", "stream.hour_weights", "needs 24 values"),
    ("stream:\n  campaigns:\n    - {name: x, program: fha2, states: [TX], multiplier: 2}\n",
     "stream.campaigns[0].program", "expected one of"),
    ("stream:\n  kind: replay\n", "stream.path", "needs path"),
    ("operations:\n  max_rounds: 0\n", "operations.max_rounds", "greater than or equal to 1"),
    ("operations:\n  held_order: random\n", "operations.held_order", "freshest_first"),
    ("timezone: Mars/Olympus\n", "timezone", "IANA"),
    ("roster: nowhere.csv\n", "roster", "no such roster file"),
    ("departures:\n  - {skill_rank: 1}\n", "departures[0]", "exactly one of at"),
    ("departures:\n  - {day: 3}\n", "departures[0].officer_id", "exactly one"),
    ("start: 2025-03-03T00:00:00\n", "start", "UTC offset"),
    ("days: 1\ndays: 2\n", "line 3 column 1", "duplicate key"),
    ("description: &d [*d]\n", "line 2 column 18", "the alias *d refers to the node that "
                                                    "contains it"),
    ("description: " + "[" * 100 + "]" * 100 + "\n", "line 2 column 77",
     "nested more than 64 levels deep"),
    ("x: &a [1,1,1,1,1,1,1,1,1,1]\ny: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
     "z: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nw: &e [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
     "v: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n", "line 6 column 4 (v)",
     "stands for more than 100,000 values"),
    ("days: true\n", "days", "valid number"),
    ("departures:\n  - {day: 99, skill_rank: 1}\n", "departures[0].day", "outside the window"),
    ("departures:\n  - {day: .nan, skill_rank: 1}\n", "departures[0].day", "outside the window"),
    ("departures:\n  - {day: -1, skill_rank: 1}\n", "departures[0].day", "outside the window"),
    ("departures:\n  - {day: true, skill_rank: 1}\n", "departures[0].day", "valid number"),
    ("departures:\n  - {at: '2025-03-05T10:00:00', skill_rank: 1}\n", "departures[0].at",
     "needs a UTC offset"),
    ("world:\n  conversion:\n    contact_rate_by_source: {tiktok: 0.3}\n",
     "world.conversion.contact_rate_by_source.tiktok", "is not a source of the stream"),
]

# what only the roster and the reference data can tell (``check_scenario``)
CHECKED = [
    ("departures:\n  - {day: 3, officer_id: LO999}\n", "departures[0].officer_id",
     "'LO999' is not on the roster"),
    ("departures:\n  - {day: 3, skill_rank: 500}\n", "departures[0].skill_rank",
     "only 60 officers"),
    ("world:\n  skills:\n    overrides: {LO999: {skill: 2}}\n",
     "world.skills.overrides.LO999", "is not an officer on the roster"),
    ("stream:\n  states: [TX, ZZ]\n", "stream.states", "['ZZ']: not a US state"),
    ("stream:\n  campaigns:\n    - {name: c, program: va, states: [NV], multiplier: 2}\n",
     "stream.campaigns[0].states", "['NV'] are not among the stream's states"),
]


@pytest.mark.parametrize(("extra", "path", "words"), CHECKED)
def test_roster_and_data_errors_name_the_file_and_yaml_path(tmp_path, extra, path, words):
    """Errors found when the world is built or the stream's states are checked, before any
    run, carry the file and the YAML path like the loader's own."""
    from simulator.runner import check_scenario

    scenario = _write(tmp_path, BASE + extra)
    with pytest.raises(ScenarioError) as err:
        check_scenario(load_scenario(scenario))
    assert err.value.path == path, str(err.value)
    assert words in err.value.message, str(err.value)
    assert str(scenario) in str(err.value)


def test_state_codes_are_read_in_any_case_and_contact_rates_merge(tmp_path):
    """``states: [tx, fl]`` means TX and FL; a contact rate given for one source keeps the
    defaults of the others; a file that is not UTF-8 is named with its line."""
    sc = load_scenario(_write(tmp_path, BASE + "stream:\n  states: [tx, fl]\n"
                                        "world:\n  conversion:\n"
                                        "    contact_rate_by_source: {facebook: 0.3}\n"))
    assert isinstance(sc.stream, SyntheticStreamParams) and sc.stream.states == ("TX", "FL")
    rates = sc.world.conversion.contact_rate_by_source
    assert rates["facebook"] == 0.3 and rates["referral"] == 0.75
    latin = tmp_path / "latin.yaml"
    latin.write_bytes((BASE + "description: caf\xe9\n").encode("latin-1"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(latin)
    assert err.value.path == "line 2" and "not UTF-8" in err.value.message


@pytest.mark.parametrize(("extra", "path", "words"), ERRORS)
def test_scenario_errors_name_the_yaml_path(tmp_path, extra, path, words):
    """A bad value is reported with its YAML path, what is wrong, and the file."""
    scenario = _write(tmp_path, BASE + extra)
    with pytest.raises(ScenarioError) as err:
        load_scenario(scenario)
    assert err.value.path == path, str(err.value)
    assert words in err.value.message, str(err.value)
    assert str(scenario) in str(err.value)


def test_extends_cycle_and_missing_parent_are_reported(tmp_path):
    """Scenarios extending each other in a cycle, or a missing parent, are named."""
    _write(tmp_path, "extends: b.yaml\n", "a.yaml")
    _write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(ScenarioError, match=r"cycle: a\.yaml -> b\.yaml -> a\.yaml"):
        load_scenario(tmp_path / "a.yaml")
    with pytest.raises(ScenarioError, match=r"no such scenario file: gone\.yaml"):
        load_scenario(_write(tmp_path, "extends: gone.yaml\n"))


def test_missing_required_keys_are_named(tmp_path):
    """A scenario without a start says so."""
    path = _write(tmp_path, "scenario: x\ndays: 3\nroster: r.csv\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert (err.value.path, err.value.message) == ("start", "'start' is required")


def test_replay_scenario_reads_its_path_relative_to_the_file(tmp_path):
    """A replay stream's path is relative to the scenario file."""
    (tmp_path / "leads.csv").write_text("lead_id\n")
    path = _write(tmp_path, BASE + "stream:\n  kind: replay\n  path: leads.csv\n")
    sc = load_scenario(path)
    assert isinstance(sc.stream, ReplayStreamParams)
    assert sc.stream.path == (tmp_path / "leads.csv").resolve()


def test_every_problem_of_a_file_is_listed_at_once(tmp_path):
    """Three mistakes in one file: the first is the error's path, all three are in the
    message."""
    scenario = _write(tmp_path, BASE + "days: ten\nworld:\n  respnse: {}\n"
                                       "stream:\n  leads_per_day: many\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(scenario)
    assert err.value.path == "days"
    text = str(err.value)
    assert "world.respnse: unknown key 'respnse'" in text and "stream.leads_per_day" in text


@pytest.mark.parametrize("extra, local", [
    # the reference starts Monday 2025-03-03 00:00 EST; clocks go forward on 03-09
    ("departures:\n  - {day: 15, skill_rank: 1}\n", "2025-03-18T00:00:00-04:00"),
    ("departures:\n  - {day: 6, skill_rank: 1}\n", "2025-03-09T00:00:00-05:00"),
    ("departures:\n  - {day: 7, skill_rank: 1}\n", "2025-03-10T00:00:00-04:00"),
    ("departures:\n  - {day: 6.5, skill_rank: 1}\n", "2025-03-09T12:00:00-04:00"),
    # in Los Angeles the start is Sunday 21:00: day 15 counts from that local date
    ("timezone: America/Los_Angeles\ndepartures:\n  - {day: 15, skill_rank: 1}\n",
     "2025-03-17T00:00:00-07:00"),
    ("departures:\n  - {at: 2025-03-18T09:30:00-04:00, officer_id: LO001}\n",
     "2025-03-18T09:30:00-04:00"),
])
def test_a_departure_day_is_local_midnight_in_the_scenario_zone(tmp_path, extra, local):
    """``day: N`` is midnight on the wall clock of the scenario's time zone N calendar days
    after the start's local date, across the change to summer time (not N x 24 hours, which
    would be 01:00 after clocks go forward); ``at`` is taken as given."""
    from datetime import datetime

    scenario = load_scenario(_write(tmp_path, BASE + extra))
    assert scenario.departures[0].at == datetime.fromisoformat(local)
