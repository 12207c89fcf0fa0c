"""Stored leads through the engine's lifecycle: each event in one database transaction.

A transaction locks what it changes (the lead's row first, then the routing state: every
transaction takes them in that order), asks ``engine.lifecycle`` for the transition and
carries its effects out: state effects through ``SqlStateStore``; ``Record`` as a history row;
``Notify`` / ``Withdraw`` as an outbox row (and a history row); ``Wake`` as the lead's
``due_at``, which the worker claims when due; ``Freed`` by trying the held lead
``Lifecycle.pick_held`` names at once. The case, history, outbox and state commit together or
not at all. No routing rule lives here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.models import Lead as LeadRow
from api.models import LeadEvent, LeadOfficer, Outbox
from api.problems import ApiProblem
from api.runtime import Routing, RoutingConfig, Runtime
from api.sources.mapping import REQUESTED_OFFICER
from api.store import SqlStateStore
from engine.decide import Decision, decide
from engine.domain import Lead
from engine.lifecycle import (
    STATE_EFFECTS,
    Case,
    Freed,
    Lifecycle,
    Notify,
    Record,
    Stage,
    Step,
    Withdraw,
    effect_record,
)
from engine.roster import Roster
from engine.state import RoutingState

# what GET /v1/leads calls a lead's status (``leads.status``)
STATUSES = ("new", "assigned", "offered", "held", "waiting", "accepted", "closed", "given_up")
HELD_CANDIDATES = 500  # held leads pick_held chooses among when a slot frees
MAX_FREED_DEPTH = 4


def status_of(case: Case) -> str:
    """``assigned`` for an offer to one officer (counted against their caps), ``offered`` for
    an offer to several; otherwise the lifecycle's stage."""
    if case.stage is Stage.OFFERED and case.offer is not None:
        return "assigned" if case.offer.mode == "assign" else "offered"
    return case.stage.value


def explanation_of(d: Decision) -> dict[str, Any]:
    """A decision's explanation as stored and answered: the engine's, with the status,
    reason, propensity, priority, offer and hold time."""
    out = d.explanation.to_dict(detail="summary")
    out.update(status=d.status.value, reason=d.reason, propensity=d.propensity,
               priority=d.priority)
    if d.offer is not None:
        out["offer"] = {"mode": d.offer.mode, "officer_ids": list(d.offer.officer_ids),
                        "accept_within_s": d.offer.accept_within_s}
        if d.offer.step_s is not None:
            out["offer"]["step_s"] = d.offer.step_s
    if d.hold_until is not None:
        out["hold_until"] = d.hold_until.isoformat()
    return out


@dataclass
class Tx:
    """One transaction's view: the roster, the locked routing state and the clock."""

    session: Session
    runtime: Runtime
    now: datetime
    version: int
    roster: Roster
    store: SqlStateStore
    state: RoutingState
    config: RoutingConfig
    # rows written together when the transaction ends (or before a query that reads them)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    told: list[dict[str, Any]] = field(default_factory=list)
    new_leads: list[LeadRow] = field(default_factory=list)  # routed here, saved at the end

    @property
    def active_id(self) -> int | None:
        return self.config.active_id

    @classmethod
    def open(cls, session: Session, runtime: Runtime, now: datetime) -> Tx:
        cfg = runtime.config(session)
        roster = runtime.roster(session, cfg.roster_version)
        store = SqlStateStore(session)
        state = store.load(roster.ids_tuple, cfg.prices_set_s)
        return cls(session, runtime, now, cfg.roster_version, roster, store, state, cfg)

    def routing(self, policy_id: int | None) -> Routing:
        return self.runtime.routing(self.session, policy_id)

    def life(self, routing: Routing) -> Lifecycle:
        return self.runtime.lifecycle(self.roster, self.version, routing)

    def life_of(self, row: LeadRow) -> Lifecycle:
        return self.life(self.routing(row.policy_id))

    def write_pending(self) -> None:
        """Write the history, outbox and visibility rows gathered so far, and new leads."""
        s = self.session
        if self.events:
            s.execute(insert(_EVENTS), self.events)
        if self.outbox:
            s.execute(insert(_OUTBOX), self.outbox)
        if self.told:
            s.execute(_insert_ignore(s, _LEAD_OFFICERS), self.told)
        if self.new_leads:
            s.execute(_SAVE_LEAD, [{"key": r.id, **{f"v_{c}": getattr(r, c) for c in _SAVED}}
                                   for r in self.new_leads])
        self.events, self.outbox, self.told, self.new_leads = [], [], [], []

    def finish(self) -> None:
        self.write_pending()
        self.store.flush()


_EVENTS = cast(Table, LeadEvent.__table__)
_OUTBOX = cast(Table, Outbox.__table__)
_LEAD_OFFICERS = cast(Table, LeadOfficer.__table__)
_LEADS = cast(Table, LeadRow.__table__)
_SAVED = ("duplicate_of", "policy_id", "policy_name", "policy_version", "arm", "arm_share",
          "stage", "status", "officer_id", "due_at", "case", "first_status", "explanation")
_SAVE_LEAD = update(_LEADS).where(_LEADS.c.id == bindparam("key")).values(
    {c: bindparam(f"v_{c}") for c in _SAVED})


def _insert_ignore(session: Session, table: Table) -> Any:
    return _insert_ignore_for(session.get_bind().dialect.name, table)


@lru_cache(maxsize=16)
def _insert_ignore_for(dialect: str, table: Table) -> Any:
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    return stmt.on_conflict_do_nothing()


def carry_out(tx: Tx, row: LeadRow, step: Step, *, depth: int = 0,
              explanation: dict[str, Any] | None = None) -> None:
    """Carry a transition's effects out in ``tx`` and store the new case on ``row``."""
    s, now = tx.session, tx.now
    events: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    told: list[str] = []
    freed: list[str] = []
    accepted_by: str | None = None
    for e in step.effects:
        if isinstance(e, STATE_EFFECTS):
            tx.store.apply((e,))
        elif isinstance(e, Record):
            events.append({"lead_id": row.id, "at": e.at, "kind": e.kind.value,
                           "officer_id": e.officer_id, "detail": e.detail,
                           "policy_version": e.policy_version, "propensity": e.propensity,
                           "data": None})
            if e.kind.value == "accepted":
                accepted_by = e.officer_id
        elif isinstance(e, Notify | Withdraw):
            notice = effect_record(e)
            notice["lead_id"] = row.id
            kind = "notify" if isinstance(e, Notify) else "withdraw"
            if isinstance(e, Notify):
                i = tx.roster.index[e.officer_id]
                # open leads before this one (an assignment already counted it)
                notice["officer_open_leads"] = int(tx.state.open_leads[i]) - (
                    1 if e.mode == "assign" else 0)
                told.append(e.officer_id)
                detail = f"notify ({e.mode}), accept by {e.accept_by.isoformat()}"
            else:
                detail = f"withdraw: {e.why}"
            if row.is_test:  # a source's test lead: in the history, never sent
                detail += " (test lead: not sent)"
            else:
                outbox.append({"lead_id": row.id, "officer_id": e.officer_id, "kind": kind,
                               "payload": notice, "status": "pending", "attempts": 0,
                               "created_at": now, "next_attempt_at": now,
                               "delivery_key": f"lr_{uuid.uuid4().hex}"})
            events.append({"lead_id": row.id, "at": now, "kind": "notice",
                           "officer_id": e.officer_id, "detail": detail,
                           "policy_version": step.case.policy_version, "propensity": None,
                           "data": notice})
        elif isinstance(e, Freed):
            freed.append(e.officer_id)
    if step.decision is not None:
        row.explanation = explanation if explanation is not None \
            else explanation_of(step.decision)
    if accepted_by is not None:
        _mark_accepted(tx, s, row, accepted_by, now)
    store_case(row, step.case)
    tx.events += events
    tx.outbox += outbox
    tx.told += [{"lead_id": row.id, "officer_id": o} for o in dict.fromkeys(told)]
    for officer_id in freed:
        try_held(tx, officer_id, depth=depth + 1)


def _mark_accepted(tx: Tx, s: Session, row: LeadRow, officer_id: str, now: datetime
                   ) -> None:
    """When the lead reached the officer who accepted it, and their load then (the history
    export's ``assigned_at`` and ``officer_open_leads``)."""
    tx.write_pending()
    s.flush()
    notice = s.execute(
        select(LeadEvent.at, LeadEvent.data)
        .where(LeadEvent.lead_id == row.id, LeadEvent.kind == "notice",
               LeadEvent.officer_id == officer_id)
        .order_by(LeadEvent.id.desc()).limit(1)).first()
    row.accepted_at = now
    if notice is not None:
        row.assigned_at = notice.at
        row.officer_open_leads = (notice.data or {}).get("officer_open_leads")
    else:
        row.assigned_at = now


def store_case(row: LeadRow, case: Case) -> None:
    row.case = case.to_record()
    row.stage = case.stage.value
    row.status = status_of(case)
    row.officer_id = case.officer_id
    row.due_at = case.due_at


def try_held(tx: Tx, officer_id: str, *, depth: int = 1) -> bool:
    """An officer's slot freed: route the held lead ``pick_held`` names now (skipping one
    another transaction holds). Returns whether a lead was tried."""
    if depth > MAX_FREED_DEPTH or officer_id not in tx.roster.index:
        return False
    s = tx.session
    tx.write_pending()  # the held queue as this transaction has left it so far
    s.flush()
    life = tx.life(tx.routing(tx.active_id))
    newest = life.settings.held_order == "freshest_first"
    ids = s.execute(
        select(LeadRow.id, LeadRow.case, LeadRow.payload, LeadRow.request_sha256)
        .where(LeadRow.stage == Stage.HELD.value)
        .order_by(LeadRow.received_at.desc() if newest else LeadRow.received_at)
        .limit(HELD_CANDIDATES)).all()
    if not ids:
        return False
    items = [(Case.from_record(r.case), tx.runtime.lead(_stub(r))) for r in ids]
    k = life.pick_held(officer_id, items, tx.state, tx.now)
    if k is None:
        return False
    row = s.scalar(locked(select(LeadRow).where(LeadRow.id == ids[k].id,
                                                  LeadRow.stage == Stage.HELD.value),
                           tx, skip=True))
    if row is None:  # taken by another transaction meanwhile
        return False
    case = Case.from_record(row.case)
    step = tx.life_of(row).due(case, tx.runtime.lead(row), tx.state, tx.now)
    if step.ok:
        carry_out(tx, row, step, depth=depth)
    return step.ok


def _stub(r: Any) -> LeadRow:
    return LeadRow(id=r.id, payload=r.payload, request_sha256=r.request_sha256)


def locked(q: Select[Any], tx: Tx | Session, *, skip: bool = False) -> Select[Any]:
    """``q`` with FOR UPDATE (SKIP LOCKED) on PostgreSQL; SQLite's write transaction
    already excludes other writers."""
    session = tx.session if isinstance(tx, Tx) else tx
    if session.get_bind().dialect.name != "postgresql":
        return q
    return q.with_for_update(skip_locked=skip)


# ----------------------------------------------------------------------------- arrival


def request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Arrival:
    """A validated lead ready to store: its fields (protected ones dropped), its external
    id, its contact keys and who sent it."""

    payload: dict[str, Any]
    lead: Lead  # parsed with a stand-in id, for the checks and the contact keys
    external_id: str | None
    api_key_id: int | None
    idempotency_key: str | None
    body_sha256: str


def choose_arm(lead_id: int, mode: str, share: float) -> tuple[str, float]:
    """The A/B arm of a lead (a fixed draw from its id) and that arm's probability."""
    if mode != "ab" or share <= 0:
        return "active", 1.0
    u = int(hashlib.sha256(f"ab:{lead_id}".encode()).hexdigest()[:12], 16) / float(1 << 48)
    return ("candidate", share) if u < share else ("active", 1.0 - share)


def _repeat_query(by_phone: bool, by_email: bool) -> Select[Any]:
    c = _LEADS.c
    same = []
    if by_phone:
        same.append(c.phone == bindparam("phone"))
    if by_email:
        same.append(c.email == bindparam("email"))
    return (select(c.id, c.officer_id, c.phone)
            .where(or_(*same), c.id != bindparam("id"), c.received_at >= bindparam("since"),
                   c.received_at <= bindparam("until"))
            .order_by(c.received_at.desc(), c.id.desc()).limit(1))


_REPEAT = {(p, e): _repeat_query(p, e) for p in (True, False) for e in (True, False) if p or e}


def find_duplicate(s: Session, row: LeadRow, window_s: float,
                   unsaved: Sequence[LeadRow] = ()) -> Any | None:
    """The most recent earlier lead with the same phone or email within the window (its
    ``id``, ``officer_id``, ``phone``); ``unsaved``: leads of this transaction not written
    yet, the most recent last."""
    if window_s <= 0 or not (row.phone or row.email):
        return None
    since = row.received_at - timedelta(seconds=window_s)
    for other in reversed(unsaved):
        if other.id != row.id and since <= other.received_at <= row.received_at and (
                (row.phone and other.phone == row.phone)
                or (row.email and other.email == row.email)):
            return other
    q = _REPEAT[(bool(row.phone), bool(row.email))]
    return s.execute(q, {"phone": row.phone, "email": row.email, "id": row.id,
                         "since": row.received_at - timedelta(seconds=window_s),
                         "until": row.received_at}).first()


def arrive(tx: Tx, row: LeadRow, lead: Lead | None = None, *, new: bool = False) -> Step:
    """Route a newly stored lead (its row is flushed, so it has an id): the A/B arm, a link
    to a recent lead of the same borrower, the shadow decision, then the lifecycle's
    arrival. ``lead``: the row's lead as parsed already (its id is set here); ``new``: the
    row is not in the session (inserted with Core): it is written when the transaction
    ends."""
    s, runtime = tx.session, tx.runtime
    cfg = tx.config
    arm, share = choose_arm(row.id, cfg.mode, cfg.share)
    routing = tx.routing(cfg.candidate_id if arm == "candidate" else cfg.active_id)
    life = tx.life(routing)
    if lead is None:
        lead = runtime.lead(row)
    else:
        lead = replace(lead, lead_id=str(row.id))
        runtime.remember(row, lead)
    policy = routing.policy
    row.policy_id, row.policy_name, row.policy_version = \
        routing.policy_id, policy.name, policy.version
    row.arm, row.arm_share = arm, share

    opened = life.open(lead, tx.now)
    case = opened.case
    duplicate = find_duplicate(s, row, policy.routing.duplicates.window_s, tx.new_leads)
    link: dict[str, Any] | None = None
    if duplicate is not None:
        row.duplicate_of = duplicate.id
        matched = "phone" if row.phone and duplicate.phone == row.phone else "email"
        link = {"lead_id": duplicate.id, "matched_on": matched,
                "officer_id": duplicate.officer_id}
        if duplicate.officer_id is not None and duplicate.officer_id in tx.roster.index:
            case = case._replace(prefer=duplicate.officer_id)
    requested = str((row.payload or {}).get(REQUESTED_OFFICER) or "") or None
    if requested is not None and requested in tx.roster.index:
        # a referral or a form naming its officer: asked for by name, it outranks a repeat
        # lead's officer; the engine still takes them only when eligible
        case = case._replace(prefer=requested)

    head = opened.effects[:1]  # the arrival record
    shadow = None
    if cfg.mode == "shadow" and cfg.candidate_id is not None:
        shadow = _shadow(tx, row, lead, tx.routing(cfg.candidate_id), case.prefer)
    if policy.selector.batch_window_s is not None:
        step = opened._replace(case=case)  # the worker routes it when its window ends
    else:
        routed = life.route(case, lead, tx.state, tx.now)
        step = routed._replace(effects=(*head, *routed.effects))
    explanation = None
    if step.decision is not None:
        explanation = explanation_of(step.decision)
        explanation["arm"] = {"arm": arm, "share": share}
        asked = requested if requested is not None and requested in tx.roster.index else None
        if link is not None:
            explanation["duplicate_of"] = _describe_link(link, step.decision, explanation,
                                                         asked)
        if requested is not None:
            explanation["requested_officer"] = _describe_request(
                requested, requested in tx.roster.index, step.decision, explanation)
    row.first_status = step.decision.status.value if step.decision is not None else "new"
    carry_out(tx, row, step, explanation=explanation)
    if new:
        tx.new_leads.append(row)
    if shadow is not None:
        tx.events.append(shadow)
    return step


def _describe_link(link: dict[str, Any], d: Decision, explanation: dict[str, Any],
                   asked: str | None = None) -> dict[str, Any]:
    """State the repeat-lead link in the explanation (and drop the engine's note, which
    speaks of a backup officer). ``asked``: an officer the lead itself asks for, who comes
    before the repeat lead's officer."""
    officer = link["officer_id"]
    taken = officer is not None and d.offer is not None and d.offer.officer_ids[:1] == (officer,)
    engine_note = f"backup officer {officer} was eligible and taken first"
    notes = [n for n in explanation.get("notes", []) if n != engine_note]
    if officer is not None and asked is not None and asked != officer:
        notes.append(f"repeat of lead {link['lead_id']} (same {link['matched_on']}), whose "
                     f"officer is {officer}: the lead asks for officer {asked} instead")
    elif officer is None:
        notes.append(f"repeat of lead {link['lead_id']} (same {link['matched_on']}), which has "
                     "no officer yet: routed as usual")
    elif taken:
        notes.append(f"repeat of lead {link['lead_id']} (same {link['matched_on']}): its "
                     f"officer {officer} was eligible and taken first")
    else:
        notes.append(f"repeat of lead {link['lead_id']} (same {link['matched_on']}): its "
                     f"officer {officer} is not eligible now; routed as usual")
    explanation["notes"] = notes
    return {**link, "officer_taken": taken}


def _describe_request(officer: str, on_roster: bool, d: Decision,
                      explanation: dict[str, Any]) -> dict[str, Any]:
    """State in the explanation whether the officer a referral or form asked for got the
    lead, or why not (replacing the engine's note, which speaks of a backup officer)."""
    taken = on_roster and d.offer is not None and d.offer.officer_ids[:1] == (officer,)
    engine_note = f"backup officer {officer} was eligible and taken first"
    notes = [n for n in explanation.get("notes", []) if n != engine_note]
    if not on_roster:
        notes.append(f"requested officer {officer} is not on the roster: routed as usual")
    elif taken:
        notes.append(f"requested officer {officer} was eligible and taken first")
    else:
        notes.append(f"requested officer {officer} is not eligible now (licence, capacity, "
                     "hours or status): routed as usual")
    explanation["notes"] = notes
    return {"officer_id": officer, "on_roster": on_roster, "officer_taken": taken}


def _shadow(tx: Tx, row: LeadRow, lead: Lead, routing: Routing, prefer: str | None
            ) -> dict[str, Any]:
    """The candidate's decision for the same lead and state, as a history line only."""
    d = decide(lead, tx.roster, routing.policy, tx.state, tx.now, prefer=prefer,
               scorer=routing.scorer)
    offered = list(d.offer.officer_ids) if d.offer is not None else []
    return {"lead_id": row.id, "at": tx.now, "kind": "shadow", "officer_id": d.officer_id,
            "detail": f"candidate {d.policy} v{d.policy_version}: {d.reason}",
            "policy_version": d.policy_version, "propensity": d.propensity,
            "data": {"policy": d.policy, "version": d.policy_version,
                     "status": d.status.value, "officer_id": d.officer_id,
                     "offered": offered, "reason": d.reason}}


# ----------------------------------------------------------------------------- events


def lock_lead(s: Session, lead_id: int, *, skip: bool = False) -> LeadRow | None:
    return s.scalar(locked(select(LeadRow).where(LeadRow.id == lead_id), s, skip=skip))


def act(tx: Tx, row: LeadRow, what: str, officer_id: str | None = None, *,
        why: str = "declined", outcome: str = "") -> Step:
    """An officer's answer or the lead's outcome: ``accept``, ``decline``, ``release``,
    ``away`` (the officer went away). 409 when the lifecycle says it does not apply."""
    life = tx.life_of(row)
    case = Case.from_record(row.case)
    lead = tx.runtime.lead(row)
    if what == "accept":
        assert officer_id is not None
        step = life.accept(case, lead, officer_id, tx.state, tx.now)
    elif what == "decline":
        assert officer_id is not None
        step = life.decline(case, lead, officer_id, tx.state, tx.now, why)
    elif what == "away":
        assert officer_id is not None
        step = life.officer_away(case, lead, officer_id, tx.state, tx.now)
    elif what == "release":
        step = life.release(case, outcome, tx.state, tx.now)
    else:  # pragma: no cover - the routers name one of the above
        raise ValueError(what)
    if not step.ok:
        raise ApiProblem(409, step.note, kind="conflict")
    carry_out(tx, row, step)
    return step


def record(tx: Tx, row: LeadRow, kind: str, officer_id: str | None, detail: str,
           data: dict[str, Any] | None = None) -> None:
    """A history line outside the lifecycle (an outcome reported)."""
    tx.events.append({
        "lead_id": row.id, "at": tx.now, "kind": kind, "officer_id": officer_id,
        "detail": detail, "policy_version": row.policy_version, "propensity": None,
        "data": data})


def run_due(tx: Tx, row: LeadRow) -> Step:
    """The lead's due time came (an offer's deadline or step, a held retry, a new round, a
    batch window's end)."""
    case = Case.from_record(row.case)
    step = tx.life_of(row).due(case, tx.runtime.lead(row), tx.state, tx.now)
    if not step.ok:  # nothing due any more (answered meanwhile): stop waking it
        row.due_at = None
        return step
    carry_out(tx, row, step)
    return step
