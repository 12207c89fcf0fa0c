"""The Graph fetcher: the worker side of Meta Lead Ads. A notification only writes a
``source_fetches`` row per ``leadgen_id`` and is acknowledged; this fetches each lead from the
Graph API (``GET <graph>/<version>/<leadgen_id>``, httpx), maps it and stores it.

A row is claimed by moving its ``next_attempt_at`` a lease ahead in a short transaction (on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so several workers share the rows), fetched with
no transaction open, and settled in another: ``done`` with the lead's id, ``rejected`` (the
lead cannot be read: kept in ``rejected_deliveries``), or, when the Graph API fails or cannot
be reached, tried again after ``fetch_backoff_s`` x 2^(attempts-1) (times a random 0.5 to 1,
so retries do not come in waves) until ``fetch_max_attempts``, then ``dead``. A worker that
dies between claim and settlement leaves the row to be claimed again when its lease ends.
The access token never reaches a log or a stored error.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from api.db import Database
from api.models import SourceFetch
from api.problems import field_errors
from api.settings import Settings
from api.sources import meta
from api.sources.mapping import MappingError, parse_json
from api.sources.registry import META, SourceMaps
from api.sources.store import Unreadable, deliver, keep_rejected
from engine.errors import redact

log = logging.getLogger("leadroute.fetch")
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the URL's token
RETRIED_STATUS = frozenset({408, 425, 429})  # and every 5xx


class GraphFetcher:
    """Fetches announced Meta leads. ``state``: what ``deliver`` needs (``db``, ``runtime``,
    ``ingestor``); ``client``: an httpx client (tests pass one with a transport)."""

    def __init__(self, state: Any, settings: Settings, maps: SourceMaps,
                 clock: Callable[[], datetime], *, client: httpx.Client | None = None,
                 rng: random.Random | None = None, batch: int = 20) -> None:
        self.state, self.settings, self.maps, self.clock = state, settings, maps, clock
        self.client = client or httpx.Client(timeout=settings.fetch_timeout_s)
        self.rng = rng or random.Random()
        self.batch = batch
        self._wake = threading.Event()

    @property
    def db(self) -> Database:
        db: Database = self.state.db
        return db

    def wake(self) -> None:
        """New rows: fetch now rather than at the next poll."""
        self._wake.set()

    def run_forever(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                done = self.run_once()
            except Exception:
                log.exception("graph fetch round failed")
                done = 0
            if done == 0:
                self._wake.wait(poll_s)
                self._wake.clear()

    def run_once(self) -> int:
        """Claim the due rows and fetch each; returns how many were tried."""
        claimed = self._claim()
        for row_id, leadgen_id, notice, attempts in claimed:
            self._fetch(row_id, leadgen_id, notice, attempts)
        return len(claimed)

    def _claim(self) -> list[tuple[int, str, dict[str, Any], int]]:
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.fetch_timeout_s * 3 + 5)
        with self.db.writing() as s:
            q = (select(SourceFetch.id, SourceFetch.external_id, SourceFetch.notice,
                        SourceFetch.attempts)
                 .where(SourceFetch.status == "pending", SourceFetch.next_attempt_at <= now)
                 .order_by(SourceFetch.next_attempt_at).limit(self.batch))
            if s.get_bind().dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = [(r.id, r.external_id, dict(r.notice), r.attempts) for r in s.execute(q)]
            if rows:
                s.execute(update(SourceFetch).where(SourceFetch.id.in_([r[0] for r in rows]))
                          .values(next_attempt_at=lease))
        return rows

    def _settle(self, row_id: int, **values: Any) -> None:
        with self.db.writing() as s:
            s.execute(update(SourceFetch).where(SourceFetch.id == row_id).values(**values))

    def _retry(self, row_id: int, attempts: int, error: str) -> None:
        attempts += 1
        if attempts >= self.settings.fetch_max_attempts:
            log.warning("graph fetch given up", extra={"fields": {
                "fetch_id": row_id, "attempts": attempts, "error": error}})
            self._settle(row_id, status="dead", attempts=attempts, last_error=error)
            return
        delay = self.settings.fetch_backoff_s * 2 ** (attempts - 1) * self.rng.uniform(0.5, 1)
        self._settle(row_id, attempts=attempts, last_error=error,
                     next_attempt_at=self.clock() + timedelta(seconds=delay))

    def _secret_free(self, text: str) -> str:
        """An error as it may be stored and logged: no token, no email or phone number."""
        token = self.settings.meta_access_token
        if token is not None and token.get_secret_value():
            text = text.replace(token.get_secret_value(), "***")
        return redact(text[:500])

    def _fetch(self, row_id: int, leadgen_id: str, notice: dict[str, Any], attempts: int
               ) -> None:
        s = self.settings
        token = s.meta_access_token.get_secret_value() if s.meta_access_token else ""
        url = f"{s.meta_graph_url.rstrip('/')}/{s.meta_graph_version}/{leadgen_id}"
        try:
            r = self.client.get(url, params={"access_token": token},
                                timeout=s.fetch_timeout_s)
        except httpx.HTTPError as exc:
            self._retry(row_id, attempts, self._secret_free(
                f"{type(exc).__name__}: {exc}"))
            return
        if r.status_code != 200:
            # a 4xx other than these (a bad or expired token, a missing permission) may be
            # put right by an operator while the retries last
            kind = "retryable" if r.status_code >= 500 or r.status_code in RETRIED_STATUS \
                else "refused"
            self._retry(row_id, attempts, self._secret_free(
                f"HTTP {r.status_code} ({kind}): {r.text[:300]}"))
            return
        m = self.maps.get(META)
        if m is None:
            self._retry(row_id, attempts, f"no map for Meta ({META} in the sources folder)")
            return
        ref = meta.LeadgenRef(**{k: str(notice.get(k, "")) for k in (
            "leadgen_id", "page_id", "form_id", "ad_id", "created_time")})
        now = self.clock()
        try:
            lead = parse_json(r.content)
            if not isinstance(lead, dict):
                raise MappingError([])
            mapped = meta.map_lead(lead, ref, m)
            delivered = deliver(self.state, mapped, api_key_id=None, now=now)
        except MappingError as exc:
            errors = field_errors(exc.problems) or [
                {"field": "body", "message": "expected a JSON object", "value": None}]
            self._reject(row_id, attempts, r.content, errors, leadgen_id, now)
            return
        except Unreadable as exc:
            self._reject(row_id, attempts, r.content, exc.errors, leadgen_id, now)
            return
        self._settle(row_id, status="done", attempts=attempts + 1, last_error="",
                     lead_id=delivered.out.id)

    def _reject(self, row_id: int, attempts: int, raw: bytes, errors: list[dict[str, Any]],
                leadgen_id: str, now: datetime) -> None:
        kept = keep_rejected(self.state, "meta", raw, "application/json", errors,
                             "the Graph API's lead cannot be read", now, leadgen_id)
        self._settle(row_id, status="rejected", attempts=attempts + 1,
                     last_error=f"kept as rejected delivery {kept}")

    def close(self) -> None:
        self.client.close()
