"""The reporting database: what BI tools read (outputs.md). SQLite by default, PostgreSQL by URL.

Its public tables have fixed names and columns. Every publication replaces whole days in ONE transaction,
under a lock, so a reader never sees a half-written day, a crash leaves the previous version intact and two
runs of the same day cannot interleave. The attribution ledger is computed inside that same transaction
against what is published, so re-running unchanged inputs adds nothing to it.

`ReportingStore` is plain SQLAlchemy, without Dagster, so `chatsales kpis` starts without importing it;
`ReportingDatabase` (resources/reporting_resource.py) is the thin Dagster resource around it.
"""
from __future__ import annotations

import sqlite3
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from chatsales.attribution_changes import classify_changes
from chatsales.fact_streams import decode_days, encode_days
from chatsales.facts import in_fact_order, restore_types

PUBLIC_TABLES = ("attributed_orders", "attribution_ledger", "kpi_daily", "kpi_buckets_daily",
                 "member_daily", "rejects")
FACT_PREFIX = "fact_"

_meta = sa.MetaData()
_ts = sa.DateTime(timezone=True)


def _stamp() -> tuple[sa.Column, sa.Column]:
    """Which run wrote a row, and when: on every table a publication replaces."""
    return sa.Column("run_id", sa.Text, nullable=False), sa.Column("computed_at", _ts, nullable=False)


attributed_orders = sa.Table(
    "attributed_orders", _meta,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("sales_channel", sa.Text, primary_key=True),
    sa.Column("placed_at", _ts, nullable=False),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("customer_hash", sa.Text),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("net_total", sa.Float, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("is_cancelled", sa.Boolean, nullable=False),
    sa.Column("is_first_order", sa.Boolean),
    sa.Column("attributed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("chatroom_id", sa.Text),
    sa.Column("member_id", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("touchpoint", sa.Text),
    sa.Column("match_key", sa.Text),
    sa.Column("last_message_at", _ts),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("store_id", sa.Text),
    *_stamp(),
)

attribution_ledger = sa.Table(
    "attribution_ledger", _meta,
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("sales_channel", sa.Text, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("changed_at", _ts, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("old_chatroom_id", sa.Text),
    sa.Column("new_chatroom_id", sa.Text),
    sa.Column("old_member_id", sa.Text),
    sa.Column("new_member_id", sa.Text),
    sa.Column("old_reason", sa.Text),
    sa.Column("new_reason", sa.Text),
    sa.Column("window_days", sa.Integer, nullable=False),
)

kpi_daily = sa.Table(
    "kpi_daily", _meta,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("kpi", sa.Text, primary_key=True),
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("dimension_value", sa.Text, primary_key=True),
    sa.Column("value", sa.Float),
    sa.Column("numerator", sa.Float),
    sa.Column("denominator", sa.Float),
    sa.Column("is_fluctuating", sa.Boolean, nullable=False),
    *_stamp(),
)

kpi_buckets_daily = sa.Table(
    "kpi_buckets_daily", _meta,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("chart", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("dimension_value", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    *_stamp(),
)

member_daily = sa.Table(
    "member_daily", _meta,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("member_id", sa.Text, primary_key=True),
    sa.Column("last_name", sa.Text),
    sa.Column("first_name", sa.Text),
    sa.Column("role", sa.Integer),
    sa.Column("activity_seconds", sa.Float),
    sa.Column("active_dialogues", sa.BigInteger),
    sa.Column("conversations_closed", sa.BigInteger),
    sa.Column("average_rating", sa.Float),
    sa.Column("sales_count", sa.BigInteger),
    sa.Column("sales_total", sa.Float),
    *_stamp(),
)

rejects = sa.Table(
    "rejects", _meta,
    sa.Column("source", sa.Text, nullable=False, index=True),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("record_key", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("seen_at", _ts, nullable=False),
)

# The facts again, one Arrow IPC stream per fact table and day (chatsales/fact_streams.py): what the period
# query reads. Its own metadata: creating it converts the fact rows already published (ensure_schema).
_streams_meta = sa.MetaData()
fact_streams = sa.Table(
    "fact_streams", _streams_meta,
    sa.Column("fact", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("stream", sa.LargeBinary, nullable=False),
)

_DAY_TABLES = {t.name: t for t in (attributed_orders, kpi_daily, kpi_buckets_daily, member_daily)}


def _sql_type(dtype) -> sa.types.TypeEngine:
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return _ts
    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Float()
    return sa.Text()


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values, missing values as None (for the few small inserts)."""
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.dt.tz_convert("UTC").dt.tz_localize(None)
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def _bulk_insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Insert a frame fast with the driver itself: COPY on PostgreSQL, executemany of tuples on SQLite.

    Values are written as SQLAlchemy would store them (UTC timestamps, ISO dates), so reads through
    SQLAlchemy see the same types.
    """
    if frame.empty:
        return 0
    columns = [c.name for c in table.columns if c.name in frame.columns]
    out = frame[columns].copy()
    for name in columns:
        col = out[name]
        if isinstance(table.c[name].type, sa.Integer) and pd.api.types.is_float_dtype(col.dtype):
            out[name] = col.round().astype("Int64")     # counts computed as floats, stored as integers
        elif isinstance(col.dtype, pd.DatetimeTZDtype):
            # numpy formats in C; the text is what SQLAlchemy itself stores for a UTC DateTime
            values = col.dt.tz_convert("UTC").to_numpy(dtype="datetime64[us]")
            text = np.char.replace(np.datetime_as_string(values, unit="us"), "T", " ")
            if conn.dialect.name == "postgresql":       # COPY would read a bare time in the session's zone
                text = np.char.add(text, "+00:00")
            text = text.astype(object)
            text[np.isnat(values)] = None
            out[name] = text
        elif name == "day":
            out[name] = pd.Series(col).astype(str)
    if conn.dialect.name == "postgresql":
        import io

        buffer = io.StringIO()
        out.to_csv(buffer, index=False, header=False, na_rep="\\N")
        buffer.seek(0)
        cursor = conn.connection.driver_connection.cursor()
        quoted = ", ".join(f'"{c}"' for c in columns)
        cursor.copy_expert(f"COPY {table.name} ({quoted}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer)
        return len(out)
    rows = list(out.astype(object).where(out.notna(), None).itertuples(index=False, name=None))
    marks = ", ".join("?" * len(columns))
    quoted = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({quoted}) VALUES ({marks})", rows)
    return len(rows)


def as_days(values: Iterable) -> list[date]:
    return sorted({v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v))
                   for v in values})


def _day_column(frame: pd.DataFrame) -> pd.Series:
    col = frame["day"]
    if len(col) and not isinstance(col.iloc[0], date):
        return pd.to_datetime(col).dt.date
    return col


class ReportingStore:
    """Reads and writes the reporting database at `url` (any SQLAlchemy URL; say the driver for PostgreSQL)."""

    def __init__(self, url: str, engine: Engine | None = None):
        self.url = url
        self.engine = engine or make_engine(url)
        self._ready = False

    # --- schema ---------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the missing public tables, under the publication lock: two first publications on an
        empty database would otherwise both see a table missing and the second CREATE would fail. When
        nothing is missing no lock is taken, so a reader never waits for a publication."""
        if not self._ready:
            self.create_missing(_meta)
            self._ensure_fact_streams()
            self._ready = True

    def _ensure_fact_streams(self) -> None:
        """Create fact_streams, filled from the fact rows a version without it published: from then on
        every publication writes both in one transaction, so the streams hold exactly the rows' days."""
        if sa.inspect(self.engine).has_table(fact_streams.name):
            return
        with self.engine.begin() as conn:
            self._lock(conn)
            inspector = sa.inspect(conn)
            if inspector.has_table(fact_streams.name):        # another process converted meanwhile
                return
            fact_streams.create(conn)
            for table in inspector.get_table_names():
                if table.startswith(FACT_PREFIX) and table != fact_streams.name:
                    name = table.removeprefix(FACT_PREFIX)
                    frame = in_fact_order(name, restore_types(self._read(conn, table)))
                    self._write_streams(conn, name, frame, as_days(frame["day"]))

    def create_missing(self, metadata: sa.MetaData) -> None:
        """Create the tables of `metadata` that do not exist yet, under the publication lock (see
        ensure_schema); other table sets of the same database (the insights tables) use it too."""
        existing = set(sa.inspect(self.engine).get_table_names())
        if any(table.name not in existing for table in metadata.sorted_tables):
            with self.engine.begin() as conn:
                self._lock(conn)
                metadata.create_all(conn, checkfirst=True)

    def _fact_table(self, conn: Connection, name: str, frame: pd.DataFrame) -> sa.Table:
        """The fact table for `frame`, created from its dtypes the first time; new columns are added."""
        table_name = FACT_PREFIX + name
        inspector = sa.inspect(conn)
        columns = [sa.Column(c, sa.Date() if c == "day" else _sql_type(frame[c].dtype)) for c in frame.columns]
        if not inspector.has_table(table_name):
            table = sa.Table(table_name, sa.MetaData(), *columns,
                             sa.Index(f"ix_{table_name}_day", "day"))
            table.create(conn)
            return table
        existing = {c["name"] for c in inspector.get_columns(table_name)}
        for column in columns:
            if column.name not in existing:
                type_sql = column.type.compile(dialect=conn.dialect)
                conn.execute(sa.text(f'ALTER TABLE {table_name} ADD COLUMN "{column.name}" {type_sql}'))
        return sa.Table(table_name, sa.MetaData(), *[sa.Column(c.name, c.type) for c in columns])

    # --- writing ----------------------------------------------------------------------------------
    def _lock(self, conn: Connection) -> None:
        """Serialise publications: a PostgreSQL advisory lock, SQLite's write lock; taken before anything
        is read, so a publication waiting for another one computes its ledger against what that one wrote."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                         {"k": zlib.crc32(b"chatsales-reporting-publish")})
        elif conn.dialect.name == "sqlite":
            # pysqlite would BEGIN (deferred) only at the first write, after the ledger's read
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def publish_days(self, days: Sequence[date], *, run_id: str, attribution: pd.DataFrame | None = None,
                     kpis: pd.DataFrame | None = None, buckets: pd.DataFrame | None = None,
                     members: pd.DataFrame | None = None, facts: Mapping[str, pd.DataFrame] | None = None,
                     snapshots: Mapping[str, pd.DataFrame] | None = None,
                     computed_at: datetime | None = None) -> dict[str, int]:
        """Replace everything of `days` in one transaction; return rows written per table.

        Every frame must have a `day` column; rows of other days are an error (a run publishes exactly
        its partitions), except in `snapshots`: fact tables replaced whole, every day (the whole-history
        facts, see facts.facts_to_publish). Ledger rows are derived here from the published attribution.
        """
        self.ensure_schema()
        days = as_days(days)
        computed_at = computed_at or datetime.now(timezone.utc)
        stamp = {"run_id": run_id, "computed_at": computed_at}
        written: dict[str, int] = {}
        with self.engine.begin() as conn:
            self._lock(conn)
            if attribution is not None:
                written["attribution_ledger"] = self._write_ledger(conn, days, attribution, run_id,
                                                                   computed_at)
            for table, frame in (("attributed_orders", attribution), ("kpi_daily", kpis),
                                 ("kpi_buckets_daily", buckets), ("member_daily", members)):
                if frame is None:
                    continue
                frame = self._only_days(frame.assign(**stamp), days, table)
                target = _DAY_TABLES[table]
                conn.execute(target.delete().where(target.c.day.in_(days)))
                written[table] = _bulk_insert(conn, target, frame[[c.name for c in target.columns]])
            for name, frame in (facts or {}).items():
                frame = self._only_days(frame, days, FACT_PREFIX + name)
                written[FACT_PREFIX + name] = self._replace_fact(conn, name, frame, days)
            for name, frame in (snapshots or {}).items():
                written[FACT_PREFIX + name] = self._replace_fact(conn, name, frame.assign(day=_day_column(frame)))
        return written

    def _replace_fact(self, conn: Connection, name: str, frame: pd.DataFrame, days: list[date] | None = None) -> int:
        """Replace the rows and streams of fact `name` for `days`, or all of them (days None: a snapshot)."""
        table = self._fact_table(conn, name, frame)
        if days is None:
            conn.execute(table.delete())
            conn.execute(fact_streams.delete().where(fact_streams.c.fact == name))
            days = sorted(set(frame["day"]))
        else:
            conn.execute(table.delete().where(table.c.day.in_(days)))
        written = _bulk_insert(conn, table, frame)
        self._write_streams(conn, name, frame, days)
        return written

    @staticmethod
    def _write_streams(conn: Connection, name: str, frame: pd.DataFrame, days: list[date]) -> None:
        conn.execute(fact_streams.delete().where(fact_streams.c.fact == name, fact_streams.c.day.in_(days)))
        rows = [{"fact": name, "day": day, "rows": n, "stream": stream} for day, n, stream in encode_days(frame, days)]
        if rows:
            conn.execute(fact_streams.insert(), rows)

    @staticmethod
    def _only_days(frame: pd.DataFrame, days: list[date], table: str) -> pd.DataFrame:
        frame = frame.assign(day=_day_column(frame))
        stray = ~frame["day"].isin(days)
        if stray.any():
            raise ValueError(f"{table}: {int(stray.sum())} rows are for days outside the publication "
                             f"{days[0]}..{days[-1]} (first: {frame.loc[stray, 'day'].iloc[0]})")
        return frame

    def _write_ledger(self, conn: Connection, days: list[date], new: pd.DataFrame, run_id: str,
                      changed_at: datetime) -> int:
        """One ledger row per order whose credited chatroom or reason differs from what is published.

        `change` says what happened: first (never published before), gained, lost, moved (another
        chatroom), reason (still unattributed, for another reason). Only attributed rows credit a chatroom.
        """
        old = pd.read_sql(
            sa.select(attributed_orders.c.order_id, attributed_orders.c.sales_channel,
                      attributed_orders.c.chatroom_id, attributed_orders.c.member_id,
                      attributed_orders.c.reason, attributed_orders.c.attributed)
            .where(attributed_orders.c.day.in_(days)), conn,
            dtype={"order_id": "str", "sales_channel": "str", "chatroom_id": "str", "member_id": "str",
                   "reason": "str"})
        c = classify_changes(new[["order_id", "sales_channel", "day", "attributed", "chatroom_id", "member_id",
                                  "reason", "window_days"]], old)
        c = c[c["change"] != ""]
        if c.empty:
            return 0
        ledger = c.assign(day=_day_column(c), changed_at=changed_at, run_id=run_id,
                          window_days=c["window_days"].astype("int64"))[[col.name for col in attribution_ledger.columns]]
        return _bulk_insert(conn, attribution_ledger, ledger)

    def replace_rejects(self, source: str, frame: pd.DataFrame, *, run_id: str) -> int:
        """The rejects of one source as of this read (a source is read whole, so its rejects are too)."""
        self.ensure_schema()
        frame = frame.assign(source=source, run_id=run_id, seen_at=datetime.now(timezone.utc))
        with self.engine.begin() as conn:
            self._lock(conn)
            conn.execute(rejects.delete().where(rejects.c.source == source))
            rows = _records(frame[[c.name for c in rejects.columns]])
            if rows:
                conn.execute(rejects.insert(), rows)
        return len(rows)

    # --- reading ----------------------------------------------------------------------------------
    def read_table(self, name: str, *, days: Sequence[date] | None = None, first_day: date | None = None,
                   last_day: date | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """A public or fact table (or only `columns` of it), optionally only some days, timestamps as UTC."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            return self._read(conn, name, days=days, first_day=first_day, last_day=last_day, columns=columns)

    @staticmethod
    def _read(conn: Connection, name: str, *, days: Sequence[date] | None = None, first_day: date | None = None,
              last_day: date | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        query = sa.select(*(table.c[c] for c in columns)) if columns else sa.select(table)
        if days is not None:
            query = query.where(table.c.day.in_(as_days(days)))
        if first_day is not None:
            query = query.where(table.c.day >= first_day)
        if last_day is not None:
            query = query.where(table.c.day <= last_day)
        # rows straight from the driver's cursor: SQLAlchemy's per-value result processing (a datetime
        # object parsed from every SQLite timestamp) cost more than the fetch; types are set below.
        # Not ADBC: its bundled second copy of SQLite in this process can drop sqlite3's POSIX locks and
        # corrupt the file (tried: "file is not a database" in test_late_data).
        result = conn.execute(query)
        frame = pd.DataFrame.from_records(result.cursor.fetchall(), columns=[d[0] for d in result.cursor.description])
        result.close()
        for column in table.columns:
            if isinstance(column.type, sa.DateTime) and column.name in frame:
                frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
            if isinstance(column.type, sa.Date) and column.name in frame:
                frame[column.name] = pd.to_datetime(frame[column.name]).dt.date
            if isinstance(column.type, sa.Boolean) and column.name in frame:   # SQLite keeps 0 / 1
                flags = frame[column.name]
                frame[column.name] = flags.astype(bool) if flags.notna().all() else \
                    flags.map({0: False, 1: True}).astype(object).where(flags.notna(), None)
        return frame

    def read_facts(self, first_day: date | None = None, last_day: date | None = None,
                   bounded: Sequence[str] = (), skip: Mapping[str, Collection[str]] | None = None
                   ) -> dict[str, pd.DataFrame]:
        """The fact tables from their per-day streams (what the period query reads: the same rows as the
        `fact_*` tables, without fetching them row by row), whole, or for the facts named in `bounded` only
        the days first_day..last_day, without the columns `skip` names per fact; a fact never published is
        absent."""
        self.ensure_schema()
        query = sa.select(fact_streams.c.fact, fact_streams.c.stream).order_by(fact_streams.c.fact, fact_streams.c.day)
        if bounded:
            query = query.where(fact_streams.c.fact.not_in(list(bounded))
                                | fact_streams.c.day.between(first_day, last_day))
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        names = list(dict.fromkeys(name for name, _ in found))
        # two tables at a time: decompression releases the GIL (a year at 10x: 1.2 s instead of 2.4 s)
        with ThreadPoolExecutor(max_workers=2) as pool:
            frames = pool.map(lambda name: decode_days([stream for fact, stream in found if fact == name],
                                                       (skip or {}).get(name, ())), names)
            return dict(zip(names, frames))

    def published_days(self) -> set[date]:
        """The days the reporting database holds KPI rows for (what the late-data sensor may re-run)."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(kpi_daily.c.day).distinct()).scalars().all()
        return set(as_days(found))

    def attribution_changes_since(self, since: datetime | None, until: datetime | None = None
                                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """What the sensor needs for Chat-Card-86 of other days: the chatrooms that gained or lost a sale
        in the ledger after `since` (chatroom_id, computed_at = when the change was published), their
        establishment (fact_chatrooms: chatroom_id, established_at), and when each day's Chat-Card-86 was
        last computed (day, computed_at). Orders republished unchanged are not in the ledger, so a
        re-run never triggers another."""
        self.ensure_schema()
        led = attribution_ledger.c
        changes = sa.union_all(*(sa.select(column.label("chatroom_id"), led.changed_at.label("computed_at"))
                                 .where(column.is_not(None), *([led.changed_at > since] if since else []),
                                        *([led.changed_at <= until] if until else []))
                                 for column in (led.old_chatroom_id, led.new_chatroom_id))).subquery()
        sales = (sa.select(changes.c.chatroom_id, sa.func.max(changes.c.computed_at).label("computed_at"))
                 .group_by(changes.c.chatroom_id))
        kpis = (sa.select(kpi_daily.c.day, sa.func.max(kpi_daily.c.computed_at).label("computed_at"))
                .where(kpi_daily.c.kpi == "Chat-Card-86", kpi_daily.c.dimension == "all").group_by(kpi_daily.c.day))
        with self.engine.connect() as conn:
            sold = pd.read_sql(sales, conn)
            computed = pd.read_sql(kpis, conn)
            rooms = pd.DataFrame({"chatroom_id": pd.Series(dtype="str"), "established_at": pd.Series(dtype="str")})
            if len(sold) and sa.inspect(conn).has_table(FACT_PREFIX + "chatrooms"):
                facts = sa.Table(FACT_PREFIX + "chatrooms", sa.MetaData(), autoload_with=conn)
                rooms = pd.read_sql(sa.select(facts.c.chatroom_id, facts.c.established_at)
                                    .where(facts.c.chatroom_id.in_(sa.select(changes.c.chatroom_id)))
                                    .where(facts.c.established_at.is_not(None)), conn)
        return sold, rooms, computed

    def latest_ledger_change(self) -> datetime | None:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(attribution_ledger.c.changed_at))).scalar()

    def kpi_series(self, refs: Sequence[str], dimensions: Sequence[str], first_day: date, last_day: date
                   ) -> pd.DataFrame:
        """The kpi_daily rows (day, kpi, dimension, dimension_value, value) of `refs` and `dimensions` over
        first_day..last_day: the points of the line charts, selected in the database (a few rows a day)."""
        self.ensure_schema()
        k = kpi_daily.c
        query = (sa.select(k.day, k.kpi, k.dimension, k.dimension_value, k.value)
                 .where(k.kpi.in_(list(refs)), k.dimension.in_(list(dimensions)), k.day.between(first_day, last_day)))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).all(), columns=["day", "kpi", "dimension", "dimension_value",
                                                                     "value"])
        return frame.assign(day=pd.to_datetime(frame["day"]).dt.date, value=frame["value"].astype("float64"))

    def member_names(self) -> pd.DataFrame:
        """Each member's names and role as of the member's latest day in member_daily: the reporting database
        keeps no other copy of the chat platform's members, and the members list of a period names them."""
        self.ensure_schema()
        m = member_daily.c
        latest = sa.select(m.member_id, sa.func.max(m.day).label("day")).group_by(m.member_id).subquery()
        query = (sa.select(m.member_id, m.last_name, m.first_name, m.role)
                 .join(latest, (m.member_id == latest.c.member_id) & (m.day == latest.c.day))
                 .order_by(m.member_id))
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).all(), columns=["member_id", "last_name", "first_name", "role"])
        return frame.astype({"member_id": "str", "role": "Int64"})

    def table_names(self) -> list[str]:
        return sorted(sa.inspect(self.engine).get_table_names())

    def dispose(self) -> None:
        self.engine.dispose()


SQLITE_BUSY_TIMEOUT_S = 60


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL (readers never block on the writer) and a busy timeout."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _switch_to_wal(cursor) -> None:
    """Put the database in WAL mode, waiting for a writer as the busy timeout would. On a database still in
    rollback mode (a fresh file whose first connection is writing the WAL header) SQLite fails the switch
    at once with 'database is locked' and skips the busy handler: it has read the header and could
    deadlock upgrading to a write. WAL is persistent, so once any connection has switched, this is one
    read."""
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
    if mode not in ("wal", "memory"):       # an in-memory database has no journal file to switch
        raise sqlite3.OperationalError(f"the reporting database stays in journal mode {mode!r}, not WAL")
