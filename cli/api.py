"""``leadroute db upgrade``, ``serve``, ``worker``, ``officers import`` and ``keys create``:
the API's commands. They only wire ``api/`` up; settings come from ``LEADROUTE_*``."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import fail
from engine.errors import InputError

if TYPE_CHECKING:
    from api.db import Database

db_app = typer.Typer(help="The API's database.", no_args_is_help=True)
officers_app = typer.Typer(help="The API's officer roster.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)



def _database() -> Database:
    """The settings' database, an SQLite file migrated first (created when new)."""
    from api.db import Database, is_sqlite, upgrade
    from api.settings import get_settings

    url = get_settings().database_url
    if is_sqlite(url):
        upgrade(url)
    return Database(url)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database at LEADROUTE_DATABASE_URL to the current schema."""
    from api.db import current_revision, upgrade
    from api.settings import get_settings

    url = get_settings().database_url
    upgrade(url)
    typer.echo(f"database at revision {current_revision(url)}", err=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (PostgreSQL for more "
                                                     "than one).")] = 1,
) -> None:
    """Start the API and its background worker (an SQLite database is migrated on the first
    start). OpenAPI docs at /docs."""
    import uvicorn

    from api.db import is_sqlite, upgrade
    from api.security import RateLimiter
    from api.settings import get_settings

    settings = get_settings()
    try:  # settings that cannot work fail here, in one line, not in each server process
        RateLimiter(settings.rate_limit, settings.rate_limit_storage)
    except ValueError as exc:
        fail(str(exc))
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_level=settings.log_level.lower())


def worker() -> None:
    """Run the background worker alone (deployments with several; PostgreSQL): due leads,
    the Graph fetches of Meta leads and delivery of the notification outbox, each in
    a thread of its own."""
    from types import SimpleNamespace

    from api.db import Database
    from api.ingest import Ingestor
    from api.logs import configure
    from api.notify.deliver import Deliverer
    from api.runtime import Runtime, utc_now
    from api.settings import get_settings
    from api.sources.fetcher import GraphFetcher
    from api.sources.registry import SourceMaps
    from api.worker import Worker

    settings = get_settings()
    configure(settings.log_level)
    maps = SourceMaps(settings.sources_dir)
    maps.check_all()
    db = Database(settings.database_url)
    runtime = Runtime(settings)
    ingestor = Ingestor(db, runtime)
    # the Graph fetches of Meta leads run beside the due-lead worker
    fetcher = GraphFetcher(SimpleNamespace(db=db, runtime=runtime, ingestor=ingestor),
                           settings, maps, utc_now)
    stop = threading.Event()
    fetching = threading.Thread(target=fetcher.run_forever, args=(stop, settings.worker_poll_s),
                                name="leadroute-graph-fetch", daemon=True)
    fetching.start()
    deliverer = Deliverer(db, runtime, settings, utc_now)
    outbox = threading.Thread(target=deliverer.run_forever, args=(stop,),
                              name="leadroute-outbox", daemon=True)
    outbox.start()
    try:
        Worker(db, runtime, utc_now, batch=settings.worker_batch,
               poll_s=settings.worker_poll_s).run_forever(stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        stop.set()
        fetcher.wake()
        deliverer.wake.set()
        fetching.join(timeout=10)
        outbox.join(timeout=10)
        fetcher.close()
        ingestor.close()
        db.dispose()


@officers_app.command("import")
def officers_import(
    path: Annotated[Path, typer.Argument(help="Officers CSV (the `leadroute route` roster "
                                              "format).")],
) -> None:
    """Add the officers of a roster CSV to the API's database; officers already there are
    updated (the whole roster is checked first; nothing is written if any row is bad)."""
    from api.routers.officers import as_row, save_roster
    from api.runtime import utc_now
    from engine.io import load_roster, read_csv_rows

    try:
        load_roster(path)  # every problem, with file, row and column
        _, rows = read_csv_rows(path)
        records = [as_row(dict(r)) for r in rows]
    except InputError as exc:
        fail(str(exc))
    db = _database()
    try:
        with db.writing() as s:
            save_roster(s, records, utc_now())
    except Exception as exc:  # an ApiProblem from the whole-roster check
        fail(str(getattr(exc, "detail", exc)))
    finally:
        db.dispose()
    typer.echo(f"imported {len(records)} officers from {path}", err=True)


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help="admin, ingest, officer or analyst.")],
    officer: Annotated[str | None, typer.Option(help="The officer an officer key acts "
                                                     "for.")] = None,
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    rate_limit: Annotated[str | None, typer.Option(help="This key's limit, e.g. 100/second "
                                                        "(default LEADROUTE_RATE_LIMIT).")]
    = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line; only its hash is
    stored."""
    from api.models import Officer
    from api.runtime import utc_now
    from api.security import Scope, create_key

    try:
        chosen = Scope(scope)
    except ValueError:
        fail(f"--scope must be one of {', '.join(s.value for s in Scope)}, got {scope!r}")
        return
    db = _database()
    try:
        with db.writing() as s:
            if officer is not None and s.get(Officer, officer) is None:
                fail(f"officer {officer} is not in the database (leadroute officers import)")
            row, key = create_key(s, chosen, utc_now(), officer_id=officer, name=name,
                                  rate_limit=rate_limit)
            prefix = row.prefix
    except ValueError as exc:
        fail(str(exc))
        return
    finally:
        db.dispose()
    typer.echo(f"created {chosen.value} key {prefix}... (shown once; store it now)")
    typer.echo(key)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(officers_app, name="officers")
    app.add_typer(keys_app, name="keys")
    app.command()(serve)
    app.command()(worker)
