"""Reference data: ZIP code to state, county and timezone; FHFA conforming loan limits.

The tables live in ``data/reference/`` (built by ``scripts/build_reference.py`` from public
files; provenance in ``data/reference/README.md``) and are loaded once per process.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, field
from functools import cache
from operator import itemgetter
from pathlib import Path

from engine.frozen import quick_init

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REFERENCE_DIR = DATA_DIR / "reference"

# Jurisdictions where a property can be and a loan officer can hold an NMLS license:
# the 50 states, DC and the inhabited US territories.
US_STATES = frozenset(
    """AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ
    NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP""".split()
)
# Codes that appear in ZIP tables but are not a property location in the US.
NON_PROPERTY_STATES = {
    "AA": "a military APO/FPO address (Armed Forces Americas)",
    "AE": "a military APO/FPO address (Armed Forces Europe)",
    "AP": "a military APO/FPO address (Armed Forces Pacific)",
    "FM": "the Federated States of Micronesia, not a US jurisdiction",
    "MH": "the Marshall Islands, not a US jurisdiction",
    "PW": "Palau, not a US jurisdiction",
}


@quick_init
@dataclass(frozen=True, slots=True)
class ZipInfo:
    """What a ZIP code tells: state, county FIPS ("" where unknown) and IANA timezone."""

    zip: str
    state: str
    county_fips: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Geography:
    """ZIP lookups and loan limits, read-only after load."""

    zips: dict[str, ZipInfo]
    # (year, county_fips) -> one-unit conforming loan limit in USD
    limits: dict[tuple[int, str], int]
    # (year, state) -> the limit for a county missing from that year's table: the single limit
    # every county of the state shares, or that all of its successor areas share
    state_uniform_limits: dict[tuple[int, str], int]
    limit_years: tuple[int, ...]
    # county FIPS -> state code, for every county of the ZIP and loan-limit tables
    county_states: dict[str, str] = field(default_factory=dict)

    def zip_info(self, zip_code: str) -> ZipInfo | None:
        return self.zips.get(zip_code)

    def county_state(self, county_fips: str) -> str | None:
        """The state a county FIPS code belongs to; None for a code in neither table."""
        return self.county_states.get(county_fips)

    def limit_year(self, year: int) -> int:
        """The table year that applies to a lead of ``year`` (latest table for later years)."""
        for y in reversed(self.limit_years):
            if y <= year:
                return y
        return self.limit_years[0]

    def conforming_limit_usd(self, year: int, state: str, county_fips: str) -> int | None:
        """One-unit conforming limit for a county and year; None when it cannot be known."""
        y = self.limit_year(year)
        if county_fips:
            found = self.limits.get((y, county_fips))
            if found is not None:
                return found
        return self.state_uniform_limits.get((y, state))


@cache
def load_geography(reference_dir: Path = REFERENCE_DIR) -> Geography:
    """Load the reference tables (cached: the first call costs about 0.1 s)."""
    zips: dict[str, ZipInfo] = {}
    with gzip.open(reference_dir / "zips.csv.gz", "rt", newline="") as fh:
        rows = csv.reader(fh)  # by position, not a dict a row: 43,000 rows at every start
        columns = next(rows)
        cells = itemgetter(*[columns.index(c) for c in ("zip", "state", "county_fips",
                                                        "timezone")])
        for row in rows:
            if not row:  # a blank line, which DictReader skipped too
                continue
            code, state, county, tz = cells(row)
            zips[code] = ZipInfo(code, state, county, tz)
    county_states = {z.county_fips: z.state for z in zips.values() if z.county_fips}
    limits: dict[tuple[int, str], int] = {}
    by_state: dict[tuple[int, str], set[int]] = {}
    with open(reference_dir / "loan_limits.csv", newline="") as fh:
        rows = csv.reader(fh)
        columns = next(rows)
        cells = itemgetter(*[columns.index(c) for c in ("year", "one_unit_limit_usd",
                                                        "county_fips", "state")])
        for row in rows:
            if not row:
                continue
            year_text, limit_text, county, state = cells(row)
            year, limit = int(year_text), int(limit_text)
            limits[(year, county)] = limit
            by_state.setdefault((year, state), set()).add(limit)
            county_states[county] = state
    uniform = {key: next(iter(vals)) for key, vals in by_state.items() if len(vals) == 1}
    # Areas in the limit table that are not counties of the ZIP table are successors of old
    # counties (Connecticut's planning regions replaced its counties in 2022; FHFA lists the
    # regions from 2025, the ZIP table still has counties). When a state's successor areas
    # share one limit, an old county of that state takes it.
    zip_counties = {z.county_fips for z in zips.values() if z.county_fips}
    successors: dict[tuple[int, str], set[int]] = {}
    for (year, fips), limit in limits.items():
        if fips not in zip_counties:
            successors.setdefault((year, county_states[fips]), set()).add(limit)
    for key, vals in successors.items():
        if len(vals) == 1:
            uniform[key] = next(iter(vals))
    years = tuple(sorted({y for y, _ in limits}))
    return Geography(zips, limits, uniform, years, county_states)
