"""Published order rows: amounts, sale/return flags, first orders from history, the summary."""

from __future__ import annotations

from datetime import date

import pandas as pd

from chatsales import schema
from chatsales.publication import attributed_order_rows, attribution_summary, derive_first_orders


def _orders(rows):
    base = dict(
        sales_channel="web",
        updated_at=pd.Timestamp("2026-03-01T00:00:00Z"),
        email=None,
        customer_id=None,
        visitor_id=None,
        currency="EUR",
        total=100.0,
        refunded=0.0,
        status="paid",
        is_first_order=pd.NA,
        store_id=None,
        store_name=None,
        store_city=None,
        source_location="f:1",
    )
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["placed_at"] = pd.to_datetime(frame["placed_at"], utc=True)
    return schema.conform(frame, schema.ORDERS)


def _attribution(orders, attributed):
    return pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "sales_channel": orders["sales_channel"],
            "attributed": attributed,
            "reason": [None if a else "no_conversation" for a in attributed],
            "chatroom_id": ["cr-1" if a else None for a in attributed],
            "member_id": ["m-1" if a else None for a in attributed],
            "source": None,
            "touchpoint": None,
            "match_key": None,
            "last_message_at": pd.NaT,
            "window_days": 14,
        }
    )


def test_first_order_is_given_or_derived_from_history():
    orders = _orders(
        [
            {"order_id": "1", "placed_at": "2026-03-02T10:00:00Z", "email": " A@example.com"},
            {"order_id": "2", "placed_at": "2026-03-01T10:00:00Z", "email": "a@example.com", "status": "cancelled"},
            {"order_id": "3", "placed_at": "2026-03-03T10:00:00Z", "email": "a@example.com"},
            {"order_id": "4", "placed_at": "2026-03-03T10:00:00Z", "customer_id": "c-1"},
            {"order_id": "5", "placed_at": "2026-03-04T10:00:00Z", "email": "b@example.com", "is_first_order": False},
            {"order_id": "6", "placed_at": "2026-03-04T10:00:00Z"},
        ]
    )
    from chatsales.pii import hash_emails, normalise_emails

    hashes = hash_emails(normalise_emails(orders["email"]), "k")
    first = derive_first_orders(orders, hashes)
    # a cancelled order is no sale, so order 1 is a@'s first; the source's own flag wins; no identity → unknown
    assert first.tolist() == [True, False, False, True, False, pd.NA]


def test_rows_amounts_days_and_summary():
    orders = _orders(
        [
            {
                "order_id": "1",
                "placed_at": "2026-03-28T23:30:00Z",
                "total": 100.0,
                "refunded": 30.0,
                "status": "partially_refunded",
                "email": "x@example.com",
            },
            {"order_id": "2", "placed_at": "2026-03-28T10:00:00Z", "total": 50.0, "status": "cancelled"},
            {
                "order_id": "R1",
                "sales_channel": "store",
                "placed_at": "2026-03-28T10:00:00Z",
                "total": -20.0,
                "status": "return",
            },
            {"order_id": "3", "placed_at": "2026-03-28T11:00:00Z", "total": 70.0},
        ]
    )
    rows = attributed_order_rows(
        orders, _attribution(orders, [True, True, True, False]), timezone="Europe/Paris", pii_key="k"
    )
    assert rows["day"].tolist() == [date(2026, 3, 29), date(2026, 3, 28), date(2026, 3, 28), date(2026, 3, 28)]
    assert rows["net_total"].tolist() == [70.0, 0.0, -20.0, 70.0]
    assert rows["is_sale"].tolist() == [True, False, False, True]
    assert rows["is_return"].tolist() == [False, False, True, False]
    assert rows["customer_hash"].notna().tolist() == [True, False, False, False]
    assert "email" not in rows.columns
    assert attribution_summary(rows) == {
        "orders": 4,
        "sales": 2,
        "attributed_sales": 1,
        "attributed_share": 0.5,
        "total_sales_amount": 170.0,
        "attributed_sales_amount": 100.0,
        "unattributed_no_conversation": 1,
    }
