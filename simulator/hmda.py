"""Facts from the HMDA aggregates in data/hmda (provenance in data/hmda/README.md).

The synthetic lead stream draws its loan-program mix (national, by loan type), its state mix
(applications by state), purpose mix by state and average loan amount by state and purpose
from these tables, for one year of the 2007-2017 aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from engine.geo import DATA_DIR, load_geography

HMDA_DIR = DATA_DIR / "hmda"
# HMDA loan_type codes -> the engine's loan programs (4 is FSA/RHS, i.e. USDA rural housing)
LOAN_TYPES = {1: "conventional", 2: "fha", 3: "va", 4: "usda"}
# pre-2018 HMDA loan_purpose codes
PURCHASE, HOME_IMPROVEMENT, REFINANCE = 1, 2, 3


@dataclass(frozen=True)
class HmdaFacts:
    """One year of HMDA facts.

    program_mix: national share of records by program (conventional, fha, va, usda).
    state_applications: applications by state code (metro areas only).
    purpose_share: by state, share of applications by purpose code (1, 2, 3).
    avg_amount_usd: by (state, purpose code), application-weighted average loan amount, USD.
    """

    year: int
    program_mix: Mapping[str, float]
    state_applications: Mapping[str, float]
    purpose_share: Mapping[str, Mapping[int, float]]
    avg_amount_usd: Mapping[tuple[str, int], float]


def _state_codes() -> dict[int, str]:
    """State FIPS number -> postal code, from the engine's ZIP table (no second copy)."""
    out: dict[int, str] = {}
    for info in load_geography().zips.values():
        if info.county_fips:
            out.setdefault(int(info.county_fips[:2]), info.state)
    return out


@cache
def load_hmda(year: int = 2017, data_dir: Path = HMDA_DIR) -> HmdaFacts:
    """The facts of ``year`` (cached). Raises ValueError for a year the files do not hold."""
    types = pd.read_csv(data_dir / "agg_viz_loan_type.csv")
    types = types[types["year"] == year]
    if types.empty:
        raise ValueError(f"agg_viz_loan_type.csv has no year {year}; it covers "
                         "2007-2017")
    counts = {LOAN_TYPES[int(t)]: float(c) for t, c in zip(types["loan_type"], types["count"],
                                                           strict=True) if int(t) in LOAN_TYPES}
    total = sum(counts.values())
    program_mix = {k: v / total for k, v in counts.items()}

    agg = pd.read_csv(data_dir / "agg_hmda_unified_agg_2007_2017.csv")
    agg = agg[agg["as_of_year"] == year]
    codes = _state_codes()
    agg = agg.assign(state=agg["state_code"].astype(int).map(codes)).dropna(subset=["state"])
    agg = agg.assign(amount_sum=agg["avg_loan_amount_000s"] * 1000.0 * agg["total_applications"])
    grouped = agg.groupby(["state", "loan_purpose"])[["total_applications", "amount_sum"]].sum()
    state_apps: dict[str, float] = {}
    purpose: dict[str, dict[int, float]] = {}
    amount: dict[tuple[str, int], float] = {}
    for key, row in grouped.iterrows():
        state, code = str(key[0]), int(key[1])  # type: ignore[index]
        apps = float(row["total_applications"])
        state_apps[state] = state_apps.get(state, 0.0) + apps
        purpose.setdefault(state, {})[code] = apps
        if apps > 0:
            amount[(state, code)] = float(row["amount_sum"]) / apps
    for state, by_code in purpose.items():
        s = sum(by_code.values())
        purpose[state] = {k: v / s for k, v in by_code.items()}
    return HmdaFacts(year, program_mix, state_apps, purpose, amount)
