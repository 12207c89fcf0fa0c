"""The API on PostgreSQL with four server processes and eight concurrent clients posting
5,000 leads: throughput, and what the database says afterwards (leads assigned twice, daily
caps exceeded, the spread of leads among equal officers: at most one is fair).

Needs the PostgreSQL server at 127.0.0.1:5432 (trust auth; LEADROUTE_TEST_POSTGRES to point
elsewhere); uses a database of its own, dropped at the end.
Run: ``python benchmarks/bench_api_pg.py [--leads 5000] [--workers 4] [--clients 8]``.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from _common import verdict
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.api.load import Server, audit, lead_bodies, officer_rows, post_all, seed

ADMIN_URL = os.environ.get("LEADROUTE_TEST_POSTGRES",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EQUALS = 10
CAPPED = {"LO0010": 60, "LO0011": 60}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    name = f"leadroute_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        officers = officer_rows(EQUALS) + [
            {**row, "officer_id": oid, "daily_cap": str(cap)}
            for row, (oid, cap) in zip(officer_rows(len(CAPPED)), CAPPED.items(), strict=True)]
        key = seed(url, officers)
        server = Server(workers=args.workers, env={"LEADROUTE_DATABASE_URL": url,
                                                   "LEADROUTE_LOG_LEVEL": "WARNING"}).start()
        try:
            started = time.perf_counter()
            answers = post_all(server.url, key, lead_bodies(args.leads, "P"), args.clients)
            took = time.perf_counter() - started
        finally:
            server.stop()
        found = audit(url, CAPPED)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    ok = sum(a.status == 201 for a in answers)
    equals = [found["per_officer"].get(f"LO{i:04d}", 0) for i in range(EQUALS)]
    spread = max(equals) - min(equals)
    print(f"== PostgreSQL, {args.workers} workers, {args.clients} clients ==")
    print(f"{ok}/{len(answers)} answered 201 in {took:.1f} s ({ok / took:.0f} leads/s); "
          f"{found['leads']} stored")
    print(f"assigned twice: {found['assigned_twice']}, never: {found['never_assigned']} "
          f"({verdict(found['assigned_twice'] == 0 and found['never_assigned'] == 0)})")
    print(f"daily caps exceeded: {len(found['cap_exceeded'])} (capped officers got "
          f"{[found['per_officer'].get(o, 0) for o in CAPPED]} of {list(CAPPED.values())}; "
          f"{verdict(not found['cap_exceeded'])})")
    print(f"open-lead counters that disagree with the leads: {len(found['counter_mismatch'])}")
    print(f"equal officers: {min(equals)} to {max(equals)} leads each, spread {spread} "
          f"(target <= 1: {verdict(spread <= 1)})")


if __name__ == "__main__":
    main()
