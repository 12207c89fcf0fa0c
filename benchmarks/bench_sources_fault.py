"""Forged and wrong-key deliveries against a real server: 1,000 forged Meta notifications and
1,000 wrong-key Google Ads deliveries shuffled among 50 real ones of each, posted by 8
concurrent clients to the API under uvicorn (SQLite, its worker on, a local stand-in of the
Graph API). Then counts, from the database, what was stored, and every answer's status.

Targets: zero leads, fetches or rejected deliveries from the forged ones; zero 5xx; every
real one stored. Also prints answer times per kind: a forged delivery is refused before any
database work, and a Meta notification is acknowledged before the Graph fetch.
Run: ``python benchmarks/bench_sources_fault.py [--forged 1000] [--real 50] [--clients 8]``.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _common import verdict
from sqlalchemy import func, select

from api.db import Database
from api.models import Lead as LeadRow
from api.models import RejectedDelivery, SourceFetch
from tests.api.load import Server, officer_rows, percentile, seed
from tests.api.sources_fault import Delivery, fault_mix
from tests.api.sources_peers import (
    ACCESS_TOKEN,
    APP_SECRET,
    GOOGLE_KEY,
    GRAPH_VERSION,
    VERIFY_TOKEN,
    GraphStandIn,
)


def post_all(url: str, deliveries: list[Delivery], clients: int
             ) -> list[tuple[str, int, float]]:
    """(kind, status, milliseconds) of each delivery, posted by ``clients`` threads."""
    out: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    queue = list(reversed(deliveries))

    def run() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    d = queue.pop()
                started = time.perf_counter()
                r = client.post(d.path, content=d.body, headers=d.headers)
                ms = (time.perf_counter() - started) * 1000
                with lock:
                    out.append((d.kind, r.status_code, ms))

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--forged", type=int, default=1000)
    parser.add_argument("--real", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    deliveries, leads = fault_mix(forged_meta=args.forged, wrong_google=args.forged,
                                  real_meta=args.real, real_google=args.real)
    graph = GraphStandIn().start()
    graph.leads.update(leads)
    print(f"== {args.forged} forged Meta + {args.forged} wrong-key Google among "
          f"{args.real} + {args.real} real, {args.clients} clients, uvicorn + SQLite ==")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'fault.db'}"
        seed(url, officer_rows(10))
        server = Server(env={
            "LEADROUTE_DATABASE_URL": url, "LEADROUTE_RATE_LIMIT": "1000000/minute",
            "LEADROUTE_META_VERIFY_TOKEN": VERIFY_TOKEN, "LEADROUTE_META_APP_SECRET": APP_SECRET,
            "LEADROUTE_META_ACCESS_TOKEN": ACCESS_TOKEN, "LEADROUTE_META_GRAPH_URL": graph.url,
            "LEADROUTE_META_GRAPH_VERSION": GRAPH_VERSION, "LEADROUTE_GOOGLE_ADS_KEY": GOOGLE_KEY,
            "LEADROUTE_WORKER_POLL_S": "0.2"}).start()
        try:
            started = time.perf_counter()
            answers = post_all(server.url, deliveries, args.clients)
            took = time.perf_counter() - started
            db = Database(url)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with db.reading() as s:
                    pending = s.scalar(select(func.count()).select_from(SourceFetch)
                                       .where(SourceFetch.status == "pending"))
                if not pending:
                    break
                time.sleep(0.5)
            fetched_s = time.perf_counter() - started
            with db.reading() as s:
                externals = list(s.scalars(select(LeadRow.external_id)))
                fetches = s.scalar(select(func.count()).select_from(SourceFetch)) or 0
                done = s.scalar(select(func.count()).select_from(SourceFetch)
                                .where(SourceFetch.status == "done")) or 0
                rejected = s.scalar(select(func.count()).select_from(RejectedDelivery)) or 0
            db.dispose()
        finally:
            server.stop()
            graph.stop()
    by_kind: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    ms: dict[str, list[float]] = collections.defaultdict(list)
    for kind, status, t in answers:
        by_kind[kind][status] += 1
        ms[kind].append(t)
    print(f"{len(answers)} deliveries in {took:.1f} s; real Meta leads all fetched "
          f"{fetched_s:.1f} s after the first post")
    for kind in ("forged-meta", "wrong-key-google", "real-meta", "real-google"):
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(by_kind[kind].items()))
        print(f"  {kind:17s} {counts:28s} p50 {statistics.median(ms[kind]):6.1f} ms, "
              f"p99 {percentile(ms[kind], 99):6.1f} ms")
    real_ids = {f"G-REAL-{i}" for i in range(args.real)}
    forged_stored = sum(1 for e in externals if e and e.startswith("G-FAKE")) + \
        max(0, fetches - args.real)
    fivexx = sum(1 for _, status, _ in answers if status >= 500)
    real_ok = real_ids <= set(externals) and done == args.real and len(externals) == 2 * args.real
    print(f"stored from forged or wrong-key deliveries: {forged_stored} (leads "
          f"{len(externals) - 2 * args.real:+d} over the real ones, fetch rows {fetches}, "
          f"rejected deliveries {rejected})")
    print(f"5xx answers: {fivexx}")
    print(f"every real delivery stored: {real_ok} ({len(externals)} leads, {done} fetched)")
    ok = forged_stored == 0 and fivexx == 0 and rejected == 0 and real_ok
    print(f"target (zero stored, zero 5xx, every real one stored): {verdict(ok)}")


if __name__ == "__main__":
    main()
