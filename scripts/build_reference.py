"""Build the reference tables in data/reference/ from the raw public files in ../shared/data.

Run from the project root: ``python scripts/build_reference.py [--shared ../shared/data]``.
The output is committed; this script documents and repeats exactly what was done to the raw
files (see data/reference/README.md for the provenance and every correction).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parent.parent / "data" / "reference"

# Corrections to the raw ZIP table, each with its reason (also listed in the README).
_TZ_FIXES = {"Napakiak": "America/Anchorage"}  # a town name in the timezone column (Alaska)
_DC_COUNTY_FIPS = "11001"  # DC is one county-equivalent; 21 DC rows lack it


def build_zips(shared: Path) -> pd.DataFrame:
    raw = pd.read_csv(
        shared / "geo" / "zip_state_county_fips.csv",
        dtype={"zip": str, "county_fips": str},
        keep_default_na=False,
    )
    df = raw[["zip", "state", "county_fips", "timezone"]].copy()
    df["zip"] = df["zip"].str.zfill(5)
    df["timezone"] = df["timezone"].replace(_TZ_FIXES)
    df.loc[(df["state"] == "DC") & (df["county_fips"] == ""), "county_fips"] = _DC_COUNTY_FIPS
    # A blank timezone gets its state's most common one.
    common_tz = (
        df[df["timezone"] != ""].groupby("state")["timezone"].agg(lambda s: s.mode().iloc[0])
    )
    blank = df["timezone"] == ""
    df.loc[blank, "timezone"] = df.loc[blank, "state"].map(common_tz).fillna("")
    df["county_fips"] = df["county_fips"].where(
        df["county_fips"] == "", df["county_fips"].str.zfill(5)
    )
    return df.sort_values("zip").reset_index(drop=True)


def build_limits(shared: Path) -> pd.DataFrame:
    frames = []
    for year in (2024, 2025):
        raw = pd.read_csv(
            shared / "hmda" / f"FullCountyLoanLimitList{year}.txt",
            sep="|",
            dtype=str,
        )
        frames.append(
            pd.DataFrame(
                {
                    "year": year,
                    "county_fips": raw["FIPSStateCode"].str.zfill(2)
                    + raw["FIPSCountyCode"].str.zfill(3),
                    "state": raw["State"],
                    "one_unit_limit_usd": raw["One-UnitLimit"].astype(int),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    build_zips(args.shared).to_csv(OUT / "zips.csv.gz", index=False)
    build_limits(args.shared).to_csv(OUT / "loan_limits.csv", index=False)
    print(f"wrote {OUT / 'zips.csv.gz'} and {OUT / 'loan_limits.csv'}")


if __name__ == "__main__":
    main()
