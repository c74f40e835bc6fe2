"""Bringing a reporting database to the current schema with Alembic: automatically before the first
publication of a process, or with `chatsales db upgrade`. A database created before migrations existed
(tables, no version table) is recognised as the first revision, then upgraded."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from chatsales.reporting.engine import lock

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "pipeline_schema_version"
BASELINE = "0001_baseline"


def _config(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def current(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(engine: sa.Engine) -> str:
    """Upgrade to the newest revision under the publication lock; says what it did. Nothing is locked when
    the database is already current, so readers and publishers never wait for this check."""
    with engine.connect() as conn:
        if current(conn) == head():
            return "up to date"
    with engine.begin() as conn:
        lock(conn)
        before = current(conn)
        if before == head():
            return "up to date"
        config = _config(conn)
        if before is None and sa.inspect(conn).has_table("attributed_orders"):
            command.stamp(config, BASELINE)
            before = BASELINE
        command.upgrade(config, "head")
    return f"created at {head()}" if before is None else f"upgraded from {before} to {head()}"
