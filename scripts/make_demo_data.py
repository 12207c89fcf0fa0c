"""Make the demo roster and leads in data/demo/ (seeded; the output is committed).

``python scripts/make_demo_data.py [--leads N] [--officers M] [--seed S] [--out DIR]``.
Benchmarks call ``make_roster`` and ``make_leads`` for larger sizes. Names, emails and phones
are synthetic (555-01xx numbers are reserved for fiction; example.com is reserved).
"""

from __future__ import annotations

import argparse
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
STATE_TZ = {
    "CA": "America/Los_Angeles",
    "TX": "America/Chicago",
    "FL": "America/New_York",
    "NY": "America/New_York",
    "IL": "America/Chicago",
    "PA": "America/New_York",
    "OH": "America/New_York",
    "GA": "America/New_York",
    "NC": "America/New_York",
    "AZ": "America/Phoenix",
    "WA": "America/Los_Angeles",
    "CO": "America/Denver",
}
LANGS = ["es", "zh", "vi", "ko", "tl"]
SPECIALTIES = ["va", "fha", "usda", "jumbo", "reverse", "first_time_buyer", "non_qm"]
FIRST = [
    "Alex",
    "Blair",
    "Casey",
    "Drew",
    "Emery",
    "Finley",
    "Gray",
    "Harper",
    "Indy",
    "Jordan",
    "Kai",
    "Logan",
    "Morgan",
    "Noel",
    "Oakley",
    "Parker",
    "Quinn",
    "Reese",
    "Sage",
    "Taylor",
]
LAST = ["Able", "Brook", "Cole", "Dale", "Ellis", "Ford", "Gale", "Hale", "Irwin", "Jude"]


def make_roster(n: int, rng: np.random.Generator, states_per_officer: int = 4) -> pd.DataFrame:
    states = list(STATE_TZ)
    rows = []
    for i in range(n):
        home = states[i % len(states)]
        others = rng.choice(
            [s for s in states if s != home], size=states_per_officer - 1, replace=False
        )
        lic = [home, *others]
        if rng.random() < 0.1:  # some licenses carry an expiry date
            lic[-1] = f"{lic[-1]}:2027-06-30"
        langs = ["en"] + ([str(rng.choice(LANGS))] if rng.random() < 0.25 else [])
        specs = sorted(set(rng.choice(SPECIALTIES, size=rng.integers(0, 3), replace=False)))
        hours = (
            "Mon-Fri 08:00-18:00" if rng.random() < 0.7 else "Mon-Fri 09:00-17:00;Sat 09:00-13:00"
        )
        rows.append(
            {
                "officer_id": f"LO{i + 1:04d}",
                "name": f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}",
                "nmls_id": str(100000 + i * 7),
                "licensed_states": ";".join(lic),
                "languages": ";".join(langs),
                "specialties": ";".join(specs),
                "max_open": int(rng.choice([40, 60, 80])),
                "daily_cap": int(rng.choice([15, 20, 25])),
                "hourly_cap": int(rng.choice([4, 6])) if rng.random() < 0.5 else "",
                "timezone": STATE_TZ[home],
                "work_hours": hours,
                "weight": float(rng.choice([1.0, 1.0, 1.0, 2.0, 0.5])),
                "team": f"team-{home.lower()}",
                "status": "away" if rng.random() < 0.03 else "active",
                "email": f"lo{i + 1:04d}@lender.example.com",
                "phone": f"+1202555{(i % 100):04d}" if i < 100 else "",
                "notify": "email;sms" if i < 100 else "email",
                "backup_officer_id": f"LO{((i + 1) % n) + 1:04d}" if n > 1 else "",
            }
        )
    return pd.DataFrame(rows)


def make_leads(
    n: int,
    rng: np.random.Generator,
    start: datetime | None = None,
    zips: pd.DataFrame | None = None,
) -> pd.DataFrame:
    start = start or datetime(2025, 3, 3, 5, 0, tzinfo=UTC)  # 00:00 US Eastern
    if zips is None:
        zips = pd.read_csv(
            ROOT / "data" / "reference" / "zips.csv.gz", dtype=str, keep_default_na=False
        )
    pool = zips[zips["state"].isin(list(STATE_TZ)) & (zips["county_fips"] != "")]["zip"].to_numpy()
    # arrivals over 30 days: by hour of day (US Eastern, peaks at lunch and evening) and
    # weekday (weekends about half as busy)
    hourly = np.array(
        [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 4, 6, 7, 7, 8, 7, 7, 6, 6, 6, 7, 8, 7, 5, 3, 2],
        dtype=float,
    )
    days = np.arange(30)
    weekday_w = np.where((days + start.weekday()) % 7 >= 5, 0.5, 1.0)
    weights = (weekday_w[:, None] * hourly[None, :]).ravel()
    slot = rng.choice(len(weights), size=n, p=weights / weights.sum())
    seconds = np.sort(slot * 3600 + rng.uniform(0, 3600, size=n))
    programs = rng.choice(
        ["conventional", "fha", "va", "usda", "non_qm", "reverse"],
        size=n,
        p=[0.62, 0.18, 0.1, 0.03, 0.04, 0.03],
    )
    purposes = rng.choice(
        ["purchase", "refinance", "cash_out_refinance", "home_equity"],
        size=n,
        p=[0.55, 0.25, 0.15, 0.05],
    )
    purposes = np.where(programs == "reverse", "reverse", purposes)
    amounts = np.round(np.exp(rng.normal(12.8, 0.55, size=n)), -3)
    ltv = rng.uniform(0.55, 0.97, size=n)
    sources = rng.choice(
        ["facebook", "google_ads", "zillow", "bankrate", "web_form", "referral"],
        size=n,
        p=[0.25, 0.25, 0.15, 0.1, 0.15, 0.1],
    )
    lang = np.where(rng.random(n) < 0.12, rng.choice(LANGS, size=n), "en")
    rows = []
    for i in range(n):
        at = start + timedelta(seconds=float(seconds[i]))
        rows.append(
            {
                "lead_id": f"D{i + 1:07d}",
                "received_at": at.isoformat(timespec="seconds"),
                "source": sources[i],
                "first_name": FIRST[i % len(FIRST)],
                "last_name": LAST[i % len(LAST)],
                "email": f"borrower{i + 1}@example.com",
                "phone": f"+1312555{(i % 100):04d}",
                "zip": str(rng.choice(pool)),
                "loan_purpose": purposes[i],
                "loan_program": programs[i],
                "loan_amount": int(amounts[i]),
                "property_value": int(amounts[i] / ltv[i]),
                "credit_score": int(np.clip(rng.normal(715, 55), 500, 850)),
                "language": lang[i],
                "is_veteran": "true" if programs[i] == "va" or rng.random() < 0.03 else "false",
                "campaign": f"{sources[i]}-q1",
                "first_time_buyer": "true"
                if purposes[i] == "purchase" and rng.random() < 0.4
                else "false",
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--officers", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "demo")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    make_roster(args.officers, rng).to_csv(
        args.out / "officers.csv", index=False, quoting=csv.QUOTE_MINIMAL
    )
    make_leads(args.leads, rng).to_csv(args.out / "leads.csv", index=False)
    print(f"wrote {args.out}/officers.csv and leads.csv")


if __name__ == "__main__":
    main()
