"""The lab under test: its pages through Streamlit's AppTest, and a live API (uvicorn in a
thread, an SQLite file seeded with the demo roster and an admin key) for the Production page."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import TUESDAY_15_UTC

ROOT = Path(__file__).resolve().parent.parent.parent
PAGES = ROOT / "lab" / "pages"


@dataclass
class LiveApi:
    url: str
    admin_key: str
    ingest_key: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[LiveApi]:
    import uvicorn

    from api.app import create_app
    from api.db import Database, upgrade
    from api.routers.officers import as_row, save_roster
    from api.runtime import utc_now
    from api.security import Scope, create_key
    from api.settings import Settings
    from engine.io import read_csv_rows

    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade(url)
    db = Database(url)
    _, rows = read_csv_rows(ROOT / "data" / "demo" / "officers.csv")
    with db.writing() as s:
        save_roster(s, [as_row(dict(r)) for r in rows], utc_now())
        _, admin = create_key(s, Scope.ADMIN, utc_now(), name="test")
        _, ingest = create_key(s, Scope.INGEST, utc_now(), name="test")
    db.dispose()
    port = free_port()
    started = time.monotonic()

    def clock() -> datetime:  # a Tuesday in working hours, moving with real time
        return TUESDAY_15_UTC + timedelta(seconds=time.monotonic() - started)

    app = create_app(Settings(database_url=url, log_level="WARNING"), clock=clock,
                     worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    try:
        yield LiveApi(f"http://127.0.0.1:{port}", admin, ingest)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
