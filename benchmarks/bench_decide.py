"""One decision against 1,000 officers under a 30-rule policy: p50 and p99 latency.

Target: p99 <= 1 ms. The explanation is built as arrays; turning it into a dict (as the route
command does for every lead) is timed separately. Run: ``python benchmarks/bench_decide.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _fixtures import leads_frame, roster_frame, thirty_rule_policy

from engine.decide import decide
from engine.leads import LeadParser
from engine.roster import Roster, parse_officers
from engine.rules import parse_policy
from engine.state import RoutingState


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--officers", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=5000)
    args = parser.parse_args()
    roster = Roster(parse_officers(roster_frame(args.officers).astype(str).replace("nan", "")
                                   .to_dict("records")))
    policy = parse_policy(thirty_rule_policy())
    lp = LeadParser.default()
    leads = [lp.parse(r) for r in leads_frame(args.leads).astype(str).to_dict("records")]
    leads.sort(key=lambda x: x.received_at)
    state = RoutingState.empty(roster.ids_tuple)
    for lead in leads[:200]:  # warm caches (pool masks, zones)
        decide(lead, roster, policy, state, lead.received_at)
    decide_s, explain_s = [], []
    for lead in leads:
        t0 = time.perf_counter()
        d = decide(lead, roster, policy, state, lead.received_at)
        t1 = time.perf_counter()
        d.explanation.to_dict()
        t2 = time.perf_counter()
        state.apply(d.state_delta)
        decide_s.append(t1 - t0)
        explain_s.append(t2 - t1)
    ms = np.array(decide_s) * 1e3
    ex = np.array(explain_s) * 1e3
    print(f"decide: {args.officers} officers, {len(policy.rules)} rules, {len(leads)} leads")
    print(f"  decision      p50 {np.percentile(ms, 50):.3f} ms  p99 {np.percentile(ms, 99):.3f} ms"
          f"  (target p99 <= 1 ms)")
    print(f"  explanation   p50 {np.percentile(ex, 50):.3f} ms  p99 {np.percentile(ex, 99):.3f} ms"
          "  (to_dict, full detail)")


if __name__ == "__main__":
    main()
