"""``leadroute demo-leads``: a small generator that keeps something moving in a demo system.

It posts the demo leads (data/demo/leads.csv, received now, each with a fresh id) to the API
at a steady rate with an ingest key, and plays the officers with an admin key: a lead
assigned to an officer is accepted after a short while and later gets an outcome (contacted,
then funded or lost). Keys come from the environment (LEADROUTE_DEMO_INGEST_KEY,
LEADROUTE_DEMO_ADMIN_KEY), never from the command line, where `ps` would show them. Its log
holds lead ids and statuses only, never contact details.
"""

from __future__ import annotations

import csv
import heapq
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer

DEMO_LEADS = Path(__file__).resolve().parent.parent / "data" / "demo" / "leads.csv"
ACCEPT_AFTER_S = (5.0, 60.0)
OUTCOME_AFTER_S = (30.0, 300.0)
FUNDED_SHARE = 0.3


def lead_body(row: dict[str, str], number: int, run: str) -> dict[str, Any]:
    """A demo row as the API's lead: a fresh id, received now (the API's clock), the rest as
    in the file (empty fields left out)."""
    body = {k: v for k, v in row.items() if v != "" and k not in ("lead_id", "received_at")}
    body["lead_id"] = f"DEMO-{run}-{number:06d}"
    return body


def demo_leads(
    api: Annotated[str, typer.Option(help="The API's address.")] = "http://127.0.0.1:8000",
    per_minute: Annotated[float, typer.Option(min=0.1, max=6000,
                                              help="Leads posted per minute.")] = 6.0,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the officers' answers.")] = 0,
    count: Annotated[int, typer.Option(min=0, help="Stop after this many leads (0: run until "
                                                   "stopped).")] = 0,
) -> None:
    """Post demo leads to the API at a steady rate and answer for the officers."""
    import httpx
    import numpy as np

    ingest = os.environ.get("LEADROUTE_DEMO_INGEST_KEY", "")
    admin = os.environ.get("LEADROUTE_DEMO_ADMIN_KEY", "")
    if not ingest:
        typer.echo("error: set LEADROUTE_DEMO_INGEST_KEY to an ingest (or admin) key", err=True)
        raise typer.Exit(2)
    with DEMO_LEADS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.default_rng(seed)
    run = f"{int(time.time()):x}"
    client = httpx.Client(base_url=api, timeout=30.0)
    post_headers = {"Authorization": f"Bearer {ingest}"}
    admin_headers = {"Authorization": f"Bearer {admin}"}
    pending: list[tuple[float, int, str, str]] = []  # (due, lead, action, officer)
    interval_s = 60.0 / per_minute
    next_post = time.monotonic()
    posted = 0
    try:
        while count == 0 or posted < count or pending:
            now = time.monotonic()
            if (count == 0 or posted < count) and now >= next_post:
                body = lead_body(rows[posted % len(rows)], posted, run)
                try:
                    r = client.post("/v1/leads", json=body, headers=post_headers)
                except httpx.HTTPError as exc:
                    typer.echo(f"post failed: {type(exc).__name__}", err=True)
                else:
                    posted += 1
                    if r.status_code in (200, 201):
                        out = r.json()
                        a = out.get("assignment") or {}
                        typer.echo(f"lead {out['id']} {body['lead_id']}: {a.get('status')} "
                                   f"{a.get('officer_id') or ''}", err=True)
                        if admin and a.get("status") == "assigned" and a.get("officer_id"):
                            heapq.heappush(pending, (now + rng.uniform(*ACCEPT_AFTER_S),
                                                     int(out["id"]), "accept",
                                                     str(a["officer_id"])))
                    else:
                        typer.echo(f"lead {body['lead_id']}: HTTP {r.status_code}", err=True)
                next_post += interval_s
            while pending and pending[0][0] <= now:
                _, lead, action, officer = heapq.heappop(pending)
                _answer(client, admin_headers, lead, action, officer, rng, pending, now)
            time.sleep(max(min(next_post, pending[0][0] if pending else next_post)
                           - time.monotonic(), 0.05))
    except KeyboardInterrupt:
        pass
    finally:
        client.close()


def _answer(client: Any, headers: dict[str, str], lead: int, action: str, officer: str,
            rng: Any, pending: list[tuple[float, int, str, str]], now: float) -> None:
    """One officer action; the next one is queued."""
    import httpx

    try:
        if action == "accept":
            r = client.post(f"/v1/leads/{lead}/accept", json={"officer_id": officer},
                            headers=headers)
            if r.status_code == 200:
                heapq.heappush(pending, (now + rng.uniform(*OUTCOME_AFTER_S), lead,
                                         "contacted", officer))
        elif action == "contacted":
            r = client.post(f"/v1/leads/{lead}/outcome", json={"outcome": "contacted"},
                            headers=headers)
            heapq.heappush(pending, (now + rng.uniform(*OUTCOME_AFTER_S), lead, "close",
                                     officer))
        else:
            funded = rng.random() < FUNDED_SHARE
            body = {"outcome": "funded", "amount": "300000.00"} if funded else \
                {"outcome": "lost"}
            r = client.post(f"/v1/leads/{lead}/outcome", json=body, headers=headers)
        typer.echo(f"lead {lead}: {action} by {officer}: HTTP {r.status_code}", err=True)
    except httpx.HTTPError as exc:
        typer.echo(f"lead {lead}: {action} failed: {type(exc).__name__}", err=True)
