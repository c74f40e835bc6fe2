"""Resources have a lifecycle: after a Dagster run, every database engine the run's resources created is
disposed (its pool holds no connection, checked in or out). An engine left open keeps a SQLite file handle or
a PostgreSQL session per run, and a long-lived daemon process would pile them up."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from chatsales.demo import generate_demo
from chatsales.settings import today_in
from pipelines.definitions import definitions_for
from pipelines.jobs import SNAPSHOTS_JOB
from tests.nights import demo_sources, run, settings_for

TZ = "Europe/Paris"


def test_every_connection_a_run_opens_is_closed_by_its_resources(tmp_path):
    """Counted with SQLAlchemy's pool events: each DBAPI connection the run opens must be closed through its
    pool (a resource's engine disposed at teardown). An engine only dropped would leave its connections to
    the garbage collector, and one kept (a cache) leaves them open: the test fails then (seen with an engine
    created during the run and kept in a list)."""
    last = today_in(TZ) - timedelta(days=1)
    first = last - timedelta(days=3)
    demo = generate_demo(tmp_path / "demo", first, days=4, scale=0.05, timezone=TZ)
    settings = settings_for(tmp_path / "home", demo_sources(demo), CHATSALES_TIMEZONE=TZ)
    defs = definitions_for(settings)
    opened, closed = [], []  # the connections themselves: an id could be reused by a later connection

    def on_connect(dbapi_connection, _record):
        opened.append(dbapi_connection)

    def on_close(dbapi_connection, _record):
        closed.append(dbapi_connection)

    sa.event.listen(sa.pool.Pool, "connect", on_connect)
    sa.event.listen(sa.pool.Pool, "close", on_close)
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            run(defs, instance, first=first, last=last)
            run(defs, instance, job=SNAPSHOTS_JOB)
    finally:
        sa.event.remove(sa.pool.Pool, "connect", on_connect)
        sa.event.remove(sa.pool.Pool, "close", on_close)
    assert len(opened) >= 2, "the run opened no connection: the test would prove nothing"
    still_open = [c for c in opened if not any(c is d for d in closed)]
    assert still_open == []
