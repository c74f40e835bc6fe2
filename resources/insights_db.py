"""The insights tables of the reporting database (README, Reporting database): Insi-7 per day, campaign
attribution and customer segments. Plain SQLAlchemy over a `ReportingStore` (its engine, lock and fast bulk
insert), so the CLI and tests use it without Dagster.

Two kinds of publication, each ONE transaction under the reporting lock:
- `product_daily` replaces the run's days, like the other day tables;
- the nightly snapshots (campaign_*, customer_*, product_mix) are recomputed from the whole history, so a
  publication replaces the whole table: readers see last night's version or tonight's, never a mix.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone

import pandas as pd
import sqlalchemy as sa

from resources.reporting_db import ReportingStore, _bulk_insert, as_days

_meta = sa.MetaData()
_ts = sa.DateTime(timezone=True)


def _stamp() -> tuple[sa.Column, sa.Column]:
    return sa.Column("run_id", sa.Text, nullable=False), sa.Column("computed_at", _ts, nullable=False)


product_daily = sa.Table(
    "product_daily", _meta,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("product_id", sa.Text, primary_key=True),
    sa.Column("shown", sa.BigInteger, nullable=False),
    sa.Column("units_sold", sa.Float, nullable=False),
    sa.Column("sales", sa.Float, nullable=False),
    sa.Column("units_sold_after_shown", sa.Float, nullable=False),
    *_stamp(),
)

campaign_orders = sa.Table(
    "campaign_orders", _meta,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("sales_channel", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("placed_at", _ts, nullable=False),
    sa.Column("customer_hash", sa.Text, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("campaign_id", sa.Text, nullable=False, index=True),
    sa.Column("campaign_name", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("clicked_at", _ts, nullable=False),
    sa.Column("seconds_after_click", sa.Float, nullable=False),
    sa.Column("chat_attributed", sa.Boolean, nullable=False),
    sa.Column("chatroom_id", sa.Text),
    sa.Column("member_id", sa.Text),
    sa.Column("window_days", sa.Integer, nullable=False),
    *_stamp(),
)

campaign_stats = sa.Table(
    "campaign_stats", _meta,
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("campaign_id", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("sent_at", _ts),
    sa.Column("clicks", sa.BigInteger, nullable=False),
    sa.Column("clickers", sa.BigInteger, nullable=False),
    sa.Column("buyers", sa.BigInteger, nullable=False),
    sa.Column("conversion", sa.Float),
    sa.Column("orders", sa.BigInteger, nullable=False),
    sa.Column("sales_sum", sa.Float, nullable=False),
    sa.Column("sales_min", sa.Float),
    sa.Column("sales_mean", sa.Float),
    sa.Column("sales_max", sa.Float),
    sa.Column("overlap_orders", sa.BigInteger, nullable=False),
    sa.Column("overlap_sales", sa.Float, nullable=False),
    sa.Column("window_days", sa.Integer, nullable=False),
    *_stamp(),
)

customer_segments = sa.Table(
    "customer_segments", _meta,
    sa.Column("customer_hash", sa.Text, primary_key=True),
    sa.Column("segment_type", sa.Text, primary_key=True),
    sa.Column("segment", sa.Text, primary_key=True),
    sa.Column("orders", sa.BigInteger, nullable=False),
    sa.Column("units", sa.Float, nullable=False),
    sa.Column("spend", sa.Float, nullable=False),
    sa.Column("first_purchase_at", _ts, nullable=False),
    sa.Column("last_purchase_at", _ts, nullable=False),
    sa.Column("as_of", _ts, nullable=False),
    *_stamp(),
    sa.Index("ix_customer_segments_segment", "segment_type", "segment"),
)

customer_trends = sa.Table(
    "customer_trends", _meta,
    sa.Column("customer_hash", sa.Text, primary_key=True),
    sa.Column("trend", sa.Text, nullable=False, index=True),
    sa.Column("spend_recent", sa.Float, nullable=False),
    sa.Column("spend_previous", sa.Float, nullable=False),
    sa.Column("change_pct", sa.Float),
    sa.Column("orders_recent", sa.BigInteger, nullable=False),
    sa.Column("orders_previous", sa.BigInteger, nullable=False),
    sa.Column("as_of", _ts, nullable=False),
    sa.Column("trend_days", sa.Integer, nullable=False),
    sa.Column("stable_pct", sa.Float, nullable=False),
    *_stamp(),
)

product_mix = sa.Table(
    "product_mix", _meta,
    sa.Column("sales_channel", sa.Text, nullable=False),
    sa.Column("store_id", sa.Text),
    sa.Column("store_city", sa.Text),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("product_id", sa.Text, nullable=False),
    sa.Column("category", sa.Text),
    sa.Column("orders", sa.BigInteger, nullable=False),
    sa.Column("units", sa.Float, nullable=False),
    sa.Column("sales", sa.Float, nullable=False),
    sa.Column("customers", sa.BigInteger, nullable=False),
    sa.Column("as_of", _ts, nullable=False),
    *_stamp(),
)

SNAPSHOT_TABLES = {t.name: t for t in (campaign_orders, campaign_stats, customer_segments, customer_trends,
                                       product_mix)}
INSIGHT_TABLES = ("product_daily", *SNAPSHOT_TABLES)


class InsightsStore:
    """Writes the insights tables through a ReportingStore (same database, same lock)."""

    def __init__(self, store: ReportingStore):
        self.store = store

    def ensure_schema(self) -> None:
        """Under the publication lock, like the reporting tables: two first publications cannot collide."""
        self.store.create_missing(_meta)

    def _frame(self, table: sa.Table, frame: pd.DataFrame, stamp: dict) -> pd.DataFrame:
        columns = [c.name for c in table.columns]
        missing = [c for c in columns if c not in frame.columns and c not in stamp]
        if missing:
            raise ValueError(f"{table.name}: the frame lacks columns {missing}")
        return frame.assign(**stamp)[columns]

    def publish_snapshots(self, tables: Mapping[str, pd.DataFrame], *, run_id: str,
                          computed_at: datetime | None = None) -> dict[str, int]:
        """Replace each named snapshot table whole, all of them in one transaction."""
        unknown = [name for name in tables if name not in SNAPSHOT_TABLES]
        if unknown:
            raise ValueError(f"not snapshot tables: {unknown} (known: {sorted(SNAPSHOT_TABLES)})")
        self.ensure_schema()
        stamp = {"run_id": run_id, "computed_at": computed_at or datetime.now(timezone.utc)}
        written = {}
        with self.store.engine.begin() as conn:
            self.store._lock(conn)
            for name, frame in tables.items():
                table = SNAPSHOT_TABLES[name]
                conn.execute(table.delete())
                written[name] = _bulk_insert(conn, table, self._frame(table, frame, stamp))
        return written

    def customer_counts(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp | None]:
        """Distinct customers per segment type and segment, customers per revenue trend, and the snapshot's
        as_of, counted by the database (one row per customer and type: millions at 10×, never fetched)."""
        self.ensure_schema()
        s, t = customer_segments.c, customer_trends.c
        with self.store.engine.connect() as conn:
            # a customer is in a segment once (the primary key): counting rows counts distinct customers, and
            # reads only the (segment_type, segment) index (25 times faster than count(distinct) on SQLite)
            per_segment = pd.read_sql(sa.select(s.segment_type, s.segment, sa.func.count().label("customers"))
                                      .group_by(s.segment_type, s.segment), conn)
            per_trend = pd.read_sql(sa.select(t.trend, sa.func.count().label("customers")).group_by(t.trend), conn)
            as_of = conn.execute(sa.select(sa.func.max(s.as_of))).scalar()
        return per_segment, per_trend, None if as_of is None else _utc(as_of)

    def customers_as_of(self) -> pd.Timestamp | None:
        """The as_of of the published customer snapshot (None before the first one)."""
        self.ensure_schema()
        with self.store.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(customer_trends.c.as_of))).scalar()
        return None if value is None else _utc(value)

    def publish_product_days(self, days: Sequence[date], frame: pd.DataFrame, *, run_id: str,
                             computed_at: datetime | None = None) -> int:
        """Replace `product_daily` for `days` in one transaction; rows of other days are an error."""
        self.ensure_schema()
        days = as_days(days)
        frame = ReportingStore._only_days(frame, days, "product_daily")
        stamp = {"run_id": run_id, "computed_at": computed_at or datetime.now(timezone.utc)}
        with self.store.engine.begin() as conn:
            self.store._lock(conn)
            conn.execute(product_daily.delete().where(product_daily.c.day.in_(days)))
            return _bulk_insert(conn, product_daily, self._frame(product_daily, frame, stamp))


def _utc(value) -> pd.Timestamp:
    stamp = pd.Timestamp(value)       # SQLite gives it back naive (stored as UTC), PostgreSQL with a zone
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")
