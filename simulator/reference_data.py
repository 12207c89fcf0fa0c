"""Builds the shipped reference roster (data/scenarios/reference_officers.csv), seeded.

``python -m simulator.reference_data --out data/scenarios/reference_officers.csv``

A mid-size lender: 60 officers based in 12 states (in proportion to the states' HMDA
applications), each licensed at home and in two to four more states, working weekdays in
their own timezone (a third also Saturday mornings), with daily caps set so that the whole
team's weekly capacity is about 1.1 times the reference scenario's weekly volume. Names are
role labels, contact details are reserved fictional ranges (example.com, 202-555-01xx).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from engine.roster import OFFICER_COLUMNS

STATES = ("CA", "TX", "FL", "NY", "IL", "PA", "OH", "GA", "NC", "AZ", "WA", "CO")
HOME_COUNTS = (11, 8, 7, 4, 4, 4, 3, 4, 3, 4, 4, 4)  # ~ HMDA 2017 applications of the 12
TIMEZONES = {"CA": "America/Los_Angeles", "WA": "America/Los_Angeles", "AZ": "America/Phoenix",
             "CO": "America/Denver", "TX": "America/Chicago", "IL": "America/Chicago"}
# (specialty, officers) and (language, home states it is found in)
SPECIALTIES = (("va", 8), ("fha", 6), ("jumbo", 5), ("first_time_buyer", 6), ("reverse", 3),
               ("non_qm", 3), ("usda", 2))
LANGUAGES = (("es", ("CA", "TX", "FL", "AZ", "CA", "TX", "FL", "CA", "IL", "NY")),
             ("zh", ("CA", "NY")), ("vi", ("CA", "TX")), ("ko", ("CA",)), ("tl", ("CA",)))


def make_reference_roster(seed: int = 20250303) -> list[dict[str, str]]:
    """The 60 officer rows (``leadroute route`` roster columns), deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    homes = [s for s, n in zip(STATES, HOME_COUNTS, strict=True) for _ in range(n)]
    m = len(homes)
    share = np.array(HOME_COUNTS, dtype=float) / sum(HOME_COUNTS)
    specialties: list[list[str]] = [[] for _ in range(m)]
    for name, count in SPECIALTIES:
        for i in rng.choice(m, size=count, replace=False):
            specialties[int(i)].append(name)
    languages: list[list[str]] = [["en"] for _ in range(m)]
    for lang, places in LANGUAGES:
        for place in places:
            free = [i for i in range(m) if homes[i] == place and len(languages[i]) == 1]
            if free:
                languages[int(rng.choice(free))].append(lang)
    saturday = set(rng.choice(m, size=m // 3, replace=False).tolist())
    rows: list[dict[str, str]] = []
    for i, home in enumerate(homes):
        others = [s for s in STATES if s != home]
        w = np.array([share[STATES.index(s)] for s in others])
        extra = rng.choice(others, size=int(rng.integers(2, 5)), replace=False, p=w / w.sum())
        licensed = [home, *sorted(str(s) for s in extra)]
        tier = rng.choice(["junior", "regular", "senior"], p=[0.2, 0.6, 0.2])
        daily = {"junior": 5, "regular": 7, "senior": 8}[tier]
        weight = {"junior": 0.75, "regular": 1.0, "senior": 1.5}[tier]
        max_open = {"junior": 40, "regular": 60, "senior": 80}[tier]
        hours = "Mon-Fri 08:00-18:00" + (";Sat 09:00-13:00" if i in saturday else "")
        same_home = [j for j in range(m) if homes[j] == home and j != i]
        backup = same_home[0] if same_home else (i + 1) % m
        rows.append({
            "officer_id": f"LO{i + 1:03d}",
            "name": f"Loan officer {i + 1:02d} ({home})",
            "nmls_id": str(2_100_000 + 37 * i),
            "licensed_states": ";".join(licensed),
            "languages": ";".join(languages[i]),
            "specialties": ";".join(sorted(specialties[i])),
            "max_open": str(max_open),
            "daily_cap": str(daily),
            "hourly_cap": "3" if rng.random() < 0.35 else "",
            "timezone": TIMEZONES.get(home, "America/New_York"),
            "work_hours": hours,
            "weight": str(weight),
            "team": f"team-{home.lower()}",
            "status": "active",
            "email": f"lo{i + 1:03d}@lender.example.com",
            "phone": f"+1202555{100 + i:04d}" if i % 5 else "",
            "notify": "email;sms" if i % 5 else "email",
            "backup_officer_id": f"LO{backup + 1:03d}",
        })
    return rows


def weekly_capacity(rows: list[dict[str, str]]) -> int:
    """Leads the team can take in a week under daily caps (a day worked counts one cap)."""
    total = 0
    for row in rows:
        days = 5 + (1 if "Sat" in row["work_hours"] else 0)
        total += int(row["daily_cap"]) * days
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("data/scenarios/reference_officers.csv"))
    parser.add_argument("--seed", type=int, default=20250303)
    args = parser.parse_args()
    rows = make_reference_roster(args.seed)
    with open(args.out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*OFFICER_COLUMNS, "backup_officer_id"])
        writer.writeheader()
        writer.writerows(rows)
    cap = weekly_capacity(rows)
    print(f"wrote {args.out}: {len(rows)} officers, weekly capacity {cap} leads "
          f"({cap / 7:.0f} a day on average)")


if __name__ == "__main__":
    main()
