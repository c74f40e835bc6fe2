"""The day-local pipeline: each fact stored once, the pipeline's own bookkeeping, re-attribution changes.

- the `fact_*` row tables are dropped: the facts live once, as `fact_streams` (a digest per stream lets a
  publication rewrite only the state days that changed);
- `rejects.rows`: a file rejected whole counts by its rows; `attribution_ledger.forced`: a publication forced
  past the never-worse check says so;
- `pipeline_days`: per published day, the lake change it was computed from and the rows each source fed it,
  filled for the days already published from what they hold;
- `reattribution_changes`: the orders a re-attribution gained, lost or moved;
- indexes for the lookups of the day-local chain (chatroom's first sale, customer's clicks).

Revision ID: 0002_day_local
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_day_local"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    bind = op.get_bind()
    for table in sa.inspect(bind).get_table_names():
        if table.startswith("fact_") and table != "fact_streams":
            op.drop_table(table)
    with op.batch_alter_table("fact_streams") as batch:
        batch.add_column(sa.Column("digest", sa.Text))
    with op.batch_alter_table("rejects") as batch:
        batch.add_column(sa.Column("rows", sa.BigInteger, nullable=False, server_default="1"))
    with op.batch_alter_table("attribution_ledger") as batch:
        batch.add_column(sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_attributed_orders_chatroom_id", "attributed_orders", ["chatroom_id"])
    op.create_index("ix_attributed_orders_customer_hash", "attributed_orders", ["customer_hash"])
    op.create_table(
        "reattribution_changes",
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
    op.create_table(
        "pipeline_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("lake_seq", sa.BigInteger, nullable=False),
        sa.Column("web_orders", sa.BigInteger, nullable=False),
        sa.Column("store_receipts", sa.BigInteger, nullable=False),
        sa.Column("messages", sa.BigInteger, nullable=False),
        sa.Column("campaign_clicks", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("computed_at", TS, nullable=False),
    )
    # the days already published keep their protection: what they hold is what a new publication compares with
    op.execute("""
        INSERT INTO pipeline_days (day, lake_seq, web_orders, store_receipts, messages, campaign_clicks, run_id,
                                   computed_at)
        SELECT k.day, 0,
               (SELECT count(*) FROM attributed_orders o WHERE o.day = k.day AND o.sales_channel = 'web'),
               (SELECT count(*) FROM attributed_orders o WHERE o.day = k.day AND o.sales_channel = 'store'),
               coalesce((SELECT s.rows FROM fact_streams s WHERE s.fact = 'messages' AND s.day = k.day), 0),
               0, 'migrated', min(k.computed_at)
          FROM kpi_daily k GROUP BY k.day""")


def downgrade() -> None:
    op.drop_table("pipeline_days")
    op.drop_table("reattribution_changes")
    op.drop_index("ix_attributed_orders_customer_hash", "attributed_orders")
    op.drop_index("ix_attributed_orders_chatroom_id", "attributed_orders")
    with op.batch_alter_table("attribution_ledger") as batch:
        batch.drop_column("forced")
    with op.batch_alter_table("rejects") as batch:
        batch.drop_column("rows")
    with op.batch_alter_table("fact_streams") as batch:
        batch.drop_column("digest")
