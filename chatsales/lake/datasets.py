"""The lake's datasets: one per source table, each partitioned by the local day of its creation instant.

Rows are the validated source rows in the shapes of schema.py, except that every email became the keyed
hash of the normalised address (`email_hash`, `customer_hash`) and orders remember where their kept version
was read (`source_file`, `source_line`): the read order decides between two versions of an order.
"""

from __future__ import annotations

from chatsales import schema
from chatsales.lake.store import Dataset

CHAT = "sources/chat_platform"
CHAT_PARTITION = {  # table: the instant whose local day holds the row (it never changes once written)
    "visitors": "created_at",
    "conversation_requests": "created_at",
    "chatrooms": "started_at",
    "messages": "sent_at",
    "ratings": "requested_at",
    "hook_events": "at",
    "member_sessions": "started_at",
    "identity_links": "linked_at",
    "members": None,
}
CHAT_KEY = {
    "member_sessions": ("member_id", "started_at"),
    "identity_links": ("visitor_id", "linked_visitor_id", "linked_at"),
    **{table: key for table, key in schema.CHAT_KEYS.items() if key},
}
VISITORS = {"visitor_id": "str", "email_hash": "str", "customer_id": "str", "created_at": schema.TS}


def _chat_columns(table: str) -> dict[str, str]:
    return VISITORS if table == "visitors" else schema.CHAT_TABLES[table]


CHAT_DATASETS: dict[str, Dataset] = {
    table: Dataset(f"{CHAT}/{table}", CHAT_KEY[table], CHAT_PARTITION[table], "day", _chat_columns(table))
    for table in schema.CHAT_TABLES
}

LAKE_ORDERS = {
    **{c: t for c, t in schema.ORDERS.items() if c != "email"},
    "customer_hash": "str",
    "source_file": "str",
    "source_line": "int64",
}
LAKE_ORDER_LINES = {**schema.ORDER_LINES, "placed_at": schema.TS}
ORDER_DATASETS: dict[str, dict[str, Dataset]] = {
    source: {
        "orders": Dataset(f"sources/{source}/orders", ("order_id",), "placed_at", "day", LAKE_ORDERS),
        "order_lines": Dataset(
            f"sources/{source}/order_lines", ("order_id", "line_no"), "placed_at", "day", LAKE_ORDER_LINES
        ),
    }
    for source in ("web_orders", "store_sales")
}

LAKE_CLICKS = {"campaign_id": "str", "customer_hash": "str", "clicked_at": schema.TS, "line": "int64"}
CAMPAIGNS = Dataset("sources/marketing_touchpoints/campaigns", ("campaign_id",), None, "day", schema.CAMPAIGNS)
CLICKS = Dataset("sources/marketing_touchpoints/campaign_clicks", ("line",), "clicked_at", "day", LAKE_CLICKS)
