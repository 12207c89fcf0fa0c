"""``leadroute db upgrade``, ``officers import`` and ``keys create``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from api.db import Database
from api.models import ApiKey, Officer
from api.security import key_hash
from api.settings import get_settings
from cli.main import app
from tests.conftest import DATA, officer_row, write_csv


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LEADROUTE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def _officers(url: str) -> dict[str, dict[str, str]]:
    db = Database(url)
    with db.reading() as s:
        out = {o.officer_id: o.row for o in s.scalars(select(Officer))}
    db.dispose()
    return out


def test_db_upgrade_creates_the_schema(db_url: str):
    """db upgrade migrates a new SQLite file to the current revision."""
    from alembic.script import ScriptDirectory

    from api.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    code, _, err = run("db", "upgrade")
    assert code == 0 and f"revision {head}" in err


def test_officers_import_and_reimport_updates(db_url: str, tmp_path: Path):
    """The route command's roster imports; a second import updates changed officers."""
    run("db", "upgrade")
    code, _, err = run("officers", "import", DATA / "demo" / "officers.csv")
    assert code == 0 and "imported 40 officers" in err
    path = write_csv(tmp_path / "o.csv", [officer_row("LO0001", name="Renamed Officer",
                                                      max_open="3")])
    code, _, _ = run("officers", "import", path)
    assert code == 0
    officers = _officers(db_url)
    assert len(officers) == 40
    assert officers["LO0001"]["name"] == "Renamed Officer"
    assert officers["LO0001"]["max_open"] == "3"


def test_officers_import_refuses_a_bad_roster_whole(db_url: str, tmp_path: Path):
    """A bad row is reported with file, row and column; nothing is imported."""
    run("db", "upgrade")
    path = write_csv(tmp_path / "bad.csv", [officer_row("A"), officer_row("B", weight="-2")])
    code, _, err = run("officers", "import", path)
    assert code == 2
    assert "bad.csv row 3" in err and "weight" in err
    assert _officers(db_url) == {}


def test_keys_create_prints_the_key_alone_on_the_last_line(db_url: str):
    """The new key is the last line of the output; only its hash is stored."""
    run("db", "upgrade")
    code, out, _ = run("keys", "create", "--scope", "ingest")
    assert code == 0
    key = out.strip().splitlines()[-1]
    assert key.startswith("lr_ingest_") and " " not in key
    db = Database(db_url)
    with db.reading() as s:
        row = s.scalars(select(ApiKey)).one()
    db.dispose()
    assert row.key_sha256 == key_hash(key) and row.scope == "ingest"


@pytest.mark.parametrize(("args", "message"), [
    (("--scope", "root"), "--scope must be one of"),
    (("--scope", "officer"), "needs the officer's id"),
    (("--scope", "officer", "--officer", "NOPE"), "not in the database"),
    (("--scope", "analyst", "--rate-limit", "fast"), "rate limit"),
])
def test_keys_create_refuses_bad_options(db_url: str, args: tuple[str, ...], message: str):
    """A wrong scope, a missing or unknown officer, a bad rate limit: exit 2, said why."""
    run("db", "upgrade")
    code, _, err = run("keys", "create", *args)
    assert code == 2 and message in err
