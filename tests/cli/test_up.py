"""``leadroute up`` and ``leadroute demo-leads``: seeding, refusals before anything starts,
and the demo generator's leads."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from api.db import Database
from api.models import ApiKey, Officer
from api.settings import get_settings
from cli.demo_leads import lead_body
from cli.main import app
from cli.up import seed_database, train_demo_model


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'up.db'}"
    monkeypatch.setenv("LEADROUTE_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_seed_database_imports_the_roster_and_keeps_its_keys(db_url, tmp_path):
    """The demo roster is imported and two keys made, readable by the user only; a second
    start reuses the keys and makes no new ones."""
    keys = seed_database(tmp_path)
    assert keys["ADMIN"].startswith("lr_admin_") and keys["INGEST"].startswith("lr_ingest_")
    mode = stat.S_IMODE((tmp_path / "keys.env").stat().st_mode)
    assert mode == 0o600
    assert seed_database(tmp_path) == keys
    db = Database(db_url)
    with db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Officer)) == 40
        assert s.scalar(select(func.count()).select_from(ApiKey)) == 2
    db.dispose()


def test_demo_model_is_trained_once(tmp_path):
    """A history and a model with its card are written; a second start keeps them."""
    history, model = train_demo_model(tmp_path, days=3.0, seed=0)
    assert history.stat().st_size > 1000 and model.is_file()
    assert (tmp_path / "model.card.json").is_file()
    before = model.stat().st_mtime_ns
    train_demo_model(tmp_path, days=3.0, seed=0)
    assert model.stat().st_mtime_ns == before


def test_too_short_a_history_is_a_clear_error(tmp_path):
    """Half a day of leads holds too few funded loans to train on: an error that says so."""
    import typer

    with pytest.raises(typer.Exit):
        train_demo_model(tmp_path, days=0.25, seed=0)
    assert not (tmp_path / "history.csv").exists()


def test_up_refuses_a_port_in_use(tmp_path):
    """A port something already listens on is refused before anything is set up."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = CliRunner().invoke(app, ["up", "--data-dir", str(tmp_path / "sys"),
                                          "--api-port", str(port)])
    assert result.exit_code == 2
    assert f"--api-port {port}" in result.stderr
    assert not (tmp_path / "sys").exists()


def test_up_refuses_the_same_port_twice(tmp_path):
    result = CliRunner().invoke(app, ["up", "--api-port", "18123", "--lab-port", "18123"])
    assert result.exit_code == 2 and "must differ" in result.stderr


def test_demo_lead_body_is_fresh_and_leaves_out_empty_fields():
    """Each demo lead gets a new id, the API's clock, and no empty values."""
    row = {"lead_id": "D1", "received_at": "2025-03-03T07:48:00+00:00", "source": "zillow",
           "zip": "75201", "credit_score": ""}
    body = lead_body(row, 7, "abc")
    assert body == {"lead_id": "DEMO-abc-000007", "source": "zillow", "zip": "75201"}
