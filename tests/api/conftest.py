"""The API under test: a fresh database per test (an SQLite file, or PostgreSQL in a database
made for this test session), a clock the test moves, keys of every scope."""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.app import create_app
from api.db import Database, upgrade
from api.models import Base
from api.routers.officers import as_row, save_roster
from api.security import Scope, create_key
from api.settings import Settings
from tests.conftest import LEAD_DEFAULTS, TUESDAY_15_UTC, officer_row

PG_ADMIN_URL = os.environ.get("LEADROUTE_TEST_POSTGRES",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT",
                               connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string(hide_password=True)} " \
               f"cannot be reached ({type(exc).__name__}); start it (.ci/run does)"
    return None


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database made for this test session, migrated, dropped at the end."""
    reason = _pg_reason()
    if reason is not None:
        pytest.skip(reason)
    name = f"leadroute_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: an SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "leadroute.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    _truncate(url)
    return url


@dataclass
class Clock:
    """The time the app sees; tests move it."""

    now: datetime = TUESDAY_15_UTC

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


_borrowers = itertools.count(1)


def lead_body(external_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A valid lead body (the tests' default lead: Dallas, TX) from a borrower of its own
    (an email of its own, no phone: so no two are linked as repeats), ``fields`` changed."""
    body: dict[str, Any] = dict(LEAD_DEFAULTS)
    body.pop("received_at")
    body["email"], body["phone"] = f"borrower{next(_borrowers)}@example.com", ""
    if external_id is not None:
        body["lead_id"] = external_id
    body.update(fields)
    return body


@dataclass
class Api:
    """A test client with a key of each scope and a key per officer."""

    client: TestClient
    db: Database
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str = "admin", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}

    def key(self, scope: Scope, officer_id: str | None = None, rate_limit: str | None = None
            ) -> str:
        with self.db.writing() as s:
            _, key = create_key(s, scope, self.clock(), officer_id=officer_id,
                                rate_limit=rate_limit)
        return key

    def officers(self, *specs: tuple[str, dict[str, Any]] | str) -> None:
        """Add officers (``officer_row`` defaults: TX, Chicago, always working), each with an
        officer key under its id."""
        rows = []
        for spec in specs:
            oid, fields = (spec, {}) if isinstance(spec, str) else spec
            rows.append(as_row(officer_row(oid, **fields)))
        with self.db.writing() as s:
            save_roster(s, rows, self.clock())
        for row in rows:
            self.keys[row["officer_id"]] = self.key(Scope.OFFICER, row["officer_id"])

    def post_lead(self, external_id: str | None = None, who: str = "ingest",
                  headers: dict[str, str] | None = None, **fields: Any) -> Any:
        return self.client.post("/v1/leads", json=lead_body(external_id, **fields),
                                headers={**self.headers(who), **(headers or {})})

    def lead(self, lead_id: int) -> dict[str, Any]:
        r = self.client.get(f"/v1/leads/{lead_id}", headers=self.headers())
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def act(self, lead_id: int, what: str, who: str, **body: Any) -> Any:
        return self.client.post(f"/v1/leads/{lead_id}/{what}", json=body or None,
                                headers=self.headers(who))

    def work(self, seconds: float = 0.0) -> int:
        """Move the clock on and run the worker once."""
        if seconds:
            self.clock.advance(seconds)
        moved: int = self.client.app.state.worker.run_once()  # type: ignore[attr-defined]
        return moved


def make_api(url: str, clock: Clock, **settings: Any) -> tuple[Any, Settings]:
    s = Settings(database_url=url, rate_limit=settings.pop("rate_limit", "100000/minute"),
                 worker_in_server=False, **settings)
    return create_app(s, clock=clock, worker=False), s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(db_url: str, clock: Clock) -> Iterator[Api]:
    app, _ = make_api(db_url, clock)
    with TestClient(app) as client:
        db: Database = app.state.db
        out = Api(client, db, clock)
        out.keys = {s.value: out.key(s) for s in (Scope.ADMIN, Scope.INGEST, Scope.ANALYST)}
        yield out


def policy_yaml(offer: str = "{mode: assign, accept_within_s: 900}", name: str = "test",
                version: int = 1, extra_routing: str = "", method: str = "round_robin",
                lifecycle: str = "") -> str:
    """A one-pool policy file."""
    routing = f"{{method: {method}, offer: {offer}{extra_routing}"
    if lifecycle:
        routing += f", lifecycle: {lifecycle}"
    routing += "}"
    return (f"policy: {name}\nversion: {version}\nrouting: {routing}\n"
            f"pools:\n  main: {{everyone: true}}\nelse: {{pool: main}}\n")


def use_policy(api: Api, text_: str) -> int:
    """Upload and activate a policy; returns its id."""
    r = api.client.post("/v1/policies", json={"yaml": text_}, headers=api.headers())
    assert r.status_code in (200, 201), r.text
    pid: int = r.json()["id"]
    r = api.client.post(f"/v1/policies/{pid}/activate", headers=api.headers())
    assert r.status_code == 200, r.text
    return pid
