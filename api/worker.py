"""The background worker: every lead whose ``due_at`` has come (an offer's deadline or next
step, a held lead's retry, a new round, a batch window's end) is moved on through the
lifecycle, one transaction per lead. Each round first refreshes the dual-price method's
capacity prices when they are due (``api.pricing``).

The database is the queue: due times are rows, so a restart loses none. On PostgreSQL
several workers share the work, each claiming a lead with ``FOR UPDATE SKIP LOCKED``; on
SQLite one worker does (writers take turns). Offers that are due go first; due held leads
follow in the order the policy says (``Lifecycle.held_order``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from api.db import Database
from api.flow import Tx, carry_out, locked, run_due
from api.models import Lead as LeadRow
from api.pricing import reprice_if_due
from api.runtime import Runtime
from api.store import SqlStateStore
from engine.batch import decide_batch
from engine.lifecycle import Case, Stage

log = logging.getLogger("leadroute.worker")
MAX_ROUNDS = 50


class Worker:
    """Moves due leads on. ``clock`` gives the current time (tests pass their own)."""

    def __init__(self, db: Database, runtime: Runtime, clock: Callable[[], datetime], *,
                 batch: int = 200, poll_s: float = 0.5) -> None:
        self.db, self.runtime, self.clock = db, runtime, clock
        self.batch, self.poll_s = batch, poll_s

    def run_once(self, now: datetime | None = None) -> int:
        """Move on every lead due at ``now`` (default: the clock); returns how many."""
        now = now or self.clock()
        try:
            reprice_if_due(self.db, self.runtime, now)
        except Exception:  # stale prices only weaken the dual-price method: keep routing
            log.exception("price refresh failed")
        total = 0
        failed: set[int] = set()
        for _ in range(MAX_ROUNDS):
            with self.db.reading() as s:
                due = list(s.execute(
                    select(LeadRow.id, LeadRow.stage, LeadRow.case, LeadRow.payload,
                           LeadRow.request_sha256, LeadRow.policy_id)
                    .where(LeadRow.due_at <= now, LeadRow.id.not_in(failed) if failed
                           else LeadRow.id > 0)
                    .order_by(LeadRow.due_at, LeadRow.id).limit(self.batch)).all())
                if not due:
                    break
                windows = self._windows(s, due)
                if windows:
                    due = [r for r in due if r.id not in windows]
                order = self._order(s, due, now)
            done = 0
            for policy_id, ids in _by_policy(windows).items():
                try:
                    done += self._route_window(policy_id, ids, now)
                except Exception:  # retried one lead at a time (each alone is routable)
                    log.exception("batch window failed", extra={"fields": {"leads": len(ids)}})
                    order = ids + order
            for lead_id in order:
                try:
                    done += self._move(lead_id, now)
                except Exception:  # one bad lead must not stop the queue
                    log.exception("due lead failed", extra={"fields": {"lead_id": lead_id}})
                    failed.add(lead_id)
            total += done
            if done == 0:  # all taken by other workers, or failing
                break
        return total

    def _windows(self, s: Any, due: list[Any]) -> dict[int, int | None]:
        """New leads of a batch method whose window has ended: lead id -> policy id."""
        out: dict[int, int | None] = {}
        for r in due:
            if r.stage != Stage.NEW.value:
                continue
            routing = self.runtime.routing(s, r.policy_id)
            if routing.policy.selector.batch_window_s is not None:
                out[r.id] = r.policy_id
        return out

    def _route_window(self, policy_id: int | None, ids: list[int], now: datetime) -> int:
        """Route the new leads of one policy's ended window together
        (``engine.batch.decide_batch``), in one transaction: the solver shares the officers'
        capacity among them, as ``leadroute route`` and the simulator do. Leads another worker
        took meanwhile are left to it."""
        with self.db.writing() as s:
            rows = list(s.scalars(locked(
                select(LeadRow).where(LeadRow.id.in_(ids), LeadRow.due_at <= now,
                                      LeadRow.stage == Stage.NEW.value)
                .order_by(LeadRow.received_at, LeadRow.id), s, skip=True)))
            if not rows:
                return 0
            tx = Tx.open(s, self.runtime, now)
            routing = tx.routing(policy_id)
            life = tx.life(routing)
            leads = [self.runtime.lead(r) for r in rows]
            decisions = decide_batch(leads, tx.roster, routing.policy, tx.state, now,
                                     scorer=routing.scorer)
            # every decision was made on the state as the ones before it leave it: act on
            # them all, then carry their effects out in order
            steps = [life.routed(Case.from_record(r.case), lead, d, tx.state, now)
                     for r, lead, d in zip(rows, leads, decisions, strict=True)]
            for row, step in zip(rows, steps, strict=True):
                carry_out(tx, row, step)
            tx.finish()
            log.info("batch window routed", extra={"fields": {"leads": len(rows)}})
            return len(rows)

    def _order(self, s: Any, due: list[Any], now: datetime) -> list[int]:
        """Offers and rounds first (by due time), then held leads in the policy's order."""
        held = [r for r in due if r.stage == Stage.HELD.value]
        rest = [r.id for r in due if r.stage != Stage.HELD.value]
        if len(held) < 2:
            return rest + [r.id for r in held]
        cfg = self.runtime.config(s)
        roster = self.runtime.roster(s, cfg.roster_version)
        life = self.runtime.lifecycle(roster, cfg.roster_version,
                                      self.runtime.routing(s, cfg.active_id))
        state = SqlStateStore(s, lock=False).load(roster.ids_tuple)
        items = [(Case.from_record(r.case),
                  self.runtime.lead(LeadRow(id=r.id, payload=r.payload,
                                            request_sha256=r.request_sha256)))
                 for r in held]
        return rest + [held[k].id for k in life.held_order(items, state, now)]

    def _move(self, lead_id: int, now: datetime) -> int:
        with self.db.writing() as s:
            row = s.scalar(locked(select(LeadRow).where(LeadRow.id == lead_id,
                                                         LeadRow.due_at <= now), s, skip=True))
            if row is None:  # another worker has it, or it moved meanwhile
                return 0
            tx = Tx.open(s, self.runtime, now)
            step = run_due(tx, row)
            tx.finish()
            log.info("due", extra={"fields": {"lead_id": lead_id, "status": row.status,
                                              "ok": step.ok}})
            return 1

    def run_forever(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set."""
        log.info("worker started", extra={"fields": {"poll_s": self.poll_s}})
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be briefly away: try again next poll
                log.exception("worker round failed")
            stop.wait(self.poll_s)
        log.info("worker stopped")


def _by_policy(windows: dict[int, int | None]) -> dict[int | None, list[int]]:
    groups: dict[int | None, list[int]] = {}
    for lead_id, policy_id in windows.items():
        groups.setdefault(policy_id, []).append(lead_id)
    return groups
