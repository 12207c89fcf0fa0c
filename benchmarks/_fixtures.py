"""Shared benchmark inputs: large rosters, lead files and a 30-rule policy (seeded)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.make_demo_data import STATE_TZ, make_leads, make_roster  # noqa: E402

STATES = list(STATE_TZ)


def roster_frame(n: int, seed: int = 1) -> pd.DataFrame:
    return make_roster(n, np.random.default_rng(seed))


def leads_frame(n: int, seed: int = 2, unique_contacts: bool = True) -> pd.DataFrame:
    df = make_leads(n, np.random.default_rng(seed))
    if unique_contacts:  # real files rarely repeat a phone or email: defeat the caches
        idx = np.arange(n)
        df["email"] = [f"b{i}.x{i % 97}@mail{i % 13}.example.com" for i in idx]
        area = np.array(["312", "415", "212", "713", "305", "602", "206", "303"])
        df["phone"] = [
            f"({area[i % 8]}) {200 + (i // 10000) % 700:03d}-{i % 10000:04d}" for i in idx
        ]
    return df


def thirty_rule_policy() -> str:
    """A 30-rule policy over many fields and operators (YAML text)."""
    rules = []
    for k in range(26):
        s1, s2 = STATES[k % len(STATES)], STATES[(k + 3) % len(STATES)]
        kind = k % 6
        if kind == 0:
            cond = f"{{all: [{{field: state, in: [{s1}, {s2}]}}, {{field: loan_amount, gt: {900000 + k}}}]}}"
        elif kind == 1:
            cond = f"{{all: [{{field: source, eq: vendor{k}}}, {{field: credit_score, between: [600, {700 + k}]}}]}}"
        elif kind == 2:
            cond = f"{{field: zip, starts_with: ['{k:03d}', '{k + 100:03d}']}}"
        elif kind == 3:
            cond = f"{{any: [{{field: campaign, eq: camp{k}}}, {{all: [{{field: ltv, gt: 0.97}}, {{field: state, eq: {s1}}}]}}]}}"
        elif kind == 4:
            cond = f"{{not: {{field: local_hour, between: [{k // 6}, 23]}}}}"
        else:
            cond = f"{{all: [{{field: credit_score, missing: true}}, {{field: state, eq: {s2}}}, {{field: loan_purpose, eq: home_equity}}, {{field: loan_amount, gt: {k}}}]}}"
        rules.append(
            f"  - name: r{k}\n    if: {cond}\n    then: {{pool: team_{s1.lower()}, fallback: [main]}}"
        )
    rules.append(
        "  - name: va\n    if: {any: [{field: loan_program, eq: va}, {field: is_veteran, eq: true}]}\n"
        "    then: {pool: va, fallback: [main], priority: high}"
    )
    rules.append(
        "  - name: reverse\n    if: {field: loan_program, eq: reverse}\n    then: {pool: reverse, fallback: [main]}"
    )
    rules.append(
        "  - name: jumbo\n    if: {field: is_jumbo, eq: true}\n    then: {pool: jumbo, fallback: [main]}"
    )
    rules.append(
        "  - name: language\n    if: {field: language, ne: en}\n"
        "    then: {pool: main, match_lead_language: true, fallback: [main]}"
    )
    pools = [
        "  main: {everyone: true}",
        "  va: {specialties: [va]}",
        "  reverse: {specialties: [reverse]}",
        "  jumbo: {specialties: [jumbo]}",
    ]
    pools += [f"  team_{s.lower()}: {{teams: [team-{s.lower()}]}}" for s in STATES]
    return (
        "policy: bench30\nversion: 1\nrouting: {method: weighted_round_robin}\npools:\n"
        + "\n".join(pools)
        + "\nrules:\n"
        + "\n".join(rules)
        + "\nelse: {pool: main}\n"
    )
