"""What matching a lead costs: reading its facts and walking a policy's rules
(``engine.decide.lead_match`` without its map), CPU microseconds a lead, over the demo leads.

Run: ``python benchmarks/bench_lead_match.py [--passes 5]``; prints one line per policy and
the load average next to the figures.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._fixtures import thirty_rule_policy  # noqa: E402
from engine.leads import LeadParser  # noqa: E402
from engine.rules.fields import read_facts  # noqa: E402
from engine.rules.policy import load_policy, parse_policy  # noqa: E402


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    leads_parser = LeadParser.default()
    with open(ROOT / "data" / "demo" / "leads.csv", newline="", encoding="utf-8") as fh:
        leads = [leads_parser.parse(row, f"leads.csv row {k}")
                 for k, row in enumerate(csv.DictReader(fh), start=2)]
    policies = {"data/policies/default.yaml": load_policy(ROOT / "data/policies/default.yaml"),
                "benchmarks/_fixtures.py 30 rules": parse_policy(thirty_rule_policy())}
    print(f"{len(leads)} leads, {args.passes} passes; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, policy in policies.items():
        start = _cpu_s()
        for _ in range(args.passes):
            for lead in leads:
                facts, _notes = read_facts(lead, policy.builtin_fields, policy.custom_fields)
                policy.match(facts)
        per_lead = (_cpu_s() - start) / (args.passes * len(leads)) * 1e6
        print(f"  {name:<36} {per_lead:6.1f} us CPU a lead")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
