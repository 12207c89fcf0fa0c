"""The migrations build exactly the tables the models describe, and run both ways."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from api.db import current_revision, make_engine, upgrade
from api.models import Base


def test_migrations_match_the_models(db_url: str):
    """No difference between the migrated schema and api.models."""
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_downgrade_and_upgrade(tmp_path: Path):
    """Down to nothing and back up again."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from api.db import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    upgrade(url)
    assert current_revision(url) == head
    command.downgrade(alembic_config(url), "base")
    assert current_revision(url) is None
    upgrade(url)
    assert current_revision(url) == head
