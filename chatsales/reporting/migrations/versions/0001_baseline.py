"""The reporting tables as the first versions of chatsales created them (up to 2026-12-02).

A database created before migrations existed has these tables and no version table: it is stamped with this
revision, then upgraded. The per-fact row tables (`fact_*`) of that version were created on the fly; the next
revision drops them.

Revision ID: 0001_baseline
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)


def _stamp():
    return [sa.Column("run_id", sa.Text, nullable=False), sa.Column("computed_at", TS, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "attributed_orders",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("sales_channel", sa.Text, primary_key=True),
        sa.Column("placed_at", TS, nullable=False),
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
        sa.Column("last_message_at", TS),
        sa.Column("window_days", sa.Integer, nullable=False),
        sa.Column("store_id", sa.Text),
        *_stamp(),
    )
    op.create_table(
        "attribution_ledger",
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
    )
    op.create_table(
        "kpi_daily",
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
    op.create_table(
        "kpi_buckets_daily",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("chart", sa.Text, primary_key=True),
        sa.Column("bucket", sa.Text, primary_key=True),
        sa.Column("dimension", sa.Text, primary_key=True),
        sa.Column("dimension_value", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        *_stamp(),
    )
    op.create_table(
        "member_daily",
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
    op.create_table(
        "rejects",
        sa.Column("source", sa.Text, nullable=False, index=True),
        sa.Column("location", sa.Text, nullable=False),
        sa.Column("record_key", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
    )
    op.create_table(
        "fact_streams",
        sa.Column("fact", sa.Text, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("stream", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "product_daily",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("product_id", sa.Text, primary_key=True),
        sa.Column("shown", sa.BigInteger, nullable=False),
        sa.Column("units_sold", sa.Float, nullable=False),
        sa.Column("sales", sa.Float, nullable=False),
        sa.Column("units_sold_after_shown", sa.Float, nullable=False),
        *_stamp(),
    )
    op.create_table(
        "campaign_orders",
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
    op.create_table(
        "campaign_stats",
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
    op.create_table(
        "customer_segments",
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
    op.create_table(
        "customer_trends",
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
    op.create_table(
        "product_mix",
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


def downgrade() -> None:
    for table in (
        "product_mix",
        "customer_trends",
        "customer_segments",
        "campaign_stats",
        "campaign_orders",
        "product_daily",
        "fact_streams",
        "rejects",
        "member_daily",
        "kpi_buckets_daily",
        "kpi_daily",
        "attribution_ledger",
        "attributed_orders",
    ):
        op.drop_table(table)
