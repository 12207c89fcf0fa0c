"""Alembic environment: runs the migrations against ``sqlalchemy.url`` (set by
``api.db.alembic_config``)."""

from __future__ import annotations

from alembic import context

from api.db import make_engine
from api.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None  # api.db.alembic_config sets it
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata,
                              render_as_batch=connection.dialect.name == "sqlite")
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():  # pragma: no cover - offline SQL scripts are not used
    raise SystemExit("leadroute migrates online: run `leadroute db upgrade`")
run_migrations_online()
