"""The baseline of benchmarks/bench_api.py: a bare FastAPI endpoint that inserts one row into
SQLite (WAL, as the API runs it) and answers 201. Served by uvicorn like the API."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Annotated, Any

from fastapi import Body, FastAPI

app = FastAPI()
_lock = threading.Lock()
_conn = sqlite3.connect(os.environ["BASELINE_SQLITE"], check_same_thread=False,
                        isolation_level=None)
_conn.execute("PRAGMA journal_mode=WAL")
_conn.execute("PRAGMA synchronous=NORMAL")
_conn.execute("CREATE TABLE IF NOT EXISTS leads (id INTEGER PRIMARY KEY, body TEXT)")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/leads", status_code=201)
def post_lead(body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    with _lock:
        cur = _conn.execute("INSERT INTO leads (body) VALUES (?)", (json.dumps(body),))
    return {"id": cur.lastrowid}
