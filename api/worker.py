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
from api.flow import Tx, locked, run_due
from api.models import Lead as LeadRow
from api.pricing import reprice_if_due
from api.runtime import Runtime
from api.store import SqlStateStore
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
                           LeadRow.request_sha256)
                    .where(LeadRow.due_at <= now, LeadRow.id.not_in(failed) if failed
                           else LeadRow.id > 0)
                    .order_by(LeadRow.due_at, LeadRow.id).limit(self.batch)).all())
                if not due:
                    break
                order = self._order(s, due, now)
            done = 0
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
