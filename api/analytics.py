"""Analytics over the stored leads (``GET /v1/analytics/...``): speed to lead, the funnel,
SLA breaches and re-routes, workload and fairness, assignment accuracy and cost per funded
loan. Each report is a list of plain rows (``{"items": [...]}``, keys in ``COLUMNS``), so
the lab and a spreadsheet (``?format=csv``) read the same thing. Leads flagged ``is_test``
are left out everywhere. Times are seconds; money is US dollars.

The computations take rows already read from the database and return rows: no SQL here
beyond ``load_leads`` and ``load_events``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Lead as LeadRow
from api.models import LeadEvent, LeadOfficer, OfficerState
from engine.domain import Lead
from engine.roster import Roster
from engine.scoring.features import MATCHED_SPECIALTIES, specialty_needs

NONE = "(none)"
COLUMNS: dict[str, tuple[str, ...]] = {
    "speed-to-lead": ("group", "leads", "accepted", "accept_median_s", "accept_p90_s",
                      "contacted", "contact_median_s", "contact_p90_s"),
    "funnel": ("group", "leads", "assigned", "accepted", "contacted", "application",
               "funded", "lost", "accept_rate", "funded_rate", "funded_amount_usd"),
    "sla": ("group", "leads", "notices", "breaches", "lapsed", "declined", "withdrawn",
            "rerouted_leads", "given_up", "breach_rate"),
    "workload": ("group", "weight", "told", "accepted", "funded", "open_now",
                 "accepted_share", "weight_share", "share_ratio"),
    "accuracy": ("group", "leads", "match_eligible", "reached_match", "accuracy"),
    "cost": ("group", "leads", "cost_per_lead_usd", "cost_usd", "funded",
             "cost_per_funded_usd", "funded_amount_usd"),
}
GROUPS: dict[str, tuple[str, ...]] = {
    "speed-to-lead": ("officer", "source", "hour"),
    "funnel": ("source", "officer"),
    "sla": ("officer", "source"),
    "workload": ("officer",),
    "accuracy": ("need", "source", "officer"),
    "cost": ("source",),
}


@dataclass(frozen=True, slots=True)
class Window:
    """Leads that reached the API (``created_at``) in ``[since, until)``; ``tz`` for hours."""

    since: datetime
    until: datetime
    tz: ZoneInfo


def load_leads(s: Session, w: Window, *, full: bool = False) -> list[Any]:
    cols = [LeadRow.id, LeadRow.source, LeadRow.created_at, LeadRow.assigned_at,
            LeadRow.accepted_at, LeadRow.contacted_at, LeadRow.application_at,
            LeadRow.outcome, LeadRow.funded_amount_cents, LeadRow.officer_id,
            LeadRow.stage]
    if full:
        cols += [LeadRow.explanation, LeadRow.payload, LeadRow.request_sha256]
    return list(s.execute(select(*cols).where(
        LeadRow.created_at >= w.since, LeadRow.created_at < w.until,
        LeadRow.is_test.is_not(True)).order_by(LeadRow.id)).all())


def load_events(s: Session, lead_ids: Sequence[int], kinds: Iterable[str]) -> list[Any]:
    out: list[Any] = []
    kinds = list(kinds)
    for i in range(0, len(lead_ids), 5000):
        out += s.execute(select(LeadEvent.lead_id, LeadEvent.kind, LeadEvent.officer_id,
                                LeadEvent.data)
                         .where(LeadEvent.lead_id.in_(lead_ids[i:i + 5000]),
                                LeadEvent.kind.in_(kinds))
                         .order_by(LeadEvent.id)).all()
    return out


def _q(values: list[float], q: float) -> float | None:
    return None if not values else round(float(np.percentile(values, q)), 3)


def _rate(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 4)


def _key(by: str, w: Window) -> Callable[[Any], str]:
    if by == "officer":
        return lambda r: r.officer_id or NONE
    if by == "source":
        return lambda r: r.source
    return lambda r: f"{r.created_at.astimezone(w.tz).hour:02d}"


def speed_to_lead(rows: list[Any], by: str, w: Window) -> list[dict[str, Any]]:
    """Seconds from the lead reaching the API to its acceptance and to first contact:
    median and 90th percentile (numpy's linear interpolation) per group."""
    key = _key(by, w)
    acc: dict[str, list[float]] = defaultdict(list)
    con: dict[str, list[float]] = defaultdict(list)
    n: dict[str, int] = defaultdict(int)
    for r in rows:
        g = key(r)
        n[g] += 1
        if r.accepted_at is not None:
            acc[g].append((r.accepted_at - r.created_at).total_seconds())
        if r.contacted_at is not None:
            con[g].append((r.contacted_at - r.created_at).total_seconds())
    return [{"group": g, "leads": n[g], "accepted": len(acc[g]),
             "accept_median_s": _q(acc[g], 50), "accept_p90_s": _q(acc[g], 90),
             "contacted": len(con[g]), "contact_median_s": _q(con[g], 50),
             "contact_p90_s": _q(con[g], 90)} for g in sorted(n)]


def funnel(rows: list[Any], told: set[int], by: str, w: Window) -> list[dict[str, Any]]:
    """Leads at each step: assigned (an officer was told of it: assigned or offered; ``told``
    holds those lead ids), accepted, contacted, application, funded, lost; rates over the
    group's leads."""
    key = _key(by, w)
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = out.setdefault(key(r), {c: 0 for c in COLUMNS["funnel"][1:8]} | {"cents": 0})
        d["leads"] += 1
        d["assigned"] += r.id in told or r.accepted_at is not None
        d["accepted"] += r.accepted_at is not None
        d["contacted"] += r.contacted_at is not None
        d["application"] += r.application_at is not None
        d["funded"] += r.outcome == "funded"
        d["lost"] += r.outcome == "lost"
        d["cents"] += r.funded_amount_cents or 0
    items = []
    for g in sorted(out):
        d = out[g]
        cents = d.pop("cents")
        items.append({"group": g, **d, "accept_rate": _rate(d["accepted"], d["leads"]),
                      "funded_rate": _rate(d["funded"], d["leads"]),
                      "funded_amount_usd": round(cents / 100, 2)})
    return items


SLA_KINDS = ("notice", "sla_breach", "lapsed", "declined", "withdrawn", "given_up")


def sla(rows: list[Any], events: list[Any], by: str, w: Window) -> list[dict[str, Any]]:
    """Per officer (the officer each event names) or per source: notices, accept-by breaches,
    cascade steps lapsed, declines, withdrawn offers, leads given up, and leads re-routed
    (assigned to one officer and then to another)."""
    source_of = {r.id: r.source for r in rows}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    leads: dict[str, set[int]] = defaultdict(set)
    assigned_to: dict[int, list[str]] = defaultdict(list)
    for e in events:
        data = e.data or {}
        if e.kind == "notice" and data.get("effect") != "notify":
            continue  # a withdrawal's notice: counted as its "withdrawn" record
        g = (e.officer_id or NONE) if by == "officer" else source_of.get(e.lead_id, NONE)
        name = {"notice": "notices", "sla_breach": "breaches"}.get(e.kind, e.kind)
        counts[g][name] += 1
        leads[g].add(e.lead_id)
        if e.kind == "notice" and data.get("mode") == "assign":
            assigned_to[e.lead_id].append(e.officer_id or NONE)
    rerouted = {lid for lid, who in assigned_to.items() if len(set(who)) > 1}
    if by == "source":
        for r in rows:
            leads[r.source].add(r.id)
    items = []
    for g in sorted(set(counts) | set(leads)):
        c = counts[g]
        items.append({"group": g, "leads": len(leads[g]), "notices": c["notices"],
                      "breaches": c["breaches"], "lapsed": c["lapsed"],
                      "declined": c["declined"], "withdrawn": c["withdrawn"],
                      "rerouted_leads": len(leads[g] & rerouted),
                      "given_up": c["given_up"],
                      "breach_rate": _rate(c["breaches"], c["notices"])})
    return items


def workload(rows: list[Any], events: list[Any], roster: Roster,
             open_now: dict[str, int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per officer on the roster: leads told of, accepted, funded, open now; their share of
    the accepted leads beside their share of the weights (``share_ratio`` 1.0 is exactly
    their weight's share). The summary gives Jain's fairness index of accepted leads per
    unit of weight (1.0: perfectly even) over officers that are active."""
    told: dict[str, set[int]] = defaultdict(set)
    for e in events:
        if e.kind == "notice" and e.officer_id:
            told[e.officer_id].add(e.lead_id)
    accepted: dict[str, int] = defaultdict(int)
    funded: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.accepted_at is not None and r.officer_id:
            accepted[r.officer_id] += 1
            funded[r.officer_id] += r.outcome == "funded"
    weights = {o.officer_id: o.weight for o in roster.officers}
    total_w = sum(weights.values()) or 1.0
    total_a = sum(accepted.values())
    items = []
    per_weight = []
    for oid in sorted(set(weights) | set(accepted)):
        wgt = weights.get(oid, 0.0)
        a_share = _rate(accepted[oid], total_a)
        w_share = round(wgt / total_w, 4) if oid in weights else None
        items.append({"group": oid, "weight": wgt, "told": len(told[oid]),
                      "accepted": accepted[oid], "funded": funded[oid],
                      "open_now": open_now.get(oid, 0), "accepted_share": a_share,
                      "weight_share": w_share,
                      "share_ratio": None if a_share is None or not w_share
                      else round(a_share / w_share, 4)})
        if wgt > 0:
            per_weight.append(accepted[oid] / wgt)
    x = np.asarray(per_weight, dtype=float)
    jain = None if x.size == 0 or not x.any() else round(float(x.sum() ** 2 /
                                                               (x.size * (x**2).sum())), 4)
    return items, {"jain_index": jain, "officers": len(weights), "accepted": total_a}


def _needs(lead: Lead) -> list[str]:
    out = [s.value for s, need in zip(MATCHED_SPECIALTIES, specialty_needs(lead), strict=True)
           if need]
    if lead.language != "en":
        out.append(f"language:{lead.language}")
    return out


def _matches(roster: Roster, officer_id: str, need: str) -> bool:
    i = roster.index.get(officer_id)
    if i is None:
        return False
    o = roster.officers[i]
    if need.startswith("language:"):
        return need.removeprefix("language:") in o.languages
    return any(s.value == need for s in o.specialties)


def accuracy(rows: list[Any], leads: dict[int, Lead], roster: Roster, by: str,
             w: Window) -> list[dict[str, Any]]:
    """For each need a lead has (a specialty such as va or jumbo, or a language other than
    English): of the leads where an officer with that specialty or language was among the
    eligible candidates (the stored explanation's ``candidates``), the share that reached
    one (the lead's officer). ``by``: need, source or officer."""
    key = (lambda r, need: need) if by == "need" else \
        (lambda r, need: r.source) if by == "source" else \
        (lambda r, need: r.officer_id or NONE)
    n: dict[str, set[int]] = defaultdict(set)
    eligible: dict[str, int] = defaultdict(int)
    hit: dict[str, int] = defaultdict(int)
    for r in rows:
        lead = leads.get(r.id)
        if lead is None:
            continue
        candidates = {c for step in (r.explanation or {}).get("steps", [])
                      for c in step.get("candidates", [])}
        for need in _needs(lead):
            g = key(r, need)
            n[g].add(r.id)
            if r.officer_id is None or not any(_matches(roster, c, need) for c in candidates):
                continue
            eligible[g] += 1
            hit[g] += _matches(roster, r.officer_id, need)
    return [{"group": g, "leads": len(n[g]), "match_eligible": eligible[g],
             "reached_match": hit[g], "accuracy": _rate(hit[g], eligible[g])}
            for g in sorted(n)]


def cost(rows: list[Any], cost_usd: dict[str, float]) -> list[dict[str, Any]]:
    """Per source: leads times the configured cost per lead (``LEADROUTE_LEAD_COST_USD``),
    over the loans funded; null where no cost is configured or nothing funded."""
    n: dict[str, int] = defaultdict(int)
    f: dict[str, int] = defaultdict(int)
    cents: dict[str, int] = defaultdict(int)
    for r in rows:
        n[r.source] += 1
        if r.outcome == "funded":
            f[r.source] += 1
            cents[r.source] += r.funded_amount_cents or 0
    items = []
    for g in sorted(n):
        each = cost_usd.get(g)
        total = None if each is None else round(each * n[g], 2)
        items.append({"group": g, "leads": n[g], "cost_per_lead_usd": each,
                      "cost_usd": total, "funded": f[g],
                      "cost_per_funded_usd": None if total is None or f[g] == 0
                      else round(total / f[g], 2),
                      "funded_amount_usd": round(cents[g] / 100, 2)})
    return items


def told_leads(s: Session, lead_ids: Sequence[int]) -> set[int]:
    """The leads among ``lead_ids`` some officer was told of."""
    out: set[int] = set()
    for i in range(0, len(lead_ids), 5000):
        out.update(s.scalars(select(LeadOfficer.lead_id).distinct()
                             .where(LeadOfficer.lead_id.in_(lead_ids[i:i + 5000]))))
    return out


def open_leads(s: Session) -> dict[str, int]:
    return {r.officer_id: int(r.open_leads)
            for r in s.execute(select(OfficerState.officer_id, OfficerState.open_leads))}
