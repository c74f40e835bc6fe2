"""Connections to the reporting database: one engine per ReportingDb, WAL and a busy timeout on SQLite, and
the publication lock; rows written and read through the driver itself (SQLAlchemy's per-value processing
cost more than the I/O)."""

from __future__ import annotations

import io
import sqlite3
import time
import zlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# pages a pooled connection keeps (KiB; SQLite's default is 2 MiB): after years at 10× a night writes into
# indexes of millions of rows (kpi_daily, attributed_orders), and re-reads fewer of their pages
CACHE_KIB = 65536

SQLITE_BUSY_TIMEOUT_S = 60
LOCK_KEY = zlib.crc32(b"chatsales-reporting-publish")


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine; SQLite gets WAL (readers never block on the writer) and a busy timeout. `read_only`: a
    SQLite file opened with mode=ro, a PostgreSQL session with default_transaction_read_only."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        args = {"timeout": SQLITE_BUSY_TIMEOUT_S}
        if not read_only and parsed.database and parsed.database != ":memory:" and "file:" not in parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # a new home's folder
        if read_only and parsed.database and not parsed.database.startswith("file:"):
            parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={"uri": "true"})
            args["uri"] = True
        engine = sa.create_engine(parsed, connect_args=args)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            if not read_only:
                _switch_to_wal(cursor)
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            cursor.close()

        return engine
    options = {"options": "-c default_transaction_read_only=on"} if read_only else {}
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=options)


def _switch_to_wal(cursor) -> None:
    """Put the database in WAL mode, waiting for a writer as the busy timeout would: on a database still in
    rollback mode (a fresh file whose first connection is writing) SQLite fails the switch at once with
    'database is locked' and skips the busy handler. WAL is persistent, so once switched this is one read."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    pause = 0.005
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    if mode not in ("wal", "memory"):  # an in-memory database has no journal file to switch
        raise sqlite3.OperationalError(f"the reporting database stays in journal mode {mode!r}, not WAL")


def lock(conn: Connection) -> None:
    """Serialise publications: a PostgreSQL advisory lock, SQLite's write lock; taken before anything is read,
    so a publication waiting for another one computes its ledger against what that one wrote."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # pysqlite would BEGIN only at the first write


def as_days(values: Iterable) -> list[date]:
    return sorted(
        {v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v)[:10]) for v in values}
    )


def day_column(frame: pd.DataFrame) -> pd.Series:
    col = frame["day"]
    if len(col) and not isinstance(col.iloc[0], date):
        return pd.to_datetime(col).dt.date
    return col


def bulk_insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Insert a frame fast with the driver itself: COPY on PostgreSQL, executemany of tuples on SQLite.
    Values are written as SQLAlchemy would store them (UTC timestamps, ISO dates)."""
    if frame.empty:
        return 0
    columns = [c.name for c in table.columns if c.name in frame.columns]
    out = frame[columns].copy()
    for name in columns:
        col = out[name]
        if isinstance(table.c[name].type, sa.Integer) and pd.api.types.is_float_dtype(col.dtype):
            out[name] = col.round().astype("Int64")  # counts computed as floats, stored as integers
        elif isinstance(col.dtype, pd.DatetimeTZDtype):
            values = col.dt.tz_convert("UTC").to_numpy(dtype="datetime64[us]")
            text = np.char.replace(np.datetime_as_string(values, unit="us"), "T", " ")
            if conn.dialect.name == "postgresql":  # COPY would read a bare time in the session's zone
                text = np.char.add(text, "+00:00")
            text = text.astype(object)
            text[np.isnat(values)] = None
            out[name] = text
        elif name == "day":
            out[name] = pd.Series(col).astype(str)
    quoted = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name == "postgresql":
        buffer = io.StringIO()
        out.to_csv(buffer, index=False, header=False, na_rep="\\N")
        buffer.seek(0)
        cursor = conn.connection.driver_connection.cursor()
        cursor.copy_expert(f"COPY {table.name} ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)
        return len(out)
    rows = list(out.astype(object).where(out.notna(), None).itertuples(index=False, name=None))
    marks = ", ".join("?" * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})", rows)
    return len(rows)


def read_rows(conn: Connection, table: sa.Table, query) -> pd.DataFrame:
    """Rows of `query` straight from the driver's cursor, typed from `table`'s declaration."""
    result = conn.execute(query)
    frame = pd.DataFrame.from_records(result.cursor.fetchall(), columns=[d[0] for d in result.cursor.description])
    result.close()
    for column in table.columns:
        if column.name not in frame:
            continue
        if isinstance(column.type, sa.DateTime):
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
        elif isinstance(column.type, sa.Date):
            frame[column.name] = pd.to_datetime(frame[column.name]).dt.date
        elif isinstance(column.type, sa.Boolean):  # SQLite keeps 0 / 1
            flags = frame[column.name]
            frame[column.name] = (
                flags.astype(bool)
                if flags.notna().all()
                else flags.map({0: False, 1: True}).astype(object).where(flags.notna(), None)
            )
    return frame


def select_days(
    table: sa.Table,
    columns: Sequence[str] | None = None,
    *,
    days: Sequence[date] | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
):
    query = sa.select(*(table.c[c] for c in columns)) if columns else sa.select(table)
    if days is not None:
        query = query.where(table.c.day.in_(as_days(days)))
    if first_day is not None:
        query = query.where(table.c.day >= first_day)
    if last_day is not None:
        query = query.where(table.c.day <= last_day)
    return query
