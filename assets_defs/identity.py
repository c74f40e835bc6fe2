"""Identity: each order's keys (browser visitor, linked visitor, customer id, email hash) and the chatrooms
they reach."""

import dagster as dg

from assets_defs.common import DAILY, per_day, run_days
from assets_defs.sources import store_sales, web_orders
from assets_defs.state import conversation_state
from chatsales import days as chain
from chatsales.extract.changes import local_dates
from resources.lake import LakeResource


@dg.asset(
    **DAILY,
    group_name="identity",
    kinds={"duckdb"},
    deps=[web_orders, store_sales, conversation_state],
    description="The day's orders and receipts (latest versions) with their identity keys, and one row "
    "per chatroom their keys reach (visitor id, a visitor linked by an offsite click before "
    "the order, customer id, email hash) with the strongest key that reached it. Emails are "
    "only ever keyed hashes.",
)
def customer_identities(context: dg.AssetExecutionContext, lake: LakeResource) -> dict:
    days = run_days(context)
    orders, lines = chain.orders_of(lake.lake, days)
    candidates = chain.identities(orders, lake.lake, lake.catalog)
    tz = days.timezone
    orders = orders.assign(day=local_dates(orders["placed_at"], tz).dt.date)
    summary = chain.identity_summary(orders, candidates).assign(day=orders["day"].to_numpy())
    per_day(
        context,
        {
            day: {
                "orders": len(rows),
                "orders_without_identity": int(
                    (~rows[["has_visitor_id", "has_customer_id", "has_email"]].any(axis=1)).sum()
                ),
                "orders_with_candidates": int((rows["candidate_chatrooms"] > 0).sum()),
            }
            for day, rows in summary.groupby("day")
        },
    )
    day_of = orders.set_index(["sales_channel", "order_id"])["day"]
    return {
        "orders": orders,
        "order_lines": lines.assign(day=local_dates(lines["placed_at"], tz).dt.date),
        "candidates": candidates.assign(
            day=day_of.reindex(list(zip(candidates["sales_channel"], candidates["order_id"]))).to_numpy()
        ),
    }
