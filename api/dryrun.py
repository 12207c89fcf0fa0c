"""What a policy would have done with the last stored leads: both the routing policy and
the candidate replay the same leads, in the order and at the moments they arrived, from the
same empty state, through the engine's lifecycle (a replay has nobody to answer: the first
officer offered accepts at once, as in ``leadroute route``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from api.runtime import Routing
from engine.domain import Lead
from engine.lifecycle import Lifecycle
from engine.roster import Roster
from engine.store import MemoryStore


def replay(leads: list[Lead], times: list[datetime], roster: Roster, routing: Routing
           ) -> list[dict[str, Any]]:
    """Each lead's first decision under ``routing``: status, officer and who was offered."""
    life = Lifecycle.for_policy(roster, routing.policy, scorer=routing.scorer)
    store = MemoryStore.empty(roster.ids_tuple)
    state = store.state
    out = []
    for lead, now in zip(leads, times, strict=True):
        step = life.arrive(lead, state, now)
        store.apply(step.effects)
        offer = step.case.offer
        if offer is not None:
            store.apply(life.accept(step.case, lead, offer.officer_ids[0], state, now).effects)
        d = step.decision
        out.append({
            "status": step.case.stage.value if d is None else d.status.value,
            "officer_id": None if d is None else d.officer_id,
            "offered": [] if d is None or d.offer is None else list(d.offer.officer_ids),
            "reason": "" if d is None else d.reason})
    return out


def compare(ids: list[int], stored: list[dict[str, Any]], current: list[dict[str, Any]],
            candidate: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Lead by lead, and counts: how many changed (status or officers offered), the
    statuses under each, and per officer the leads gained or lost."""
    rows: list[dict[str, Any]] = []
    gained: Counter[str] = Counter()
    for i, s, c, k in zip(ids, stored, current, candidate, strict=True):
        changed = (c["status"], c["offered"]) != (k["status"], k["offered"])
        rows.append({"id": i, "stored": s, "current": c, "candidate": k, "changed": changed})
        if changed:
            for o in c["offered"][:1]:
                gained[o] -= 1
            for o in k["offered"][:1]:
                gained[o] += 1
    counts = {
        "leads": len(rows), "changed": sum(bool(r["changed"]) for r in rows),
        "current": dict(Counter(r["current"]["status"] for r in rows)),
        "candidate": dict(Counter(r["candidate"]["status"] for r in rows)),
        "first_offered_change": {o: n for o, n in sorted(gained.items()) if n},
    }
    return rows, counts
