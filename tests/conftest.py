"""Shared fixtures. PostgreSQL is real (127.0.0.1:5432 here): a test that needs it FAILS when it is missing."""

from __future__ import annotations

import os
import tempfile
import uuid

import pytest
import sqlalchemy as sa

# The definitions are built when pipelines.definitions is first imported, from the environment: the tests' home
# is an empty folder, and the partitions start early enough for every test's dates.
os.environ["CHATSALES_HOME"] = tempfile.mkdtemp(prefix="chatsales-tests-")
os.environ["CHATSALES_START_DATE"] = "2026-01-01"
for _name in [
    n
    for n in os.environ
    if n.startswith("CHATSALES_") and n not in ("CHATSALES_HOME", "CHATSALES_START_DATE", "CHATSALES_TEST_PG_URL")
]:
    del os.environ[_name]

PG_ADMIN_URL = os.environ.get("CHATSALES_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _admin_engine():
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # a missing server is a failure of the run, never a skip
        pytest.fail(f"PostgreSQL is required for this test and is unreachable at {PG_ADMIN_URL}: {exc}", pytrace=False)
    return engine


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = _admin_engine()
    name = f"chatsales_t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'reporting.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def reporting_url(request, tmp_path):
    """The reporting database on both engines the product supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reporting.db'}"
    return request.getfixturevalue("pg_url")
