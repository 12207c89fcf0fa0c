"""Load against a real server process (uvicorn on 127.0.0.1): start and stop (or kill) it,
seed its database, post leads from many clients, at full speed or at a fixed rate. Used by
the slow tests and by benchmarks/bench_api*.py."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from api.db import Database, upgrade
from api.routers.officers import as_row, save_roster
from api.security import Scope, create_key

ROOT = Path(__file__).resolve().parents[2]
DEMO_LEADS = ROOT / "data" / "demo" / "leads.csv"
STATES = ("AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
          "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def officer_rows(n: int, **fields: Any) -> list[dict[str, str]]:
    """``n`` equal officers: licensed everywhere, always working, no caps, weight 1."""
    rows = []
    for i in range(n):
        row = {"officer_id": f"LO{i:04d}", "name": f"Officer {i}", "nmls_id": str(100000 + i),
               "licensed_states": ";".join(STATES), "languages": "en;es", "specialties": "",
               "max_open": "", "daily_cap": "", "hourly_cap": "",
               "timezone": "America/Chicago", "work_hours": "", "weight": "1", "team": "main",
               "status": "active", "email": f"lo{i}@lender.example.com", "phone": "",
               "notify": "email"}
        row.update({k: str(v) for k, v in fields.items()})
        rows.append(as_row(row))
    return rows


def seed(url: str, officers: list[dict[str, str]]) -> str:
    """Migrate the database, store the officers; returns an admin key."""
    upgrade(url)
    db = Database(url)
    try:
        with db.writing() as s:
            save_roster(s, officers, datetime.now(UTC))
            _, key = create_key(s, Scope.ADMIN, datetime.now(UTC), rate_limit="1000000/minute")
    finally:
        db.dispose()
    return key


def lead_bodies(n: int, tag: str = "L") -> list[dict[str, Any]]:
    """``n`` lead bodies from the demo leads (cycled), each with its own id and borrower,
    received now (the server's clock), policy: the default."""
    with open(DEMO_LEADS, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for k in range(n):
        row = dict(rows[k % len(rows)])
        row.pop("received_at")
        row["lead_id"] = f"{tag}{k:07d}"
        row["email"] = f"b{tag}{k}@example.com"
        row["phone"] = ""
        row["language"] = "en"
        out.append(row)
    return out


@dataclass
class Server:
    """A uvicorn process serving ``app`` ("module:attr"), on a free port."""

    app: str = "api.app:create_app"
    factory: bool = True
    workers: int = 1
    env: dict[str, str] | None = None
    app_dir: str | None = None
    log: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Server:
        self.port = self.port or free_port()
        cmd = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1", "--port",
               str(self.port), "--workers", str(self.workers), "--no-access-log",
               "--log-level", "warning"]
        if self.factory:
            cmd.append("--factory")
        if self.app_dir:
            cmd += ["--app-dir", self.app_dir]
        env = {**os.environ, **(self.env or {})}
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=out,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not answer /healthz in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill9(self) -> None:
        """``kill -9`` the server and its workers."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    lead_id: int | None
    officer_id: str | None
    seconds: float


def _clients(url: str, key: str, n: int) -> list[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"}
    return [httpx.Client(base_url=url, headers=headers, timeout=30) for _ in range(n)]


def _post(client: httpx.Client, body: dict[str, Any]) -> Answer:
    started = time.perf_counter()
    try:
        r = client.post("/v1/leads", json=body)
    except httpx.HTTPError:
        return Answer(0, None, None, time.perf_counter() - started)
    took = time.perf_counter() - started
    if r.status_code in (200, 201):
        data = r.json()
        officer = (data.get("assignment") or {}).get("officer_id")
        return Answer(r.status_code, data.get("id"), officer, took)
    return Answer(r.status_code, None, None, took)


def post_all(url: str, key: str, bodies: Sequence[dict[str, Any]], concurrency: int,
             stop: threading.Event | None = None) -> list[Answer]:
    """Post every body, ``concurrency`` clients at full speed (each its own connection);
    stops early when ``stop`` is set. Answers in the order sent per client."""
    clients = _clients(url, key, concurrency)
    answers: list[Answer] = []
    lock = threading.Lock()
    it: Iterator[dict[str, Any]] = iter(bodies)

    def loop(client: httpx.Client) -> None:
        while stop is None or not stop.is_set():
            with lock:
                body = next(it, None)
            if body is None:
                return
            a = _post(client, body)
            with lock:
                answers.append(a)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(loop, clients))
    for c in clients:
        c.close()
    return answers


def post_at_rate(url: str, key: str, bodies: Sequence[dict[str, Any]], rate_per_s: float,
                 threads: int = 32) -> list[Answer]:
    """Open loop: one post every 1/rate seconds whatever the answers (latency counted from
    the moment each was due to go, so a slow server cannot hide its queue)."""
    clients = _clients(url, key, threads)
    free: list[httpx.Client] = list(clients)
    lock = threading.Lock()
    answers: list[Answer] = []
    start = time.perf_counter()

    def send(k: int, body: dict[str, Any]) -> None:
        due = start + k / rate_per_s
        with lock:
            client = free.pop()
        a = _post(client, body)
        with lock:
            free.append(client)
            answers.append(Answer(a.status, a.lead_id, a.officer_id,
                                  time.perf_counter() - due))

    with ThreadPoolExecutor(threads) as pool:
        for k, body in enumerate(bodies):
            wait = start + k / rate_per_s - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            pool.submit(send, k, body)
    for c in clients:
        c.close()
    return answers


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def audit(url: str, caps: dict[str, int] | None = None, due_before: datetime | None = None
          ) -> dict[str, Any]:
    """What the database says after a load: leads stored, leads assigned more than once or
    never, per-officer assignments, open-lead counters that disagree with the leads, daily
    caps exceeded (``caps``: officer -> daily cap), offers whose deadline was before
    ``due_before`` (default: now) still open."""
    from sqlalchemy import func, select

    from api.models import Lead, LeadEvent, OfficerState

    db = Database(url)
    try:
        with db.reading() as s:
            leads = int(s.scalar(select(func.count()).select_from(Lead)) or 0)
            assigned = dict(s.execute(
                select(LeadEvent.lead_id, func.count()).where(LeadEvent.kind == "assigned")
                .group_by(LeadEvent.lead_id)).all())
            holders = dict(s.execute(select(Lead.officer_id, func.count())
                                     .where(Lead.officer_id.is_not(None),
                                            Lead.stage.in_(("offered", "accepted")))
                                     .group_by(Lead.officer_id)).all())
            state = {r.officer_id: r for r in s.scalars(select(OfficerState))}
            per_officer = dict(s.execute(
                select(LeadEvent.officer_id, func.count()).where(LeadEvent.kind == "assigned")
                .group_by(LeadEvent.officer_id)).all())
            due_past = int(s.scalar(select(func.count()).select_from(Lead).where(
                Lead.stage == "offered", Lead.due_at < (due_before or datetime.now(UTC))))
                or 0)
    finally:
        db.dispose()
    return {
        "leads": leads,
        "assigned_twice": sum(1 for n in assigned.values() if n > 1),
        "never_assigned": leads - len(assigned),
        "per_officer": per_officer,
        "counter_mismatch": {o: (r.open_leads, holders.get(o, 0)) for o, r in state.items()
                             if r.open_leads != holders.get(o, 0)},
        "cap_exceeded": {o: per_officer.get(o, 0) for o, cap in (caps or {}).items()
                         if per_officer.get(o, 0) > cap},
        "offers_past_due": due_past,
    }
