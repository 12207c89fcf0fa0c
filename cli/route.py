"""``leadroute route``: a file of leads through ``engine.decide``, in received_at order."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine.batch import decide_batch
from engine.chunked import Brief, Decided, Run, chunkable, runs_in_order
from engine.decide import Decision, JsonCache, policy_scorer
from engine.domain import Lead
from engine.errors import InputError, Problem, redact
from engine.fair_lending import protected_characteristic
from engine.invariant import present
from engine.io import (
    CsvRow,
    check_lead_header,
    collector_paused,
    csv_cells,
    csv_line,
    csv_row_parts,
    load_roster,
    read_csv,
)
from engine.leads import LeadParser
from engine.lifecycle import Lifecycle, Step
from engine.maintenance import horizon_s, recent_demand, reprice, reprice_due
from engine.policies import Scorer
from engine.policies.scoring import model_scorer
from engine.roster import Roster
from engine.rules import Policy, load_policy
from engine.rules.coverage import PoolWarning, pool_warnings
from engine.state import RoutingState
from engine.store import MemoryStore

OUTPUT_COLUMNS = ("lead_id", "officer_id", "status", "reason", "state", "county_fips",
                  "is_jumbo", "explanation")
# Output lines written at once (rows are joined into one text and written in bulk).
_WRITE_LINES = 2048
# Rows parsed at once, column by column (LeadParser.parse_rows): enough that each column's
# repeated texts are checked once, few enough to keep only a chunk of raw rows in memory.
_PARSE_ROWS = 4096
# Leads routed between two updates of the progress bar.
_PROGRESS_EVERY = 256


@dataclass
class RouteSummary:
    counts: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # pools that name officers or teams not on the roster, or select nobody
    warnings: list[PoolWarning] = field(default_factory=list)

    def describe(self, out: Path) -> str:
        total = sum(self.counts.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        rate = f" ({total / self.seconds:,.0f} leads/s)" if self.seconds > 0 else ""
        lines = [f"routed {total} leads in {self.seconds:.2f} s{rate}: {parts}; wrote {out}"]
        if self.ignored_columns:
            lines.append(redact("ignored protected-characteristic columns (never used for "
                                "routing): " + ", ".join(self.ignored_columns)))
        return "\n".join(lines)


def _decisions(leads: list[Lead], roster: Roster, policy: Policy, state: RoutingState,
               scorer: Scorer | None, window_s: float | None) -> Iterator[Run]:
    """Decide the leads in time order through the engine's lifecycle, carrying its state
    effects out on ``state`` before the next lead.

    A batch run has nobody to answer an offer: every lead offered or assigned is accepted at
    once by the first officer offered (for a broadcast, every officer offered has still taken
    their turn in the rotation, as in production). A held lead stays held. Batch methods get
    the leads of each ``window_s`` window at once, decided at the window's end. Dual-price
    policies are repriced on their schedule from the demand of the last horizon, shifted one
    horizon ahead (the file's future is never looked at).

    A rotation's leads are decided a chunk at a time by the routing core
    (``engine.chunked.runs_in_order``; the same decisions, whose rows are written from the
    core's results without building them), a lead the core leaves to its caller through the
    lifecycle as the others.
    """
    life = Lifecycle.for_policy(roster, policy, scorer=scorer)
    store = MemoryStore(state)

    def carry_out(lead: Lead, step: Step, now: datetime) -> Decision:
        store.apply(step.effects)
        offer = step.case.offer
        if offer is not None:  # accepted at once by the first officer offered
            store.apply(life.accept(step.case, lead, offer.officer_ids[0], state, now).effects)
        return present(step.decision, "a routing transition carries its decision")

    if chunkable(policy):  # deciding as leads arrive: no batch window
        def one(lead: Lead) -> Decision:
            return carry_out(lead, life.arrive(lead, state, lead.received_at),
                             lead.received_at)

        yield from runs_in_order(leads, roster, policy, state, one)
        return
    every = policy.selector.reprice_every_s
    horizon = horizon_s(policy)
    k = 0
    while k < len(leads):
        if window_s is None:
            batch = [leads[k]]
            now = leads[k].received_at
        else:
            end = leads[k].received_at + timedelta(seconds=window_s)
            j = k
            while j < len(leads) and leads[j].received_at < end:
                j += 1
            batch, now = leads[k:j], end
        if every is not None and scorer is not None and reprice_due(policy, roster, state, now):
            seen = recent_demand(leads[:k], now, horizon)
            state.set_prices(reprice(policy, roster, state, now, scorer, seen), now.timestamp())
        if window_s is None:
            steps = [life.arrive(batch[0], state, now)]
        else:
            steps = [life.routed(life.open(lead, now).case, lead, d, state, now)
                     for lead, d in zip(batch, decide_batch(batch, roster, policy, state, now,
                                                            scorer=scorer), strict=True)]
        yield Decided(batch, [carry_out(lead, step, now)
                              for lead, step in zip(batch, steps, strict=True)])
        k += len(batch)


# The CSV text of a cell that repeats from row to row (officer, status, reason, place), kept
# per distinct text: the same few repeat.
_CELLS = 65536


def _row(lead: Lead, b: Brief, cells: dict[str, str]) -> list[str]:
    """The output line of a routed lead, as the parts of its CSV text (joined with other
    lines' when written)."""
    texts = []
    for value in (b.officer_id or "", b.status, b.reason, lead.state, lead.county_fips):
        text = cells.get(value)
        if text is None:
            if len(cells) >= _CELLS:
                cells.clear()
            text = cells[value] = csv_cells([value])
        texts.append(text)
    texts.append("" if lead.is_jumbo is None else "true" if lead.is_jumbo else "false")
    return csv_row_parts(csv_cells([lead.lead_id]) + "," + ",".join(texts), b.parts)


def _route_all(routed: list[Lead], numbers: list[int], position: dict[int, int],
               results: dict[int, list[str]], roster: Roster, policy: Policy,
               state: RoutingState, scorer: Scorer | None, window_s: float | None, detail: str,
               summary: RouteSummary, bar: Progress) -> None:
    cache: JsonCache = {}
    cells: dict[str, str] = {}
    counts = summary.counts
    with bar:
        task = bar.add_task("route", total=len(routed))
        done = 0
        for run in _decisions(routed, roster, policy, state, scorer, window_s):
            for k, lead in enumerate(run.leads):
                b = run.brief(k, detail, cache, True)
                results[numbers[position[id(lead)]]] = _row(lead, b, cells)
                counts[b.status] += 1
            done += len(run.leads)
            if done >= _PROGRESS_EVERY:  # the bar redraws a few times a second anyway
                bar.advance(task, done)
                done = 0
        bar.advance(task, done)


def route_file(leads_path: Path, officers_path: Path, policy_path: Path, out_path: Path, *,
               detail: str = "full", progress: bool = True,
               model_path: Path | None = None) -> RouteSummary:
    """Route every lead of ``leads_path`` (see ``_route_file``) with the collector paused."""
    with collector_paused():
        return _route_file(leads_path, officers_path, policy_path, out_path, detail=detail,
                           progress=progress, model_path=model_path)


def _chunks(rows: Iterator[CsvRow], size: int) -> Iterator[list[CsvRow]]:
    """``rows`` in lists of ``size`` (the last one shorter)."""
    while chunk := list(islice(rows, size)):
        yield chunk


def _parse_leads(rows: Iterator[CsvRow], name: str, parser: LeadParser
                 ) -> list[tuple[int, Lead | InputError, str]]:
    """Every row of the file, in file order: its number, its Lead or why it is rejected (the
    reader's problems, a lead id already routed, or parse's problems), and its lead id."""
    parsed: list[tuple[int, Lead | InputError, str]] = []
    first_row: dict[str, int] = {}
    for chunk in _chunks(rows, _PARSE_ROWS):
        readable = [row for row in chunk if not row.problems]
        wheres = {row.number: f"{name} row {row.number}" for row in readable}
        # the readable rows parsed column by column; a row whose lead id is taken is
        # parsed too, but only told it is a duplicate
        checked = iter(parser.parse_rows([row.values for row in readable], list(wheres.values())))
        for row in chunk:
            number = row.number
            lead_id = (row.values.get("lead_id") or "").strip()
            if row.problems:  # not readable as a row: bytes, quotes, values over or under
                parsed.append((number, InputError(list(row.problems)), lead_id))
                continue
            item = next(checked)
            if lead_id in first_row:  # the same lead twice: route it once
                parsed.append((number, InputError(Problem(
                    "lead_id", lead_id, f"duplicates the lead on row {first_row[lead_id]}",
                    wheres[number])), lead_id))
                continue
            if isinstance(item, Lead):
                first_row[lead_id] = number
            parsed.append((number, item, lead_id))
    return parsed


def _route_file(leads_path: Path, officers_path: Path, policy_path: Path, out_path: Path, *,
                detail: str, progress: bool, model_path: Path | None) -> RouteSummary:
    """Route every lead of ``leads_path``; rows that fail validation are written as rejected.
    ``model_path`` (a .skops model) scores leads for scoring methods, overriding the policy's
    own ``routing.params.model``. Raises InputError / PolicyError for a bad roster, policy or
    lead header."""
    import time

    started = time.perf_counter()
    policy = load_policy(policy_path)
    roster = Roster(load_roster(officers_path))
    header, rows = read_csv(leads_path)
    check_lead_header(header, leads_path.name)
    summary = RouteSummary(warnings=pool_warnings(policy, roster))
    summary.ignored_columns = [c for c in header if protected_characteristic(c) is not None]
    parser = LeadParser.default()

    parsed = _parse_leads(rows, leads_path.name, parser)

    # Route in received_at order (file order among equal times); write in file order.
    order = sorted((p for p in parsed if isinstance(p[1], Lead)),
                   key=lambda p: (p[1].received_at, p[0]))  # type: ignore[union-attr]
    state = RoutingState.empty(roster.ids_tuple)
    results: dict[int, list[str]] = {}
    position = {id(lead): k for k, (_, lead, _) in enumerate(order)}
    bar = Progress(TextColumn("routing"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn(), disable=not progress or not sys.stderr.isatty(),
                   transient=True)
    routed = [lead for _, lead, _ in order if isinstance(lead, Lead)]
    numbers = [number for number, _, _ in order]
    try:
        scorer = model_scorer(str(model_path)) if model_path is not None \
            else policy_scorer(policy)
    except ValueError as exc:  # engine.scoring.ModelFileError: unreadable or untrusted file
        raise InputError(Problem("model", str(model_path or policy.routing.params["model"]),
                                 str(exc))) from None
    if scorer is None and policy.selector.needs_scorer:
        raise InputError(Problem("model", "", f"routing method {policy.routing.method} ranks by "
                                 "conversion estimates: give --model MODEL.skops or "
                                 "routing.params.model in the policy"))
    window_s = policy.selector.batch_window_s
    _route_all(routed, numbers, position, results, roster, policy, state, scorer, window_s,
               detail, summary, bar)

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(out_path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(Problem("out", str(out_path), f"cannot be written: {exc.strerror}")) \
            from None
    with fh:
        lines = [csv_line(list(OUTPUT_COLUMNS))]  # the text of _WRITE_LINES lines at most
        count = 1
        for number, item, lead_id in parsed:
            if isinstance(item, InputError):
                summary.counts["rejected"] += 1
                lines.append(csv_line([lead_id, "", "rejected",
                                       "; ".join(str(p) for p in item.problems), "", "", "",
                                       ""]))
            else:
                lines += results.pop(number)
            count += 1
            if count >= _WRITE_LINES:
                fh.write("".join(lines))
                lines.clear()
                count = 0
        fh.write("".join(lines))
    summary.seconds = time.perf_counter() - started
    return summary
