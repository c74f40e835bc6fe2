"""The normalised frames every module agrees on.

Readers turn each source into these frames (and a rejects frame); identity, attribution, facts and KPIs
consume only these. Conventions, everywhere:

- timestamps are tz-aware UTC, dtype ``datetime64[us, UTC]`` (``TS``); a missing one is ``NaT``;
- text columns use pandas' default ``str`` dtype, missing = NA;
- amounts are ``float64`` in the reporting currency (decimal strings are parsed once, at the edge);
- booleans are ``bool`` (never missing) unless the column says ``boolean`` (nullable).
"""

from __future__ import annotations

import pandas as pd

TS = "datetime64[us, UTC]"

# --- chat platform (data-contract.md §1): one frame per table, same names and columns ---------------
CHAT_TABLES: dict[str, dict[str, str]] = {
    "members": {"member_id": "str", "first_name": "str", "last_name": "str", "role": "int64", "store_id": "str"},
    "visitors": {"visitor_id": "str", "email": "str", "customer_id": "str", "created_at": TS},
    "conversation_requests": {
        "request_id": "str",
        "visitor_id": "str",
        "source": "str",
        "created_at": TS,
        "question_at": TS,
        "canceled_at": TS,
        "handled_at": TS,
        "handled_by": "str",
    },
    "chatrooms": {
        "chatroom_id": "str",
        "request_id": "str",
        "visitor_id": "str",
        "member_id": "str",
        "source": "str",
        "channel": "str",
        "started_at": TS,
        "is_internal": "bool",
        "is_blocked": "bool",
    },
    "messages": {
        "message_id": "str",
        "chatroom_id": "str",
        "sender": "str",
        "sent_at": TS,
        "is_automatic": "bool",
        "kind": "str",
        "product_id": "str",
        "email_filled_at": TS,
    },
    "ratings": {
        "rating_id": "str",
        "chatroom_id": "str",
        "member_id": "str",
        "requested_at": TS,
        "given_at": TS,
        "score": "Int64",
    },
    "hook_events": {"event_id": "str", "member_id": "str", "visitor_id": "str", "event": "str", "at": TS},
    "member_sessions": {"member_id": "str", "started_at": TS, "ended_at": TS},
    "identity_links": {"visitor_id": "str", "linked_visitor_id": "str", "linked_at": TS},
}
# primary keys (None: the table has no key of its own; duplicates are kept)
CHAT_KEYS: dict[str, tuple[str, ...] | None] = {
    "members": ("member_id",),
    "visitors": ("visitor_id",),
    "conversation_requests": ("request_id",),
    "chatrooms": ("chatroom_id",),
    "messages": ("message_id",),
    "ratings": ("rating_id",),
    "hook_events": ("event_id",),
    "member_sessions": None,
    "identity_links": None,
}
REQUEST_SOURCES = ("waiting_list", "direct", "hook", "phygital")
CHANNELS = ("web", "messenger", "whatsapp", "sms", "instagram", "app", "store")
SENDERS = ("visitor", "member", "system")
MESSAGE_KINDS = ("text", "product", "photo", "video", "connect_request", "email_request", "rating_request", "link")
HOOK_EVENTS = ("triggered", "displayed", "clicked")
ORDER_STATUSES = ("pending", "paid", "partially_refunded", "refunded", "cancelled")

# --- orders: web orders (JSONL / Shopify) and store receipts (POS CSV) share one frame ---------------
# One row per order (latest version). (sales_channel, order_id) is the key: a receipt keeps its
# receipt_id as order_id, so a web order and a receipt may share an id without colliding.
ORDERS: dict[str, str] = {
    "order_id": "str",
    "sales_channel": "str",  # 'web' | 'store'
    "placed_at": TS,
    "updated_at": TS,  # receipts: updated_at = placed_at
    "email": "str",  # raw as given (normalised only in identity)
    "customer_id": "str",
    "visitor_id": "str",  # receipts: both NA
    "currency": "str",
    "total": "float64",
    "refunded": "float64",
    "status": "str",  # ORDER_STATUSES; receipts: 'paid' or 'return'
    "is_first_order": "boolean",  # NA when the source does not say
    "store_id": "str",
    "store_name": "str",
    "store_city": "str",  # NA for web orders
    "source_location": "str",  # file (and line) or API page it came from
}
ORDER_LINES: dict[str, str] = {
    "order_id": "str",
    "sales_channel": "str",
    "line_no": "int64",
    "product_id": "str",
    "sku": "str",
    "title": "str",
    "category": "str",
    "quantity": "float64",
    "unit_price": "float64",
    "line_amount": "float64",
}

# --- marketing touchpoints (optional) ----------------------------------------------------------------
CAMPAIGNS: dict[str, str] = {"campaign_id": "str", "name": "str", "kind": "str", "sent_at": TS}
CAMPAIGN_CLICKS: dict[str, str] = {"campaign_id": "str", "email": "str", "clicked_at": TS}

# --- rejects: every row that breaks the contract ----------------------------------------------------
REJECTS: dict[str, str] = {"source": "str", "location": "str", "record_key": "str", "reason": "str"}

# --- attribution: one row per order (attribution.md) -------------------------------------------------
REASONS = ("no_identity", "no_conversation", "conversation_after_order", "no_dialogue", "outside_window")
MATCH_KEYS = ("visitor_id", "linked_visitor_id", "customer_id", "email")  # strongest first
ATTRIBUTION: dict[str, str] = {
    "order_id": "str",
    "sales_channel": "str",
    "placed_at": TS,
    "attributed": "bool",
    "reason": "str",  # NA when attributed
    "chatroom_id": "str",
    "member_id": "str",
    "source": "str",
    "touchpoint": "str",  # the winning chatroom's channel
    "match_key": "str",  # MATCH_KEYS: the strongest key reaching it
    "last_message_at": TS,  # winner's last counted message before T
    "window_days": "int64",
}


def empty(columns: dict[str, str]) -> pd.DataFrame:
    """An empty frame with exactly these columns and dtypes."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def conform(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The frame's columns in schema order and dtypes; a missing column is an error, not a guess."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks columns {missing}")
    return frame[list(columns)].astype(columns)
