"""Sales insights Insi-1..7 on a small hand-built world, every expected value worked out by hand.

Europe/Paris (UTC+1 in early March). All chat on 2026-03-10:
  cr-1  ann (v-1) / m-1 / direct / web: visitor 09:00Z, member shares p-1 09:05Z and p-2 09:06Z, an
        automatic member message shares p-3 09:07Z (not counted), the visitor shares p-1 09:10Z
  cr-2  bob (v-2) / m-2 / hook / messenger: visitor 10:00Z, member 10:05Z (no product)
  cr-3  v-3 (no email) / m-1 / direct / web: visitor 11:00Z, member shares p-2 11:01Z, p-1 at 15:00Z
Orders:
  o-0  03-01 ann 30 € (p-1 ×1): before any chat → not attributed; makes ann an existing customer
  o-1  03-10 12:00Z ann 100 € (p-1 ×2 at 30, p-3 ×1 at 40) → cr-1; p-1 shown before, p-3 only automatically
  o-2  03-10 13:00Z bob 50 € (p-2 ×1), is_first_order given true → cr-2, where p-2 was never shown
  o-3  03-10 14:00Z visitor v-3, no email 20 € (p-1 ×1) → cr-3, where p-1 is shown only after the order
  o-4  03-10 16:00Z ann 150 € (p-1 ×5) cancelled: no sale
Day 03-10: active dialogues 3, with products 2 (cr-1, cr-3), sales 3 for 170 €, units 5 of which 2 shown before.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from chatsales import schema
from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis import compute_kpis
from chatsales.kpis.insights import product_table
from chatsales.period import Periods
from chatsales.publication import attributed_order_rows

TZ = "Europe/Paris"
D10 = date(2026, 3, 10)


def frame(rows, columns):
    df = pd.DataFrame(rows, columns=list(columns))
    for name in [c for c, t in columns.items() if t == schema.TS]:
        df[name] = pd.to_datetime(df[name], utc=True)
    return schema.conform(df, columns)


def T(s: str) -> str:
    return f"2026-03-{s}"


def world():
    chat = {
        "members": frame([("m-1", "A", "One", 1, None), ("m-2", "B", "Two", 2, None)], schema.CHAT_TABLES["members"]),
        "visitors": frame(
            [
                ("v-1", "ann@example.com", None, T("01T00:00:00Z")),
                ("v-2", "bob@example.com", None, T("01T00:00:00Z")),
                ("v-3", None, None, T("01T00:00:00Z")),
            ],
            schema.CHAT_TABLES["visitors"],
        ),
        "conversation_requests": frame(
            [
                (f"rq-{n}", v, src, T(at), None, None, T(at), m)
                for n, v, src, at, m in (
                    (1, "v-1", "direct", "10T09:00:00Z", "m-1"),
                    (2, "v-2", "hook", "10T10:00:00Z", "m-2"),
                    (3, "v-3", "direct", "10T11:00:00Z", "m-1"),
                )
            ],
            schema.CHAT_TABLES["conversation_requests"],
        ),
        "chatrooms": frame(
            [
                ("cr-1", "rq-1", "v-1", "m-1", "direct", "web", T("10T09:00:00Z"), False, False),
                ("cr-2", "rq-2", "v-2", "m-2", "hook", "messenger", T("10T10:00:00Z"), False, False),
                ("cr-3", "rq-3", "v-3", "m-1", "direct", "web", T("10T11:00:00Z"), False, False),
            ],
            schema.CHAT_TABLES["chatrooms"],
        ),
        "messages": frame(
            [
                ("ms-1", "cr-1", "visitor", T("10T09:00:00Z"), False, "text", None, None),
                ("ms-2", "cr-1", "member", T("10T09:05:00Z"), False, "product", "p-1", None),
                ("ms-3", "cr-1", "member", T("10T09:06:00Z"), False, "product", "p-2", None),
                ("ms-4", "cr-1", "member", T("10T09:07:00Z"), True, "product", "p-3", None),  # automatic
                ("ms-5", "cr-1", "visitor", T("10T09:10:00Z"), False, "product", "p-1", None),
                ("ms-6", "cr-2", "visitor", T("10T10:00:00Z"), False, "text", None, None),
                ("ms-7", "cr-2", "member", T("10T10:05:00Z"), False, "text", None, None),
                ("ms-8", "cr-3", "visitor", T("10T11:00:00Z"), False, "text", None, None),
                ("ms-9", "cr-3", "member", T("10T11:01:00Z"), False, "product", "p-2", None),
                ("ms-10", "cr-3", "member", T("10T15:00:00Z"), False, "product", "p-1", None),
            ],
            schema.CHAT_TABLES["messages"],
        ),
        "ratings": schema.empty(schema.CHAT_TABLES["ratings"]),
        "hook_events": schema.empty(schema.CHAT_TABLES["hook_events"]),
        "member_sessions": schema.empty(schema.CHAT_TABLES["member_sessions"]),
        "identity_links": schema.empty(schema.CHAT_TABLES["identity_links"]),
    }
    base = dict(
        updated_at=T("10T20:00:00Z"),
        customer_id=None,
        currency="EUR",
        refunded=0.0,
        status="paid",
        is_first_order=pd.NA,
        store_id=None,
        store_name=None,
        store_city=None,
        source_location="t",
        email=None,
        visitor_id=None,
        sales_channel="web",
    )
    orders = frame(
        [
            {**base, "order_id": "o-0", "placed_at": T("01T10:00:00Z"), "email": "ann@example.com", "total": 30.0},
            {**base, "order_id": "o-1", "placed_at": T("10T12:00:00Z"), "email": "Ann@Example.com ", "total": 100.0},
            {
                **base,
                "order_id": "o-2",
                "placed_at": T("10T13:00:00Z"),
                "email": "bob@example.com",
                "total": 50.0,
                "is_first_order": True,
            },
            {**base, "order_id": "o-3", "placed_at": T("10T14:00:00Z"), "visitor_id": "v-3", "total": 20.0},
            {
                **base,
                "order_id": "o-4",
                "placed_at": T("10T16:00:00Z"),
                "email": "ann@example.com",
                "total": 150.0,
                "status": "cancelled",
            },
        ],
        schema.ORDERS,
    )
    line = dict(sales_channel="web", sku=None, title=None, category="skincare")
    lines = frame(
        [
            {
                **line,
                "order_id": "o-0",
                "line_no": 0,
                "product_id": "p-1",
                "quantity": 1.0,
                "unit_price": 30.0,
                "line_amount": 30.0,
            },
            {
                **line,
                "order_id": "o-1",
                "line_no": 0,
                "product_id": "p-1",
                "quantity": 2.0,
                "unit_price": 30.0,
                "line_amount": 60.0,
            },
            {
                **line,
                "order_id": "o-1",
                "line_no": 1,
                "product_id": "p-3",
                "quantity": 1.0,
                "unit_price": 40.0,
                "line_amount": 40.0,
            },
            {
                **line,
                "order_id": "o-2",
                "line_no": 0,
                "product_id": "p-2",
                "quantity": 1.0,
                "unit_price": 50.0,
                "line_amount": 50.0,
            },
            {
                **line,
                "order_id": "o-3",
                "line_no": 0,
                "product_id": "p-1",
                "quantity": 1.0,
                "unit_price": 20.0,
                "line_amount": 20.0,
            },
            {
                **line,
                "order_id": "o-4",
                "line_no": 0,
                "product_id": "p-1",
                "quantity": 5.0,
                "unit_price": 30.0,
                "line_amount": 150.0,
            },
        ],
        schema.ORDER_LINES,
    )
    return chat, orders, lines


@pytest.fixture(scope="module")
def facts():
    chat, orders, lines = world()
    rows = attributed_order_rows(orders, attribute(orders, chat, 14), timezone=TZ, pii_key="k")
    by_id = rows.set_index("order_id")
    assert by_id["chatroom_id"].dropna().to_dict() == {"o-1": "cr-1", "o-2": "cr-2", "o-3": "cr-3", "o-4": "cr-1"}
    assert by_id["is_first_order"].to_dict() == {"o-0": True, "o-1": False, "o-2": True, "o-3": None, "o-4": False}
    return build_facts(chat, rows, TZ, order_lines=lines)


def values(facts, first=D10, last=D10, **filters):
    rows = compute_kpis(facts, Periods.range(first, last, TZ), dimensions=("all",), filters=filters)
    return rows.set_index("kpi")


def test_insights_reuse_the_cards_they_are_defined_from(facts):
    v = values(facts)["value"]
    assert v["Insi-1"] == v["Chat-Card-30"] == 2
    assert v["Insi-2"] == v["Chat-Card-81"] == 3
    assert v["Insi-3"] == v["Chat-Card-80"] == 170.0
    assert v["Chat-Card-20"] == 3


def test_conversion_rate_is_a_percentage_and_revenue_per_chat_a_mean(facts):
    rows = values(facts)
    assert rows.loc["Insi-4", ["value", "numerator", "denominator"]].tolist() == [150.0, 3.0, 2.0]
    assert rows.loc["Insi-5", ["numerator", "denominator"]].tolist() == [170.0, 3.0]
    assert rows.loc["Insi-5", "value"] == pytest.approx(170 / 3)


def test_new_vs_existing_customers(facts):
    v = values(facts)["value"]
    # o-2: first order as the source says; o-1: ann bought on 03-01; o-3: unknown customer, in neither half
    assert (v["Insi-6-new-orders"], v["Insi-6-new-revenue"]) == (1, 50.0)
    assert (v["Insi-6-existing-orders"], v["Insi-6-existing-revenue"]) == (1, 100.0)


def test_recommendation_conversion_counts_units_shown_before_the_order_in_the_same_chatroom(facts):
    rows = values(facts)
    assert rows.loc["Insi-7", ["value", "numerator", "denominator"]].tolist() == [0.4, 2.0, 5.0]


def test_product_table(facts):
    table = product_table(facts, Periods.range(D10, D10, TZ)).drop(columns="period")
    assert table.to_dict("records") == [
        # p-1: shown by the member and the visitor in cr-1 and after the order in cr-3; 2 of 3 units shown before
        {"product_id": "p-1", "shown": 3.0, "units_sold": 3.0, "sales": 80.0, "units_sold_after_shown": 2.0},
        # p-2: shown in cr-1 and cr-3, bought by bob in cr-2 where it was never shown
        {"product_id": "p-2", "shown": 2.0, "units_sold": 1.0, "sales": 50.0, "units_sold_after_shown": 0.0},
        # p-3: only an automatic message shared it: not shown
        {"product_id": "p-3", "shown": 0.0, "units_sold": 1.0, "sales": 40.0, "units_sold_after_shown": 0.0},
    ]


def test_product_table_filters_and_daily_windows(facts):
    messenger = product_table(facts, Periods.range(D10, D10, TZ), {"channel": "messenger"})
    assert messenger.drop(columns="period").to_dict("records") == [
        {"product_id": "p-2", "shown": 0.0, "units_sold": 1.0, "sales": 50.0, "units_sold_after_shown": 0.0}
    ]
    daily = product_table(facts, Periods.daily([date(2026, 3, 1), D10], TZ))
    assert set(daily["period"]) == {1}  # o-0 on 03-01 is not attributed: no product row that day
