"""New leads stored and routed in small groups: one transaction (one lock of the routing
state, one write-back, one commit) for the leads that arrived together.

Requests hand their validated lead to this process's ``Ingestor`` and wait for its answer.
Its thread takes every lead waiting (up to ``max_batch``) and inserts each (``ON CONFLICT DO
NOTHING``: the unique constraints answer retries, and that lead alone is left out), then
locks the routing state once and routes the new leads in arrival order through the
lifecycle, exactly as one transaction per lead would, and commits. Should anything fail, each
lead of the group is tried again in a transaction of its own, so one bad lead never sinks the
others. Leads are never half-written: a lead, its decision, history, outbox rows and state
change commit together.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api import metrics
from api.db import Database
from api.flow import Tx, arrive
from api.models import Lead as LeadRow
from api.runtime import Runtime
from api.schemas import LeadOut
from api.views import lead_out
from engine.domain import Lead
from engine.lifecycle import Case, Stage

log = logging.getLogger("leadroute.ingest")


@dataclass
class Job:
    """A validated lead waiting to be stored and routed."""

    payload: dict[str, Any]
    external_id: str | None
    lead: Lead
    digest: str
    api_key_id: int | None  # None: a source that signs its deliveries (Meta, Google Ads)
    idempotency_key: str | None
    now: datetime
    is_test: bool = False  # a source's test lead: stored closed, never routed
    answer: Future[LeadOut | None] = field(default_factory=Future)


class Ingestor:
    """The per-process queue of new leads and the thread that routes them."""

    def __init__(self, db: Database, runtime: Runtime, max_batch: int = 32) -> None:
        self.db, self.runtime, self.max_batch = db, runtime, max_batch
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.on_commit: Callable[[], None] | None = None  # new outbox rows may be waiting

    def submit(self, job: Job, timeout_s: float = 60.0) -> LeadOut | None:
        """The stored lead's answer; None when the lead was posted before (a unique
        constraint refused it: the caller looks the original up)."""
        if self._thread is None:
            with self._start:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="leadroute-ingest",
                                                    daemon=True)
                    self._thread.start()
        self._queue.put(job)
        return job.answer.result(timeout=timeout_s)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            try:
                results = self._store(batch)
            except Exception:  # a bug or a database error: each lead on its own
                log.exception("group of new leads failed; storing one by one",
                              extra={"fields": {"leads": len(batch)}})
                for job in batch:
                    try:
                        job.answer.set_result(self._store([job])[0])
                    except Exception as exc:
                        job.answer.set_exception(exc)
                continue
            for job, out in zip(batch, results, strict=True):
                if out is not None:
                    metrics.LEADS_ROUTED.labels(out.assignment.status).inc()
                job.answer.set_result(out)
            if self.on_commit is not None:
                self.on_commit()

    def _store(self, batch: list[Job]) -> list[LeadOut | None]:
        with self.db.writing() as s:
            rows = [self._insert(s, job) for job in batch]
            tx: Tx | None = None
            for job, row in zip(batch, rows, strict=True):
                if row is None:
                    continue
                if job.is_test:
                    _close_test_lead(s, row)
                    continue
                if tx is None:  # lead rows first, then the state: the one lock order
                    tx = Tx.open(s, self.runtime, job.now)
                tx.now = job.now
                started = time.perf_counter()
                arrive(tx, row, job.lead, new=True)
                metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
            if tx is not None:
                tx.finish()
            return [None if row is None else lead_out(row) for row in rows]

    @staticmethod
    def _insert(s: Session, job: Job) -> LeadRow | None:
        """The lead's row, inserted (SQLAlchemy Core: a new lead needs none of the ORM's
        bookkeeping); None when a unique constraint says it was posted before."""
        lead = job.lead
        row = LeadRow(
            source=lead.source, external_id=job.external_id, api_key_id=job.api_key_id,
            idempotency_key=job.idempotency_key, request_sha256=job.digest,
            received_at=lead.received_at, created_at=job.now, payload=job.payload,
            phone=lead.contact.phone or None, email=lead.contact.email or None,
            stage=Stage.NEW.value, status="new", case={}, explanation={}, is_test=job.is_test)
        values = {c: getattr(row, c) for c in _INSERTED}
        found = s.execute(_insert_lead(s.get_bind().dialect.name), values).scalar()
        if found is None:
            return None
        row.id = found
        return row


_LEADS = cast(Table, LeadRow.__table__)
_INSERTED = ("source", "external_id", "api_key_id", "idempotency_key", "request_sha256",
             "received_at", "created_at", "payload", "phone", "email", "stage", "status",
             "case", "explanation", "is_test")


def _close_test_lead(s: Session, row: LeadRow) -> None:
    """A source's test lead (Google Ads' "send test data"): stored and closed at once, so it
    proves the connection without taking an officer's slot, a notice or a place in the
    figures."""
    case = Case(str(row.id), row.received_at, stage=Stage.CLOSED, reason="test lead")
    row.case, row.stage, row.status = case.to_record(), Stage.CLOSED.value, "closed"
    row.first_status = "test"
    row.explanation = {"status": "test", "reason": "a test lead from the source: stored, "
                                                   "not routed", "notes": []}
    s.execute(update(_LEADS).where(_LEADS.c.id == row.id).values(
        case=row.case, stage=row.stage, status=row.status, first_status=row.first_status,
        explanation=row.explanation))


@lru_cache(maxsize=4)
def _insert_lead(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: no id back means one of the unique
    constraints (idempotency key, source and external id) holds the lead already."""
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(_LEADS)
    return stmt.on_conflict_do_nothing().returning(_LEADS.c.id)
