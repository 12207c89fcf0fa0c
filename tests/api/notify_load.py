"""Leads posted at a fixed rate to a real server process while an aiosmtpd server takes the
notices (and may be down for a while): how long from a lead's arrival to its first notice
being handed to the SMTP server, and whether every notice arrived exactly once per delivery
key. Used by the slow test and by benchmarks/bench_notify.py."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from api.db import Database
from api.models import Outbox
from tests.api.load import Server, lead_bodies, officer_rows, seed
from tests.api.peers import SmtpProcess


@dataclass
class NotifyRun:
    posted: int  # leads answered 2xx
    failed_posts: int
    rows: int  # outbox rows written
    sent: int  # rows marked sent
    keys_received: int  # distinct delivery keys the SMTP server got
    duplicates: int  # mails beyond one per key
    missing: int  # rows marked sent whose key never arrived
    first_notice_s: list[float]  # per lead: arrival to first notice at the SMTP server
    drained_s: float  # after the outage ended: until the outbox was empty
    answer_s: list[float]  # per lead: due to answered (the POST alone)


def run(folder: Path, *, rate: float, seconds: float, outage: tuple[float, float] | None,
        officers: int = 40, settle_s: float = 120.0, env: dict[str, str] | None = None
        ) -> NotifyRun:
    """Post ``rate * seconds`` leads at ``rate``/s; with ``outage=(start, length)`` the SMTP
    server is down from ``start`` s into the load for ``length`` s. Then wait (at most
    ``settle_s``) until no notice is pending and audit."""
    url = f"sqlite:///{folder / 'api.db'}"
    key = seed(url, officer_rows(officers))
    smtp = SmtpProcess(folder).up()
    server = Server(env={"LEADROUTE_DATABASE_URL": url, "LEADROUTE_LOG_LEVEL": "WARNING",
                         "LEADROUTE_SMTP_HOST": "127.0.0.1",
                         "LEADROUTE_SMTP_PORT": str(smtp.port),
                         "LEADROUTE_SMTP_TIMEOUT_S": "2",
                         "LEADROUTE_OUTBOX_BACKOFF_S": "1",
                         "LEADROUTE_OUTBOX_BACKOFF_MAX_S": "8",
                         "LEADROUTE_OUTBOX_MAX_ATTEMPTS": "100",
                         **(env or {})}, log=folder / "server.log")
    server.start()
    sent_at: dict[int, float] = {}
    answered: list[float] = []
    failed = 0
    lock = threading.Lock()
    outage_end = 0.0
    try:
        bodies = lead_bodies(int(rate * seconds), "N")
        clients = [httpx.Client(base_url=server.url, timeout=30,
                                headers={"Authorization": f"Bearer {key}"}) for _ in range(16)]
        free = list(clients)
        start = time.time()

        def send(k: int, body: dict[str, Any]) -> None:
            nonlocal failed
            due = start + k / rate
            with lock:
                client = free.pop()
            try:
                r = client.post("/v1/leads", json=body)
                ok = r.status_code in (200, 201)
                lead_id = r.json()["id"] if ok else None
            except httpx.HTTPError:
                ok, lead_id = False, None
            with lock:
                free.append(client)
                if ok and lead_id is not None:
                    sent_at[lead_id] = due
                    answered.append(time.time() - due)
                else:
                    failed += 1

        def outage_thread() -> None:
            nonlocal outage_end
            if outage is None:
                return
            time.sleep(max(0.0, start + outage[0] - time.time()))
            smtp.down()
            time.sleep(outage[1])
            smtp.up()
            outage_end = time.time()

        t = threading.Thread(target=outage_thread, daemon=True)
        t.start()
        with ThreadPoolExecutor(16) as pool:
            for k, body in enumerate(bodies):
                wait = start + k / rate - time.time()
                if wait > 0:
                    time.sleep(wait)
                pool.submit(send, k, body)
        t.join()
        for c in clients:
            c.close()
        outage_end = outage_end or time.time()
        db = Database(url)
        try:
            deadline = time.time() + settle_s
            while time.time() < deadline:
                with db.reading() as s:
                    waiting = s.scalar(select(func.count()).select_from(Outbox).where(
                        Outbox.status.in_(("pending", "sending"))))
                if not waiting:
                    break
                time.sleep(0.25)
            drained = time.time() - outage_end
            with db.reading() as s:
                rows = s.execute(select(Outbox.lead_id, Outbox.delivery_key,
                                        Outbox.status)).all()
        finally:
            db.dispose()
    finally:
        server.stop()
        smtp.down()
    mails = smtp.received()
    by_key: dict[str, int] = {}
    first: dict[int, float] = {}
    for m in mails:
        k = m.message_id.strip("<>").removesuffix("@leadroute")
        by_key[k] = by_key.get(k, 0) + 1
    lead_of = {f"{r.delivery_key}.email": r.lead_id for r in rows}
    for m in mails:
        k = m.message_id.strip("<>").removesuffix("@leadroute")
        lid = lead_of.get(k)
        if lid is not None:
            first[lid] = min(first.get(lid, m.at), m.at)
    sent_keys = {f"{r.delivery_key}.email" for r in rows if r.status == "sent"}
    return NotifyRun(
        posted=len(sent_at), failed_posts=failed, rows=len(rows),
        sent=sum(r.status == "sent" for r in rows), keys_received=len(by_key),
        duplicates=sum(n - 1 for n in by_key.values()),
        missing=len(sent_keys - set(by_key)),
        first_notice_s=[first[lid] - due for lid, due in sent_at.items() if lid in first],
        drained_s=drained, answer_s=answered)
