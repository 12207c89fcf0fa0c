"""Delivery of the outbox: the notices written with each transition go out over the officer's
channels, with retries and a delivery key, so an outage or a crash loses none and a receiver
never gets the same attempt twice without being able to tell.

A round: claim due rows (``pending``, or ``sending`` whose lease ran out) in one short write
transaction, marking them ``sending`` until ``now + lease`` (on PostgreSQL with ``FOR UPDATE
SKIP LOCKED``, so several deliverers share the rows); send outside any transaction; write the
attempts, the rows' new status and a line in each lead's history in a second transaction. A
crash between the two leaves the rows ``sending``; once their lease ends they are claimed
again and sent with the same delivery key (``{row key}.{channel}``), which receivers use to
drop a copy they already have: at least once on the wire, exactly once per key for a receiver
that keeps the keys.

Channels are tried in the officer's order (the roster's ``notify``): the first that takes the
notice ends the round for that row, unless ``notify_redundant`` asks for every channel. When
none does, the row waits ``backoff_s * 2**(attempts-1)`` (at most ``backoff_max_s``) and is
tried again; after ``max_attempts`` rounds it is ``dead``: kept, counted in the metrics and
written in the lead's history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update

from api import metrics
from api.db import Database
from api.flow import locked
from api.models import Lead as LeadRow
from api.models import LeadEvent, Outbox, OutboxAttempt
from api.notify.channels import DeliveryError, Sender, senders
from api.notify.message import Notice, build_notice
from api.runtime import Runtime
from api.settings import Settings
from engine.domain import Officer

log = logging.getLogger("leadroute.outbox")
_ATTEMPTS = cast(Table, OutboxAttempt.__table__)
_EVENTS = cast(Table, LeadEvent.__table__)
_OUTBOX = cast(Table, Outbox.__table__)
_FINISH = update(_OUTBOX).where(_OUTBOX.c.id == bindparam("k_id")).values(
    {c: bindparam(f"v_{c}") for c in ("status", "channels_done", "last_error", "sent_at",
                                      "next_attempt_at")})


def backoff(attempts: int, base_s: float, max_s: float) -> float:
    """Seconds to wait after ``attempts`` failed rounds: ``base_s``, doubled each round, at
    most ``max_s``."""
    return min(max_s, base_s * 2.0 ** max(0, min(attempts - 1, 60)))


@dataclass
class _Claimed:
    id: int
    lead_id: int
    officer_id: str
    kind: str
    payload: dict[str, Any]
    key: str
    attempt: int
    done: list[str]
    created_at: datetime
    tried: list[dict[str, Any]] = field(default_factory=list)


class Deliverer:
    """Delivers due outbox rows. ``clock`` gives the time rows are due by (tests pass their
    own); ``channels`` replaces the senders built from the settings."""

    def __init__(self, db: Database, runtime: Runtime, settings: Settings,
                 clock: Callable[[], datetime], *,
                 channels: Mapping[str, Sender] | None = None) -> None:
        self.db, self.runtime, self.s, self.clock = db, runtime, settings, clock
        self.channels = dict(channels) if channels is not None else senders(settings)
        self.wake = threading.Event()
        # sends run side by side: a remote SMTP server answers each command a round trip
        # later, so one connection at a time would cap delivery at a few notices a second
        self._pool = ThreadPoolExecutor(settings.outbox_concurrency,
                                        thread_name_prefix="leadroute-send")

    # ------------------------------------------------------------------ one round
    def run_once(self, now: datetime | None = None) -> int:
        """Deliver every row due at ``now``; returns how many rows were tried."""
        total = 0
        while True:
            claimed = self._claim(now or self.clock())
            if not claimed:
                return total
            officers, leads = self._context(claimed)
            list(self._pool.map(self._deliver, claimed,
                                [officers.get(c.officer_id) for c in claimed],
                                [leads.get(c.lead_id) for c in claimed]))
            self._finish(claimed, now or self.clock())
            total += len(claimed)
            if len(claimed) < self.s.outbox_batch:
                return total

    def _claim(self, now: datetime) -> list[_Claimed]:
        lease = now + timedelta(seconds=self.s.outbox_lease_s)
        with self.db.writing() as s:
            rows = s.execute(locked(
                select(Outbox.id, Outbox.lead_id, Outbox.officer_id, Outbox.kind,
                       Outbox.payload, Outbox.delivery_key, Outbox.attempts,
                       Outbox.channels_done, Outbox.created_at)
                .where(or_(Outbox.status == "pending", Outbox.status == "sending"),
                       Outbox.next_attempt_at <= now)
                .order_by(Outbox.next_attempt_at, Outbox.id)
                .limit(self.s.outbox_batch), s, skip=True)).all()
            if not rows:
                return []
            s.execute(update(Outbox).where(Outbox.id.in_([r.id for r in rows]))
                      .values(status="sending", next_attempt_at=lease,
                              attempts=Outbox.attempts + 1))
        return [_Claimed(r.id, r.lead_id, r.officer_id, r.kind, r.payload,
                         r.delivery_key or f"lr-{r.id}", r.attempts + 1,
                         list(r.channels_done or []), r.created_at) for r in rows]

    def _context(self, claimed: list[_Claimed]) -> tuple[dict[str, Officer], dict[int, Any]]:
        with self.db.reading() as s:
            roster = self.runtime.roster(s)
            rows = s.execute(select(LeadRow.id, LeadRow.payload, LeadRow.request_sha256)
                             .where(LeadRow.id.in_({c.lead_id for c in claimed}))).all()
        officers = {o.officer_id: o for o in roster.officers}
        leads: dict[int, Any] = {}
        for r in rows:
            try:
                leads[r.id] = self.runtime.lead(
                    LeadRow(id=r.id, payload=r.payload, request_sha256=r.request_sha256))
            except Exception:  # a stored lead that no longer parses: the notice says less
                log.warning("lead not readable for its notice", extra={"fields": {
                    "lead_id": r.id}})
        return officers, leads

    def _deliver(self, c: _Claimed, officer: Officer | None, lead: Any) -> None:
        if officer is None:
            c.tried.append(self._attempt(c, "none", 0.0, "the officer is not on the roster"))
            return
        notice = build_notice(key=c.key, officer_id=c.officer_id, lead_id=c.lead_id,
                              kind=c.kind, payload=c.payload, lead=lead, now=self.clock(),
                              link=self._link(c.lead_id))
        order = [ch.value for ch in officer.notify] or ["email"]
        for name in order:
            if name in c.done:
                continue
            sender = self.channels.get(name)
            if sender is None or not sender.configured:
                c.tried.append(self._attempt(c, name, 0.0, f"{name} is not configured"))
                continue
            ok = self._try(c, sender, notice, officer)
            if ok and not self.s.notify_redundant:
                return

    def _try(self, c: _Claimed, sender: Sender, notice: Notice, officer: Officer) -> bool:
        key = f"{c.key}.{sender.name}"
        started = time.perf_counter()
        error: str | None = None
        try:
            sender.send(notice, officer, key)
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # an adapter's bug must not stop the other notices
            error = f"unexpected {type(exc).__name__}"
            log.exception("channel failed", extra={"fields": {"outbox_id": c.id,
                                                               "channel": sender.name}})
        ms = (time.perf_counter() - started) * 1000
        c.tried.append(self._attempt(c, sender.name, ms, error, key))
        if error is None:
            c.done.append(sender.name)
            metrics.NOTICES_SENT.labels(sender.name).inc()
            metrics.NOTICE_DELAY_SECONDS.observe(
                max(0.0, (self.clock() - c.created_at).total_seconds()))
            return True
        metrics.NOTICE_FAILURES.labels(sender.name).inc()
        return False

    def _attempt(self, c: _Claimed, channel: str, ms: float, error: str | None,
                 key: str | None = None) -> dict[str, Any]:
        return {"outbox_id": c.id, "attempt": c.attempt, "channel": channel,
                "delivery_key": key or f"{c.key}.{channel}", "started_at": self.clock(),
                "ms": round(ms, 3), "ok": error is None, "error": error}

    def _link(self, lead_id: int) -> str:
        base = self.s.public_url.rstrip("/")
        return f"{base}/v1/leads/{lead_id}" if base else ""

    def _complete(self, c: _Claimed, officer_channels: list[str]) -> bool:
        if not c.done:
            return False
        if not self.s.notify_redundant:
            return True
        configured = [n for n in officer_channels
                      if n in self.channels and self.channels[n].configured]
        return all(n in c.done for n in configured)

    def _finish(self, claimed: list[_Claimed], now: datetime) -> None:
        attempts: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        changes: list[dict[str, Any]] = []
        with self.db.reading() as s:
            roster = self.runtime.roster(s)
        channels_of = {o.officer_id: [ch.value for ch in o.notify] for o in roster.officers}
        with self.db.writing() as s:
            # only this round's claims: a row claimed again after its lease ran out belongs
            # to the later round, which writes its result
            current = cast("Select[Any]", select(Outbox.id, Outbox.attempts).where(
                Outbox.id.in_([c.id for c in claimed]), Outbox.status == "sending"))
            mine = {(r.id, r.attempts) for r in s.execute(locked(current, s))}
            for c in claimed:
                attempts += c.tried
                if (c.id, c.attempt) not in mine:
                    continue
                sent = self._complete(c, channels_of.get(c.officer_id, []))
                errors = [t["error"] for t in c.tried if t["error"]]
                last_error = "; ".join(f"{t['channel']}: {t['error']}" for t in c.tried
                                       if t["error"])[:1000] or None
                change: dict[str, Any] = {"k_id": c.id, "v_channels_done": c.done,
                                          "v_last_error": last_error, "v_sent_at": None,
                                          "v_next_attempt_at": now}
                last_round = c.attempt >= self.s.outbox_max_attempts
                if sent or (last_round and c.done):  # redundant: some channels took it
                    change.update(v_status="sent", v_sent_at=now)
                    detail = f"{c.kind} delivered by {', '.join(c.done)}"
                    kind = "notice_sent"
                elif last_round:
                    change.update(v_status="dead")
                    detail = f"{c.kind} not delivered after {c.attempt} rounds: given up"
                    kind = "notice_dead"
                    metrics.NOTICES_DEAD.inc()
                else:
                    wait = backoff(c.attempt, self.s.outbox_backoff_s,
                                   self.s.outbox_backoff_max_s)
                    change.update(v_status="pending",
                                  v_next_attempt_at=now + timedelta(seconds=wait))
                    detail = f"{c.kind} not delivered (round {c.attempt}); next try in " \
                             f"{wait:g} s"
                    kind = "notice_failed"
                changes.append(change)
                events.append({"lead_id": c.lead_id, "at": now, "kind": kind,
                               "officer_id": c.officer_id, "detail": detail,
                               "policy_version": "", "propensity": None,
                               "data": {"delivery_key": c.key, "round": c.attempt,
                                        "channels": c.done, "errors": errors[:10]}})
            if changes:
                s.execute(_FINISH, changes)
            if attempts:
                s.execute(insert(_ATTEMPTS), attempts)
            if events:
                s.execute(insert(_EVENTS), events)
        if log.isEnabledFor(logging.INFO):
            for c in claimed:
                log.info("notice", extra={"fields": {"outbox_id": c.id, "lead_id": c.lead_id,
                                                     "round": c.attempt,
                                                     "channels": c.done}})

    # ------------------------------------------------------------------ the loop
    def run_forever(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, looking every ``outbox_poll_s`` (or when woken)."""
        log.info("delivery started", extra={"fields": {"poll_s": self.s.outbox_poll_s}})
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be briefly away: try again next poll
                log.exception("delivery round failed")
            self.wake.wait(self.s.outbox_poll_s)
            self.wake.clear()
        self.close()
        log.info("delivery stopped")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for sender in self.channels.values():
            sender.close()
