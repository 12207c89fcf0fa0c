"""Reference data: ZIP look-ups and FHFA conforming loan limits."""

from __future__ import annotations

import csv
import gzip

import pytest

from engine.geo import (
    NON_PROPERTY_STATES,
    REFERENCE_DIR,
    US_STATES,
    Geography,
    ZipInfo,
    load_geography,
)
from engine.roster import zone


@pytest.fixture(scope="module")
def geo() -> Geography:
    return load_geography()


@pytest.mark.parametrize(("zip_code", "info"), [
    ("90012", ZipInfo("90012", "CA", "06037", "America/Los_Angeles")),
    ("75201", ZipInfo("75201", "TX", "48113", "America/Chicago")),
    ("02134", ZipInfo("02134", "MA", "25025", "America/New_York")),
    ("60601", ZipInfo("60601", "IL", "17031", "America/Chicago")),
    ("96941", ZipInfo("96941", "FM", "", "Pacific/Chuuk")),
])
def test_zip_info_gives_state_county_timezone(geo, zip_code, info):
    """A known ZIP gives its state, county FIPS and IANA timezone; leading zeros are kept."""
    assert geo.zip_info(zip_code) == info


@pytest.mark.parametrize("zip_code", ["00000", "2134", "99999", "", "75201-1234"])
def test_zip_info_unknown_is_none(geo, zip_code):
    """An unknown or malformed ZIP gives None (the caller reports it)."""
    assert geo.zip_info(zip_code) is None


@pytest.mark.parametrize(("year", "table"), [
    (2020, 2024), (2023, 2024), (2024, 2024), (2025, 2025), (2026, 2025), (2040, 2025),
])
def test_limit_year_latest_table_for_later_years(geo, year, table):
    """A year uses its own table, the latest for later years, the earliest for earlier ones."""
    assert geo.limit_years == (2024, 2025)
    assert geo.limit_year(year) == table


@pytest.mark.parametrize(("year", "state", "county", "limit"), [
    (2025, "CA", "06037", 1_209_750),  # Los Angeles: high-cost ceiling
    (2024, "CA", "06037", 1_149_825),
    (2026, "CA", "06037", 1_209_750),
    (2025, "TX", "48113", 806_500),  # Dallas: baseline
    (2024, "TX", "48113", 766_550),
    (2025, "TX", "", 806_500),  # no county: every Texas county shares the limit
    (2025, "AK", "", 1_209_750),  # Alaska's baseline is the high-cost ceiling
    (2025, "TX", "99999", 806_500),  # unknown county: the state's shared limit
    (2025, "CA", "", None),  # California counties differ: unknown
    (2025, "CA", "06999", None),
])
def test_conforming_limit_by_county_then_uniform_state(geo, year, state, county, limit):
    """The county's one-unit limit, else the state's when all its counties share one, else
    None."""
    assert geo.conforming_limit_usd(year, state, county) == limit


@pytest.mark.parametrize(("county", "state"), [
    ("06037", "CA"), ("48113", "TX"), ("11001", "DC"), ("09190", "CT"), ("09003", "CT"),
    ("72127", "PR"), ("06999", None), ("", None),
])
def test_county_state_from_county_tables(geo, county, state):
    """A county FIPS code maps to its state (old and new Connecticut codes alike); an unknown
    code to None."""
    assert geo.county_state(county) == state


def test_county_state_agrees_with_zip_table(geo):
    """Every ZIP's county belongs to the ZIP's state."""
    for info in geo.zips.values():
        if info.county_fips:
            assert geo.county_state(info.county_fips) == info.state, info


def test_state_codes_property_and_non_property_are_disjoint():
    """No code is both a property jurisdiction and a refused (military, freely associated)
    one."""
    assert not US_STATES & set(NON_PROPERTY_STATES)
    assert {"AA", "AE", "AP", "FM", "MH", "PW"} == set(NON_PROPERTY_STATES)
    assert len(US_STATES) == 56  # 50 states, DC and 5 inhabited territories


def test_every_zip_state_is_known(geo):
    """Every ZIP's state is either a property jurisdiction or a refused code."""
    states = {info.state for info in geo.zips.values()}
    assert states <= US_STATES | set(NON_PROPERTY_STATES)
    assert states >= {"CA", "TX", "NY", "DC", "PR", "AE", "FM"}


def test_every_property_zip_has_a_valid_timezone(geo):
    """Every ZIP where a property can be has an IANA timezone the engine can load."""
    zones = {info.timezone for info in geo.zips.values() if info.state in US_STATES}
    assert "" not in zones
    for name in zones:
        zone(name)  # raises for an unknown name


def test_every_limit_lies_between_baseline_and_ceiling(geo):
    """FHFA one-unit limits lie between the year's baseline and its high-cost ceiling."""
    bounds = {2024: (766_550, 1_149_825), 2025: (806_500, 1_209_750)}
    assert {year for year, _ in geo.limits} == set(bounds)
    for (year, county), limit in geo.limits.items():
        low, high = bounds[year]
        assert low <= limit <= high, (year, county, limit)


def test_every_property_zip_county_has_a_limit_outside_connecticut(geo):
    """Each county a property ZIP names has a limit in every table year (Connecticut aside)."""
    missing = {(year, info.state, info.county_fips)
               for info in geo.zips.values() if info.county_fips and info.state != "CT"
               for year in geo.limit_years if (year, info.county_fips) not in geo.limits}
    assert missing == set()


def test_connecticut_zips_have_a_2025_limit(geo):
    """FHFA 2025 lists Connecticut by planning region; an old county (Hartford, 09003) takes
    the limit its successor regions share, and Fairfield keeps its own listed limit."""
    assert geo.conforming_limit_usd(2025, "CT", geo.zip_info("06103").county_fips) == 806_500
    assert geo.conforming_limit_usd(2025, "CT", "09001") == 851_000
    assert geo.conforming_limit_usd(2024, "CT", "09003") == 766_550


def test_the_tables_read_alike_with_blank_lines_and_other_column_orders(geo, tmp_path):
    """The tables are read by their header's column names, whatever the order, and a blank
    line is skipped: the same geography."""
    with gzip.open(REFERENCE_DIR / "zips.csv.gz", "rt", newline="") as fh:
        zips = list(csv.reader(fh))
    with open(REFERENCE_DIR / "loan_limits.csv", newline="") as fh:
        limits = list(csv.reader(fh))
    with gzip.open(tmp_path / "zips.csv.gz", "wt", newline="") as fh:
        writer = csv.writer(fh)
        for k, row in enumerate(zips):
            writer.writerow(row[::-1])
            if k == 5:
                fh.write("\r\n")
    with open(tmp_path / "loan_limits.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerows(row[::-1] for row in limits)
        fh.write("\r\n")
    copy = load_geography(tmp_path)
    assert copy.zips == geo.zips and copy.limits == geo.limits
    assert copy.state_uniform_limits == geo.state_uniform_limits
    assert copy.limit_years == geo.limit_years and copy.county_states == geo.county_states
