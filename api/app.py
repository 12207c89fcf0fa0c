"""The app factory: ``create_app()`` builds the FastAPI app (OpenAPI at ``/docs``) with its
database, caches, error handlers and, unless told otherwise, the background worker."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import logs, problems
from api.db import Database
from api.ingest import Ingestor
from api.notify.deliver import Deliverer
from api.routers import analytics, health, history, leads, officers, policies, sources
from api.routers import metrics as metrics_route
from api.runtime import Runtime, utc_now
from api.security import KeyCache, RateLimiter
from api.settings import Settings, get_settings
from api.sources.fetcher import GraphFetcher
from api.sources.registry import SourceMaps
from api.worker import Worker
from engine.rules import load_policy

log = logging.getLogger("leadroute.api")


class RequestLog:
    """Gives each request an id (``X-Request-Id``, kept when the caller sends a sane one),
    adds the rate-limit headers and logs one JSON line per request: method, path, status,
    milliseconds, the key's prefix. Never the body or the query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = given if given.isalnum() and len(given) <= 64 else uuid.uuid4().hex[:16]
        token = logs.request_id.set(rid)
        state: dict[str, Any] = scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = rid
                for k, v in (state.get("rate_headers") or {}).items():
                    headers.setdefault(k, v)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info("request", extra={"fields": {
                    "request_id": rid, "method": scope["method"], "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "key": state.get("key_prefix", "")}})
            logs.request_id.reset(token)


def create_app(settings: Settings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               worker: bool | None = None) -> FastAPI:
    """The API. ``clock``: the time source (tests pass their own); ``worker``: run the
    background worker in this process (default: ``LEADROUTE_WORKER_IN_SERVER``)."""
    settings = settings or get_settings()
    logs.configure(settings.log_level)
    run_worker = settings.worker_in_server if worker is None else worker
    load_policy(settings.default_policy)  # a missing or broken default fails at start
    maps = SourceMaps(settings.sources_dir)
    maps.check_all()  # so does a broken source map
    limiter = RateLimiter(settings.rate_limit, settings.rate_limit_storage)  # likewise

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url)
        runtime = Runtime(settings)
        app.state.db, app.state.runtime = db, runtime
        app.state.keys = KeyCache()
        app.state.limiter = limiter
        app.state.clock = clock or utc_now
        app.state.ingestor = Ingestor(db, runtime)
        app.state.worker = Worker(db, runtime, app.state.clock, batch=settings.worker_batch,
                                  poll_s=settings.worker_poll_s)
        app.state.settings, app.state.sources = settings, maps
        app.state.fetcher = GraphFetcher(app.state, settings, maps, app.state.clock)
        app.state.deliverer = Deliverer(db, runtime, settings, app.state.clock)
        stop = threading.Event()
        threads = []
        if run_worker:
            app.state.ingestor.on_commit = app.state.deliverer.wake.set
            threads = [
                threading.Thread(target=app.state.worker.run_forever, args=(stop,),
                                 name="leadroute-worker", daemon=True),
                threading.Thread(target=app.state.fetcher.run_forever,
                                 args=(stop, settings.worker_poll_s),
                                 name="leadroute-graph-fetch", daemon=True),
                threading.Thread(target=app.state.deliverer.run_forever, args=(stop,),
                                 name="leadroute-outbox", daemon=True)]
            for thread in threads:
                thread.start()
        try:
            yield
        finally:
            stop.set()
            app.state.fetcher.wake()
            app.state.deliverer.wake.set()
            for thread in threads:
                thread.join(timeout=10)
            app.state.fetcher.close()
            app.state.deliverer.close()
            app.state.ingestor.close()
            db.dispose()

    app = FastAPI(
        title="leadroute",
        summary="Routes mortgage leads to the loan officer best placed to fund them.",
        version="1",
        lifespan=lifespan,
        description="Every error is Problem Details (`application/problem+json`). Keys: "
                    "`Authorization: Bearer lr_...` with scope admin, ingest, officer or "
                    "analyst. See docs/api.md.",
    )
    problems.install(app)
    for module in (health, leads, officers, policies, history, sources, analytics,
                   metrics_route):
        app.include_router(module.router)
    app.add_middleware(RequestLog)
    return app
