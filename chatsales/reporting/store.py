"""Publishing to and reading from the reporting database.

A publication replaces its days in ONE transaction, under a lock: the day tables, the day facts, the ledger
(computed against what is published, so unchanged inputs add nothing), the state facts whose rows changed,
and the pipeline's record of the day. A reader never sees a half-written day, a crash leaves the previous
version, and two publications of the same day never interleave. Before replacing a day, the publication
compares each source's rows with what the day holds: a source that vanished or collapsed is refused
(`PublicationRefused`), unless forced.

`ReportingDb` owns one engine; use it as a context manager (`with ReportingDb(url) as db:`) so the engine is
disposed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from chatsales.attribution_changes import classify_changes
from chatsales.fact_streams import decode_days, encode_days
from chatsales.reporting import tables as t
from chatsales.reporting.engine import as_days, bulk_insert, day_column, lock, make_engine, read_rows, select_days
from chatsales.reporting.schema import upgrade
from chatsales.settings import redacted_url
from chatsales.state_facts import StateFacts

DAY_FACTS = ("messages", "ratings", "hook_events", "member_sessions", "orders", "order_lines")
STATE_FACTS = ("requests", "chatrooms")
COUNTED = {
    "web_orders": "web orders",
    "store_receipts": "store receipts",
    "messages": "messages",
    "campaign_clicks": "campaign clicks",
}
SOURCE_OF = {
    "web_orders": "web_orders",
    "store_receipts": "store_sales",
    "messages": "chat_platform",
    "campaign_clicks": "marketing_touchpoints",
}


class PublicationRefused(RuntimeError):
    """A source fed a day far fewer rows than the day holds: nothing was replaced."""


def drops(counts: pd.DataFrame, published: pd.DataFrame, max_drop_pct: float) -> list[str]:
    """One line per (day, source) whose rows would vanish or fall by more than `max_drop_pct` %."""
    merged = counts.merge(published, on="day", how="inner", suffixes=("", "_published"))
    lines = []
    for column, what in COUNTED.items():
        before, after = merged[f"{column}_published"], merged[column]
        bad = (before > 0) & ((after == 0) | (after < before * (1 - max_drop_pct / 100)))
        for day, old, new in zip(merged.loc[bad, "day"], before[bad], after[bad]):  # a loop over refusals
            lines.append(
                f"{SOURCE_OF[column]}: {day} would go from {int(old):,} {what} to {int(new):,}, a fall of "
                f"more than CHATSALES_MAX_DAY_DROP_PCT={max_drop_pct:g}%"
            )
    return lines


def state_digests(frame: pd.DataFrame) -> dict[date, str]:
    """A content digest per day of a state fact: what tells a publication which days changed."""
    if frame.empty:
        return {}
    hashed = pd.util.hash_pandas_object(frame.drop(columns="day"), index=False).to_numpy()
    days = frame["day"].to_numpy()
    order = pd.Series(hashed).groupby(days, sort=True)
    return {day: hashlib.sha1(values.to_numpy().tobytes()).hexdigest() for day, values in order}


FIRST_SALES_BY_INDEX = 50_000  # more chatrooms than this: one pass over the attributed orders is cheaper
LOCATIONS_PER_DELETE = 200  # SQLite caps an expression's depth at 1000: a year of daily files is more


class ReportingDb:
    """The reporting database at `url` (any SQLAlchemy URL; say the driver for PostgreSQL)."""

    def __init__(self, url: str, *, read_only: bool = False):
        self.url = url
        self.read_only = read_only
        self.engine = make_engine(url, read_only=read_only)
        self._ready = read_only

    def __enter__(self) -> ReportingDb:
        return self

    def __exit__(self, *_exc) -> None:
        self.dispose()

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"ReportingDb({redacted_url(self.url)})"

    # --- schema --------------------------------------------------------------------------------------
    def ensure_schema(self) -> str:
        """Upgrade the schema once per instance (Alembic); says what happened."""
        if self._ready:
            return "up to date"
        outcome = upgrade(self.engine)
        self._ready = True
        return outcome

    # --- publication ---------------------------------------------------------------------------------
    def publish_days(
        self,
        days: Sequence[date],
        *,
        run_id: str,
        lake_seq: int = 0,
        tables: Mapping[str, pd.DataFrame] | None = None,
        day_facts: Mapping[str, pd.DataFrame] | None = None,
        state_facts: StateFacts | Mapping[str, pd.DataFrame] | None = None,
        rebuild_state: bool = False,
        counts: pd.DataFrame | None = None,
        max_drop_pct: float = 50.0,
        force: bool = False,
        computed_at: datetime | None = None,
    ) -> dict[str, int]:
        """Replace everything of `days` in one transaction; return rows written per table.

        `tables`: the day tables (t.DAY_TABLES), each with a `day` column, only rows of `days`;
        `day_facts`: facts of `days`; `state_facts`: the state facts, as StateFacts or built whole (rewritten
        by changed day, built only for the months whose rows changed since they were published, and the days
        of the chatrooms whose first sale the publication may move; every month with `rebuild_state`);
        `counts`: per day, the rows each source fed it (compared with the published day unless `force`).
        The ledger is derived here from `attributed_orders` against what is published.
        """
        self.ensure_schema()
        days = as_days(days)
        computed_at = computed_at or datetime.now(UTC)
        stamp = {"run_id": run_id, "computed_at": computed_at}
        written: dict[str, int] = {}
        with self.engine.begin() as conn:
            lock(conn)
            if counts is not None:
                published = read_rows(conn, t.pipeline_days, select_days(t.pipeline_days, days=days))
                refused = drops(counts.assign(day=day_column(counts)), published, max_drop_pct)
                if refused and not force:
                    raise PublicationRefused(
                        "; ".join(refused) + ". Nothing was replaced (--force publishes "
                        "anyway and says so in the ledger)"
                    )
            rows = (tables or {}).get("attributed_orders")
            credited = self._credited_rooms(conn, days, rows)
            if rows is not None:
                written["attribution_ledger"] = self._write_ledger(conn, days, rows, run_id, computed_at, force)
            for name, frame in (tables or {}).items():
                target = t.DAY_TABLES[name]
                frame = self._only_days(frame.assign(**stamp), days, name)
                conn.execute(target.delete().where(target.c.day.in_(days)))
                written[name] = bulk_insert(conn, target, frame[[c.name for c in target.columns]])
            for name, frame in (day_facts or {}).items():
                written[f"facts.{name}"] = self._write_day_facts(conn, name, self._only_days(frame, days, name), days)
            if state_facts is not None:
                if not isinstance(state_facts, StateFacts):
                    state_facts = StateFacts.of_facts(state_facts)
                for name in state_facts.names():
                    written[f"facts.{name}"] = self._write_state_facts(conn, name, state_facts, credited, rebuild_state)
            if counts is not None:
                record = counts.assign(day=day_column(counts), lake_seq=lake_seq, **stamp)
                conn.execute(t.pipeline_days.delete().where(t.pipeline_days.c.day.in_(days)))
                bulk_insert(conn, t.pipeline_days, self._only_days(record, days, "pipeline_days"))
        return written

    def _write_day_facts(self, conn: Connection, name: str, frame: pd.DataFrame, days: list[date]) -> int:
        streams = t.fact_streams
        conn.execute(streams.delete().where(streams.c.fact == name, streams.c.day.in_(days)))
        rows = [
            {"fact": name, "day": day, "rows": n, "stream": stream, "digest": None}
            for day, n, stream in encode_days(frame, days)
        ]
        if rows:
            conn.execute(streams.insert(), rows)
        return len(frame)

    def _write_state_facts(
        self, conn: Connection, name: str, state: StateFacts, credited: Collection[str], rebuild: bool
    ) -> int:
        """Rewrite the days of a state fact whose content changed, and remove the days it no longer has,
        among the months whose rows changed since they were published and the days of the chatrooms whose
        first sale this publication may move; record the months' digests."""
        streams, sources = t.fact_streams, t.state_sources
        months = state.month_digests(name)
        published = dict(conn.execute(sa.select(sources.c.part, sources.c.digest).where(sources.c.fact == name)).all())
        dirty = {m for m, d in months.items() if rebuild or published.get(m) != d} | (published.keys() - months.keys())
        frame = state.build(name, dirty, credited if name == "chatrooms" else ())
        if name == "chatrooms" and "first_sale_at" not in frame:
            frame = frame.assign(first_sale_at=self._first_sales(conn, frame["chatroom_id"], day_column(frame)))
        frame = frame.assign(day=day_column(frame))
        digests = state_digests(frame)
        stored = dict(conn.execute(sa.select(streams.c.day, streams.c.digest).where(streams.c.fact == name)).all())
        stored = {as_days([day])[0]: digest for day, digest in stored.items()}
        changed = [day for day, digest in digests.items() if stored.get(day) != digest]
        whole = rebuild or not published  # the first publication since the upgrade that added the months
        gone = [day for day in stored if day not in digests and (whole or f"{day:%Y-%m}" in dirty)]
        if changed or gone:
            conn.execute(streams.delete().where(streams.c.fact == name, streams.c.day.in_(changed + gone)))
        part = frame[frame["day"].isin(set(changed))]
        rows = [
            {"fact": name, "day": day, "rows": n, "stream": stream, "digest": digests[day]}
            for day, n, stream in encode_days(part, changed)
        ]
        if rows:
            conn.execute(streams.insert(), rows)
        if dirty:
            conn.execute(sources.delete().where(sources.c.fact == name, sources.c.part.in_(sorted(dirty))))
            fresh = [{"fact": name, "part": m, "digest": months[m]} for m in sorted(dirty) if m in months]
            if fresh:
                conn.execute(sources.insert(), fresh)
        return len(part)

    @staticmethod
    def _credited_rooms(conn: Connection, days: list[date], rows: pd.DataFrame | None) -> list[str]:
        """The chatrooms credited with an order of `days`, as published and in `rows`: those whose first
        sale the publication may move."""
        if rows is None:
            return []
        o = t.attributed_orders.c
        query = sa.select(o.chatroom_id).distinct().where(o.day.in_(days), o.attributed, o.chatroom_id.is_not(None))
        old = conn.execute(query).scalars().all()
        new = rows.loc[rows["attributed"].astype(bool), "chatroom_id"].dropna().astype("str")
        return sorted(set(old) | set(new))

    @staticmethod
    def _first_sales(conn: Connection, chatroom_ids: pd.Series, started: pd.Series) -> pd.Series:
        """Each chatroom's first attributed sale as published (after this transaction's own rows); `started`:
        their reporting days (none of their sales is older than the day before the first)."""
        since = started.dropna().min() - timedelta(days=1) if started.notna().any() else None
        found = first_sales_of(conn, chatroom_ids, since=since)
        return pd.Series(found.reindex(chatroom_ids.to_numpy()).array, index=chatroom_ids.index).astype(
            "datetime64[us, UTC]"
        )

    @staticmethod
    def _only_days(frame: pd.DataFrame, days: list[date], table: str) -> pd.DataFrame:
        frame = frame.assign(day=day_column(frame))
        stray = ~frame["day"].isin(days)
        if stray.any():
            raise ValueError(
                f"{table}: {int(stray.sum())} rows are for days outside the publication "
                f"{days[0]}..{days[-1]} (first: {frame.loc[stray, 'day'].iloc[0]})"
            )
        return frame

    def _write_ledger(
        self, conn: Connection, days: list[date], new: pd.DataFrame, run_id: str, changed_at: datetime, forced: bool
    ) -> int:
        """One ledger row per order whose credited chatroom or reason differs from what is published; a
        forced publication also names each published order it removes (change `removed`)."""
        o = t.attributed_orders.c
        old = read_rows(
            conn,
            t.attributed_orders,
            sa.select(
                o.order_id, o.sales_channel, o.chatroom_id, o.member_id, o.reason, o.attributed, o.day, o.window_days
            ).where(o.day.in_(days)),
        )
        old = old.astype({c: "str" for c in ("order_id", "sales_channel", "chatroom_id", "member_id", "reason")})
        c = classify_changes(
            new[
                ["order_id", "sales_channel", "day", "attributed", "chatroom_id", "member_id", "reason", "window_days"]
            ],
            old,
        )
        c = c[c["change"] != ""]
        if forced:
            keys = ["order_id", "sales_channel"]
            kept = pd.MultiIndex.from_frame(new[keys].astype("str"))
            gone = old[~pd.MultiIndex.from_frame(old[keys]).isin(kept)]
            was = gone["attributed"].astype(bool)
            c = pd.concat(
                [
                    c,
                    gone.assign(
                        change="removed",
                        old_chatroom_id=gone["chatroom_id"].where(was),
                        old_member_id=gone["member_id"].where(was),
                        old_reason=gone["reason"],
                        new_chatroom_id=None,
                        new_member_id=None,
                        new_reason=None,
                    ),
                ],
                ignore_index=True,
            )
        if c.empty:
            return 0
        ledger = c.assign(
            day=day_column(c),
            changed_at=changed_at,
            run_id=run_id,
            forced=forced,
            window_days=c["window_days"].astype("int64"),
        )
        return bulk_insert(conn, t.attribution_ledger, ledger[[col.name for col in t.attribution_ledger.columns]])

    def publish_snapshots(
        self, tables: Mapping[str, pd.DataFrame], *, run_id: str, computed_at: datetime | None = None
    ) -> dict[str, int]:
        """Replace each named snapshot table whole, all of them in one transaction."""
        self.ensure_schema()
        stamp = {"run_id": run_id, "computed_at": computed_at or datetime.now(UTC)}
        written = {}
        with self.engine.begin() as conn:
            lock(conn)
            for name, frame in tables.items():
                table = t.SNAPSHOT_TABLES[name]
                conn.execute(table.delete())
                written[name] = bulk_insert(conn, table, frame.assign(**stamp)[[c.name for c in table.columns]])
        return written

    def replace_rejects(
        self, source: str, frame: pd.DataFrame, *, run_id: str, locations: Collection[str] | None = None
    ) -> int:
        """The rejects of what `source` read this time replace the ones of the same locations (files read
        again, tables scanned again); rejects of locations not read again stay."""
        self.ensure_schema()
        frame = frame.assign(source=source, run_id=run_id, seen_at=datetime.now(UTC))
        frame["rows"] = frame["rows"].fillna(1).astype("int64") if "rows" in frame else 1
        r = t.rejects
        with self.engine.begin() as conn:
            lock(conn)
            if locations is None:
                conn.execute(r.delete().where(r.c.source == source))
            names = sorted(locations or ())
            for start in range(0, len(names), LOCATIONS_PER_DELETE):  # a loop over batches of file names
                batch = names[start : start + LOCATIONS_PER_DELETE]
                conn.execute(
                    r.delete().where(r.c.source == source, sa.or_(*(r.c.location.like(f"{n}%") for n in batch)))
                )
            written = bulk_insert(conn, r, frame[[c.name for c in r.columns]])
        return written

    def record_reattribution(self, changes: pd.DataFrame) -> int:
        self.ensure_schema()
        with self.engine.begin() as conn:
            return bulk_insert(conn, t.reattribution_changes, changes)

    # --- reading -------------------------------------------------------------------------------------
    def read_table(
        self,
        name: str,
        *,
        days: Sequence[date] | None = None,
        first_day: date | None = None,
        last_day: date | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """A table (or only `columns` of it), optionally only some days, timestamps as UTC."""
        self.ensure_schema()
        table = t.metadata.tables[name]
        with self.engine.connect() as conn:
            return read_rows(
                conn, table, select_days(table, columns, days=days, first_day=first_day, last_day=last_day)
            )

    def read_facts(
        self,
        first_day: date | None = None,
        last_day: date | None = None,
        bounded: Sequence[str] = (),
        skip: Mapping[str, Collection[str]] | None = None,
    ) -> dict[str, pd.DataFrame]:
        """The facts from their per-day streams, whole, or for the facts named in `bounded` only the days
        first_day..last_day, without the columns `skip` names per fact; a fact never published is absent."""
        self.ensure_schema()
        s = t.fact_streams.c
        query = sa.select(s.fact, s.stream).order_by(s.fact, s.day)
        if bounded:
            query = query.where(s.fact.not_in(list(bounded)) | s.day.between(first_day, last_day))
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        names = list(dict.fromkeys(name for name, _ in found))
        # two tables at a time: decompression releases the GIL
        with ThreadPoolExecutor(max_workers=2) as pool:
            frames = pool.map(
                lambda name: decode_days(
                    [stream for fact, stream in found if fact == name], (skip or {}).get(name, ())
                ),
                names,
            )
            return dict(zip(names, frames))

    def published_days(self, among: Sequence[date] | None = None) -> set[date]:
        """The days the reporting database holds KPI rows for (among `among` only: a lookup by the key's
        leading day instead of a pass over every day published)."""
        self.ensure_schema()
        query = sa.select(t.kpi_daily.c.day).distinct()
        if among is not None:
            query = query.where(t.kpi_daily.c.day.in_(as_days(among)))
        with self.engine.connect() as conn:
            found = conn.execute(query).scalars().all()
        return set(as_days(found))

    def pipeline_days(self) -> pd.DataFrame:
        """Per published day: the lake change it was computed from and the rows each source fed it."""
        return self.read_table("pipeline_days")

    def first_sales(self, chatroom_ids: Collection[str], excluding: Sequence[date]) -> pd.Series:
        """Each of these chatrooms' first attributed sale among the published days not in `excluding`."""
        self.ensure_schema()
        with self.engine.connect() as conn:
            return first_sales_of(conn, chatroom_ids, excluding)

    def publish_facts(self, facts, days: Sequence[date], *, run_id: str) -> dict[str, int]:
        """A Facts object published as a night would (its day facts for `days`, its state facts whole):
        for tests and benchmarks that build facts in memory."""
        tables = facts.tables()
        days = as_days(days)
        day_facts = {name: tables[name][day_column(tables[name]).isin(days)] for name in DAY_FACTS if name in tables}
        return self.publish_days(
            days, run_id=run_id, day_facts=day_facts, state_facts={name: tables[name] for name in STATE_FACTS}
        )

    def sales_of_customers(self, hashes: Collection[str]) -> pd.DataFrame:
        """The published sales (not cancelled, total > 0) of these customers: customer_hash, placed_at, is_sale."""
        self.ensure_schema()
        o = t.attributed_orders.c
        wanted = sorted({h for h in hashes if isinstance(h, str)})
        frames = []
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 5000):
                query = sa.select(o.customer_hash, o.placed_at).where(
                    o.customer_hash.in_(wanted[start : start + 5000]), sa.not_(o.is_cancelled), o.total > 0
                )
                frames.append(pd.DataFrame(conn.execute(query).all(), columns=["customer_hash", "placed_at"]))
        found = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["customer_hash", "placed_at"])
        return found.assign(
            placed_at=pd.to_datetime(found["placed_at"], utc=True, format="ISO8601").astype("datetime64[us, UTC]"),
            is_sale=True,
        )

    def attribution_changes_since(
        self, since: datetime | None, until: datetime | None = None, from_day: date | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """What the sensor needs for Chat-Card-86 of other days: the chatrooms that gained or lost a sale in
        the ledger after `since` (chatroom_id, computed_at), and when each day's Chat-Card-86 was last computed
        (day, computed_at; from `from_day` on: the days the sensor may re-run, read by the key's leading day
        rather than by every day ever published). Orders republished unchanged are not in the ledger: a re-run
        never triggers another."""
        self.ensure_schema()
        led = t.attribution_ledger.c
        changes = sa.union_all(
            *(
                sa.select(column.label("chatroom_id"), led.changed_at.label("computed_at")).where(
                    column.is_not(None),
                    *([led.changed_at > since] if since else []),
                    *([led.changed_at <= until] if until else []),
                )
                for column in (led.old_chatroom_id, led.new_chatroom_id)
            )
        ).subquery()
        sales = sa.select(changes.c.chatroom_id, sa.func.max(changes.c.computed_at).label("computed_at")).group_by(
            changes.c.chatroom_id
        )
        k = t.kpi_daily.c
        kpis = (
            sa.select(k.day, sa.func.max(k.computed_at).label("computed_at"))
            .where(k.kpi == "Chat-Card-86", k.dimension == "all", *([k.day >= from_day] if from_day else []))
            .group_by(k.day)
        )
        with self.engine.connect() as conn:
            return pd.read_sql(sales, conn), pd.read_sql(kpis, conn)

    def latest_ledger_change(self) -> datetime | None:
        self.ensure_schema()
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(t.attribution_ledger.c.changed_at))).scalar()

    def kpi_series(
        self, refs: Sequence[str], dimensions: Sequence[str], first_day: date, last_day: date
    ) -> pd.DataFrame:
        """kpi_daily rows (day, kpi, dimension, dimension_value, value) of `refs` over first_day..last_day."""
        self.ensure_schema()
        k = t.kpi_daily.c
        query = sa.select(k.day, k.kpi, k.dimension, k.dimension_value, k.value).where(
            k.kpi.in_(list(refs)), k.dimension.in_(list(dimensions)), k.day.between(first_day, last_day)
        )
        with self.engine.connect() as conn:
            frame = pd.DataFrame(
                conn.execute(query).all(), columns=["day", "kpi", "dimension", "dimension_value", "value"]
            )
        return frame.assign(day=pd.to_datetime(frame["day"]).dt.date, value=frame["value"].astype("float64"))

    def member_names(self) -> pd.DataFrame:
        """Each member's names and role as of the member's latest day in member_daily."""
        self.ensure_schema()
        m = t.member_daily.c
        latest = sa.select(m.member_id, sa.func.max(m.day).label("day")).group_by(m.member_id).subquery()
        query = (
            sa.select(m.member_id, m.last_name, m.first_name, m.role)
            .join(latest, (m.member_id == latest.c.member_id) & (m.day == latest.c.day))
            .order_by(m.member_id)
        )
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query).all(), columns=["member_id", "last_name", "first_name", "role"])
        return frame.astype({"member_id": "str", "role": "Int64"})

    def customer_counts(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp | None]:
        """Customers per segment type and segment, customers per revenue trend, and the snapshot's as_of,
        counted by the database (a customer is in a segment once: the primary key)."""
        self.ensure_schema()
        s, tr = t.customer_segments.c, t.customer_trends.c
        with self.engine.connect() as conn:
            per_segment = pd.read_sql(
                sa.select(s.segment_type, s.segment, sa.func.count().label("customers")).group_by(
                    s.segment_type, s.segment
                ),
                conn,
            )
            per_trend = pd.read_sql(sa.select(tr.trend, sa.func.count().label("customers")).group_by(tr.trend), conn)
            as_of = conn.execute(sa.select(sa.func.max(s.as_of))).scalar()
        return per_segment, per_trend, None if as_of is None else _utc(as_of)

    def table_names(self) -> list[str]:
        return sorted(sa.inspect(self.engine).get_table_names())


def first_sales_of(
    conn: Connection, chatroom_ids: Collection[str], excluding: Sequence[date] = (), since: date | None = None
) -> pd.Series:
    """Each of these chatrooms' first attributed sale among the published days not in `excluding`, by
    chatroom_id (looked up by the chatroom index, a few thousand at a time; once over the orders when the
    chatrooms are many, as when a month of a 30× shop's state facts is rebuilt: over the days from `since`
    when the caller knows that no chatroom of them started earlier, a sale coming after its chatroom's start)."""
    o = t.attributed_orders.c
    values = chatroom_ids if isinstance(chatroom_ids, (pd.Series, pd.Index, np.ndarray)) else list(chatroom_ids)
    ids = np.sort(pd.unique(pd.Series(values, dtype=object).dropna().to_numpy()))  # no Python set: 700,000 at 30×
    sales = (o.attributed, sa.not_(o.is_cancelled), o.total > 0, o.day.not_in(as_days(excluding)))
    query = sa.select(o.chatroom_id, sa.func.min(o.placed_at).label("first_sale_at")).group_by(o.chatroom_id)
    if len(ids) > FIRST_SALES_BY_INDEX:
        # the days first, materialised: grouping the whole table, SQLite walked the chatroom index over every
        # order ever published (no statistics: it prefers skipping the sort), growing with the history
        recent = sa.select(o.chatroom_id, o.placed_at).where(*sales, *([o.day >= since] if since else []))
        recent = recent.cte("recent").prefix_with("MATERIALIZED")
        by_room = sa.select(recent.c.chatroom_id, sa.func.min(recent.c.placed_at)).group_by(recent.c.chatroom_id)
        found = [conn.execute(by_room).all()]
    else:
        found = [
            conn.execute(query.where(o.chatroom_id.in_(ids[start : start + 5000].tolist()), *sales)).all()
            for start in range(0, len(ids), 5000)
        ]
    rows = [row for rows in found for row in rows]
    # built by column: a frame built from a list of result rows costs a second per 100,000 rows
    at = pd.to_datetime(pd.Series([row[1] for row in rows], dtype=object), utc=True, format="ISO8601")
    by_room = pd.Series(at.array, index=pd.Index([row[0] for row in rows], dtype=object, name="chatroom_id"))
    return by_room.rename("first_sale_at").astype("datetime64[us, UTC]")


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)  # SQLite gives it back naive (stored as UTC), PostgreSQL with a zone
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
