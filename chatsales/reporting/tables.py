"""The reporting database's tables, declared once: the public interface BI tools read, and the few tables
the pipeline keeps for itself (`pipeline_*`). Alembic (chatsales/reporting/migrations) manages every change
of them; `docs/reporting-tables.md` describes them for readers."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)


def _stamp() -> tuple[sa.Column, sa.Column]:
    """Which run wrote a row, and when: on every table a publication replaces."""
    return sa.Column("run_id", sa.Text, nullable=False), sa.Column("computed_at", TS, nullable=False)


attributed_orders = sa.Table(
    "attributed_orders",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("sales_channel", sa.Text, primary_key=True),
    sa.Column("placed_at", TS, nullable=False),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("customer_hash", sa.Text, index=True),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("net_total", sa.Float, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("is_cancelled", sa.Boolean, nullable=False),
    sa.Column("is_first_order", sa.Boolean),
    sa.Column("attributed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("chatroom_id", sa.Text, index=True),
    sa.Column("member_id", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("touchpoint", sa.Text),
    sa.Column("match_key", sa.Text),
    sa.Column("last_message_at", TS),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("store_id", sa.Text),
    *_stamp(),
)

attribution_ledger = sa.Table(
    "attribution_ledger",
    metadata,
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("sales_channel", sa.Text, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("changed_at", TS, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("old_chatroom_id", sa.Text),
    sa.Column("new_chatroom_id", sa.Text),
    sa.Column("old_member_id", sa.Text),
    sa.Column("new_member_id", sa.Text),
    sa.Column("old_reason", sa.Text),
    sa.Column("new_reason", sa.Text),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
)

kpi_daily = sa.Table(
    "kpi_daily",
    metadata,
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
    "kpi_buckets_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("chart", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("dimension", sa.Text, primary_key=True),
    sa.Column("dimension_value", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    *_stamp(),
)

member_daily = sa.Table(
    "member_daily",
    metadata,
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
    "rejects",
    metadata,
    sa.Column("source", sa.Text, nullable=False, index=True),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("record_key", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False, server_default="1"),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("seen_at", TS, nullable=False),
)

# The facts the period query reads, once: one Arrow IPC stream (LZ4) per fact and reporting day. Day facts
# (messages, ratings, hook events, member sessions, orders, order lines) are replaced with their day; the
# state facts (chatrooms, requests: one row each, as of now) by the days whose rows changed (`digest`).
fact_streams = sa.Table(
    "fact_streams",
    metadata,
    sa.Column("fact", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("stream", sa.LargeBinary, nullable=False),
    sa.Column("digest", sa.Text),
)

# per state fact and local month, the digest of the state rows its published days were built from: what tells
# a publication which months changed since, without building the facts of the others
state_sources = sa.Table(
    "state_sources",
    metadata,
    sa.Column("fact", sa.Text, primary_key=True),
    sa.Column("part", sa.Text, primary_key=True),
    sa.Column("digest", sa.Text, nullable=False),
)

product_daily = sa.Table(
    "product_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("product_id", sa.Text, primary_key=True),
    sa.Column("shown", sa.BigInteger, nullable=False),
    sa.Column("units_sold", sa.Float, nullable=False),
    sa.Column("sales", sa.Float, nullable=False),
    sa.Column("units_sold_after_shown", sa.Float, nullable=False),
    *_stamp(),
)

campaign_orders = sa.Table(
    "campaign_orders",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("sales_channel", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("placed_at", TS, nullable=False),
    sa.Column("customer_hash", sa.Text, nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("campaign_id", sa.Text, nullable=False, index=True),
    sa.Column("campaign_name", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("clicked_at", TS, nullable=False),
    sa.Column("seconds_after_click", sa.Float, nullable=False),
    sa.Column("chat_attributed", sa.Boolean, nullable=False),
    sa.Column("chatroom_id", sa.Text),
    sa.Column("member_id", sa.Text),
    sa.Column("window_days", sa.Integer, nullable=False),
    *_stamp(),
)

campaign_stats = sa.Table(
    "campaign_stats",
    metadata,
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("campaign_id", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("kind", sa.Text),
    sa.Column("sent_at", TS),
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
    "customer_segments",
    metadata,
    sa.Column("customer_hash", sa.Text, primary_key=True),
    sa.Column("segment_type", sa.Text, primary_key=True),
    sa.Column("segment", sa.Text, primary_key=True),
    sa.Column("orders", sa.BigInteger, nullable=False),
    sa.Column("units", sa.Float, nullable=False),
    sa.Column("spend", sa.Float, nullable=False),
    sa.Column("first_purchase_at", TS, nullable=False),
    sa.Column("last_purchase_at", TS, nullable=False),
    sa.Column("as_of", TS, nullable=False),
    *_stamp(),
    sa.Index("ix_customer_segments_segment", "segment_type", "segment"),
)

customer_trends = sa.Table(
    "customer_trends",
    metadata,
    sa.Column("customer_hash", sa.Text, primary_key=True),
    sa.Column("trend", sa.Text, nullable=False, index=True),
    sa.Column("spend_recent", sa.Float, nullable=False),
    sa.Column("spend_previous", sa.Float, nullable=False),
    sa.Column("change_pct", sa.Float),
    sa.Column("orders_recent", sa.BigInteger, nullable=False),
    sa.Column("orders_previous", sa.BigInteger, nullable=False),
    sa.Column("as_of", TS, nullable=False),
    sa.Column("trend_days", sa.Integer, nullable=False),
    sa.Column("stable_pct", sa.Float, nullable=False),
    *_stamp(),
)

product_mix = sa.Table(
    "product_mix",
    metadata,
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
    sa.Column("as_of", TS, nullable=False),
    *_stamp(),
)

# What a re-attribution changed, order by order (issue: the diff readable without the event log).
reattribution_changes = sa.Table(
    "reattribution_changes",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("sales_channel", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("old_chatroom_id", sa.Text),
    sa.Column("new_chatroom_id", sa.Text),
    sa.Column("old_member_id", sa.Text),
    sa.Column("new_member_id", sa.Text),
    sa.Column("old_reason", sa.Text),
    sa.Column("new_reason", sa.Text),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
    sa.Column("computed_at", TS, nullable=False),
)

# The pipeline's own: per published day, the lake change it was computed from (the late-data sensor re-runs a
# day when a newer change affects it) and the rows each source fed it (a publication that would replace a day
# with far fewer is refused).
pipeline_days = sa.Table(
    "pipeline_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("lake_seq", sa.BigInteger, nullable=False),
    sa.Column("web_orders", sa.BigInteger, nullable=False),
    sa.Column("store_receipts", sa.BigInteger, nullable=False),
    sa.Column("messages", sa.BigInteger, nullable=False),
    sa.Column("campaign_clicks", sa.BigInteger, nullable=False),
    *_stamp(),
)

DAY_TABLES = {
    t.name: t for t in (attributed_orders, kpi_daily, kpi_buckets_daily, member_daily, product_daily, campaign_orders)
}
SNAPSHOT_TABLES = {t.name: t for t in (campaign_stats, customer_segments, customer_trends, product_mix)}
