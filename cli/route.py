"""``leadroute route``: a file of leads through ``engine.decide``, in received_at order."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.decide import Status, decide
from engine.domain import Lead
from engine.errors import InputError, Problem
from engine.fair_lending import protected_characteristic
from engine.io import check_lead_header, load_roster, read_csv_rows
from engine.leads import LeadParser
from engine.roster import Roster
from engine.rules import load_policy
from engine.state import RoutingState

OUTPUT_COLUMNS = ("lead_id", "officer_id", "status", "reason", "state", "county_fips",
                  "is_jumbo", "explanation")


@dataclass
class RouteSummary:
    counts: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self, out: Path) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        rate = f" ({total / self.seconds:,.0f} leads/s)" if self.seconds > 0 else ""
        lines = [f"routed {total} leads in {self.seconds:.2f} s{rate}: {parts}; wrote {out}"]
        if self.ignored_columns:
            lines.append("ignored protected-characteristic columns (never used for routing): "
                         + ", ".join(self.ignored_columns))
        return "\n".join(lines)


def route_file(leads_path: Path, officers_path: Path, policy_path: Path, out_path: Path, *,
               detail: str = "full", progress: bool = True) -> RouteSummary:
    """Route every lead of ``leads_path``; rows that fail validation are written as rejected.
    Raises InputError / PolicyError for a bad roster, policy or lead header."""
    import time

    started = time.perf_counter()
    policy = load_policy(policy_path)
    roster = Roster(load_roster(officers_path))
    header, rows = read_csv_rows(leads_path)
    check_lead_header(header, leads_path.name)
    summary = RouteSummary()
    summary.ignored_columns = [c for c in header if protected_characteristic(c) is not None
                               and c != "language"]
    parser = LeadParser.default()

    parsed: list[tuple[int, Lead | InputError, str]] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        where = f"{leads_path.name} row {number}"
        lead_id = (row.get("lead_id") or "").strip()
        if lead_id in first_row:  # the same lead twice: route it once
            parsed.append((number, InputError(Problem(
                "lead_id", lead_id, f"duplicates the lead on row {first_row[lead_id]}", where)),
                lead_id))
            continue
        if lead_id:
            first_row[lead_id] = number
        try:
            parsed.append((number, parser.parse(row, where), lead_id))
        except InputError as exc:
            parsed.append((number, exc, lead_id))

    # Route in received_at order (file order among equal times); write in file order.
    order = sorted((p for p in parsed if isinstance(p[1], Lead)),
                   key=lambda p: (p[1].received_at, p[0]))  # type: ignore[union-attr]
    state = RoutingState.empty(roster.ids_tuple)
    results: dict[int, list[object]] = {}
    bar = Progress(TextColumn("routing"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), disable=not progress or not sys.stderr.isatty(),
                   transient=True)
    with bar:
        task = bar.add_task("route", total=len(order))
        for number, lead, _ in order:
            assert isinstance(lead, Lead)
            decision = decide(lead, roster, policy, state, lead.received_at)
            state.apply(decision.state_delta)
            if decision.status is Status.OFFERED and decision.offer is not None:
                # A batch run has nobody to accept an offer: carry the state as if the first
                # officer offered accepted it (the status still says offered).
                from engine.decide import claim_delta

                state.apply(claim_delta(roster, policy, state, decision.pool or "",
                                        decision.offer.officer_ids[0], lead.received_at,
                                        decision.pool_weight))
            explanation = decision.explanation.to_dict(detail=detail)
            explanation.update(status=decision.status.value, propensity=decision.propensity,
                               priority=decision.priority)
            if decision.offer is not None:
                explanation["offer"] = {"mode": decision.offer.mode,
                                        "officer_ids": list(decision.offer.officer_ids),
                                        "accept_within_s": decision.offer.accept_within_s}
            if decision.hold_until is not None:
                explanation["hold_until"] = decision.hold_until.isoformat()
            results[number] = [
                lead.lead_id, decision.officer_id or "", decision.status.value, decision.reason,
                lead.state, lead.county_fips,
                "" if lead.is_jumbo is None else str(lead.is_jumbo).lower(),
                json.dumps(explanation, separators=(",", ":")),
            ]
            summary.counts[decision.status.value] += 1
            bar.advance(task)

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(out_path, "w", newline="")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise InputError(Problem("out", str(out_path), f"cannot be written: {exc.strerror}")) \
            from None
    with fh:
        writer = csv.writer(fh)
        writer.writerow(OUTPUT_COLUMNS)
        for number, item, lead_id in parsed:
            if isinstance(item, InputError):
                summary.counts["rejected"] += 1
                writer.writerow([lead_id, "", "rejected", "; ".join(str(p) for p in item.problems),
                                 "", "", "", ""])
            else:
                writer.writerow(results[number])
    summary.seconds = time.perf_counter() - started
    return summary
