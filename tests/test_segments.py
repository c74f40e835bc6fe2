"""Customer segments, revenue trends and the product mix (Smgo-3/4/5) on a hand-built history.

Trend spans of 90 days, ±20 % stable. As of 06-01 the recent span is [03-03, 06-01), the one before
[2025-12-03, 03-03); as of 07-01 they are [04-02, 07-01) and [01-02, 04-02).
  ann  web 01-10 100 (p-1 ×2 at 30, p-2 ×1 at 40), web 03-20 95 (p-1 ×1 at 95), web 06-15 120 (p-1 ×1)
       → 06-01: 95 vs 100, −5 %: stable; 07-01: 120 vs 195, −38.5 %: buying less
  bob  02-01 100, 04-01 120 → +20 % exactly: stable (inclusive)
  cat  store receipt at st-02 (Lyon) 05-01 50 (p-1 ×1 at 50), nothing before → new (first order in the window)
  dan  01-15 200, 05-10 300 refunded 150 → net 150 vs 200, −25 %: buying less
  eve  web 02-10 80 (p-3 ×1), store st-01 (Paris) 04-10 100 (p-1 ×1 at 100), return −10 on 04-20 (p-2)
       → net 90 vs 80, +12.5 %: stable
  —    a web order without email 03-01 30 (p-2 ×3 at 10): in the product mix, in no customer segment
ann, bob, dan and eve are customers since 2025-06-01 (`first_order_at`, as the state knows them); cat's first
order is her 05-01 receipt.
"""

from __future__ import annotations

import pandas as pd
import pytest

from chatsales.pii import hash_emails, normalise_emails
from chatsales.segments import customer_tables, customer_trends, first_orders, price_bands

KEY = "k"
AS_OF_JUNE, AS_OF_JULY = pd.Timestamp("2026-06-01", tz="UTC"), pd.Timestamp("2026-07-01", tz="UTC")


def h(who: str) -> str:
    return hash_emails(normalise_emails(pd.Series([f"{who}@example.com"], dtype="str")), KEY).iloc[0]


def history():
    rows = [  # order, channel, who, placed, total, refunded, store, city
        ("a-1", "web", "ann", "2026-01-10", 100.0, 0.0, None, None),
        ("a-2", "web", "ann", "2026-03-20", 95.0, 0.0, None, None),
        ("a-3", "web", "ann", "2026-06-15", 120.0, 0.0, None, None),
        ("b-1", "web", "bob", "2026-02-01", 100.0, 0.0, None, None),
        ("b-2", "web", "bob", "2026-04-01", 120.0, 0.0, None, None),
        ("c-1", "store", "cat", "2026-05-01", 50.0, 0.0, "st-02", "Lyon"),
        ("d-1", "web", "dan", "2026-01-15", 200.0, 0.0, None, None),
        ("d-2", "web", "dan", "2026-05-10", 300.0, 150.0, None, None),
        ("e-1", "web", "eve", "2026-02-10", 80.0, 0.0, None, None),
        ("e-2", "store", "eve", "2026-04-10", 100.0, 0.0, "st-01", "Paris"),
        ("e-3", "store", "eve", "2026-04-20", -10.0, 0.0, "st-01", "Paris"),
        ("x-1", "web", None, "2026-03-01", 30.0, 0.0, None, None),
    ]
    rows = pd.DataFrame(
        rows, columns=["order_id", "sales_channel", "who", "placed_at", "total", "refunded", "store_id", "store_city"]
    )
    rows["placed_at"] = pd.to_datetime(rows["placed_at"], utc=True).astype("datetime64[us, UTC]")
    rows["customer_hash"] = hash_emails(normalise_emails((rows["who"] + "@example.com").astype("str")), KEY)
    rows["is_sale"] = rows["total"] > 0
    rows["is_return"] = rows["total"] <= 0
    rows["net_total"] = rows["total"] - rows["refunded"]
    rows["store_name"] = rows["store_id"].map({"st-01": "Paris 1", "st-02": "Lyon 1"})
    rows = rows.drop(columns="who").astype({"store_id": "str", "store_city": "str", "store_name": "str"})
    lines = pd.DataFrame(
        [  # order, channel, line, product, category, quantity, unit price
            ("a-1", "web", 0, "p-1", "skincare", 2.0, 30.0),
            ("a-1", "web", 1, "p-2", "makeup", 1.0, 40.0),
            ("a-2", "web", 0, "p-1", "skincare", 1.0, 95.0),
            ("a-3", "web", 0, "p-1", "skincare", 1.0, 120.0),
            ("c-1", "store", 0, "p-1", "skincare", 1.0, 50.0),
            ("e-1", "web", 0, "p-3", "haircare", 1.0, 80.0),
            ("e-2", "store", 0, "p-1", "skincare", 1.0, 100.0),
            ("e-3", "store", 0, "p-2", "makeup", -1.0, 10.0),
            ("x-1", "web", 0, "p-2", "makeup", 3.0, 10.0),
        ],
        columns=["order_id", "sales_channel", "line_no", "product_id", "category", "quantity", "unit_price"],
    )
    lines["line_amount"] = lines["quantity"] * lines["unit_price"]
    return rows, lines


def since(rows) -> pd.Series:
    """First orders: ann, bob, dan and eve bought before the history shown, in 2025; the others' first sale."""
    first = first_orders(rows)
    first[[h(who) for who in ("ann", "bob", "dan", "eve")]] = pd.Timestamp("2025-06-01", tz="UTC")
    return first


def trends(rows, as_of, **settings):
    return customer_trends(
        rows, as_of, **{"trend_days": 90, "stable_pct": 20, "first_order_at": since(rows), **settings}
    ).set_index("customer_hash")


def tables(as_of=AS_OF_JUNE):
    rows, lines = history()
    return customer_tables(
        rows,
        rows,
        lines,
        as_of,
        price_band_edges=(25, 50, 100, 200),
        trend_days=90,
        stable_pct=20,
        first_order_at=since(rows),
    )


def test_revenue_trends():
    trends = tables()["customer_trends"].set_index("customer_hash")
    got = {who: trends.loc[h(who), "trend"] for who in ("ann", "bob", "cat", "dan", "eve")}
    assert got == {"ann": "stable", "bob": "stable", "cat": "new", "dan": "buying_less", "eve": "stable"}
    assert trends.loc[h("ann"), ["spend_recent", "spend_previous", "change_pct"]].tolist() == [95.0, 100.0, -5.0]
    assert trends.loc[h("bob"), "change_pct"] == 20.0  # the stable bound is inclusive
    assert pd.isna(trends.loc[h("cat"), "change_pct"])
    assert trends.loc[h("dan"), ["spend_recent", "change_pct"]].tolist() == [150.0, -25.0]  # net of the refund
    assert trends.loc[h("eve"), ["spend_recent", "orders_recent", "change_pct"]].tolist() == [90.0, 2, 12.5]
    assert len(trends) == 5 and (trends["as_of"] == AS_OF_JUNE).all()


def test_a_customer_crosses_from_stable_to_buying_less():
    rows, _ = history()
    june, july = trends(rows, AS_OF_JUNE), trends(rows, AS_OF_JULY)
    assert june.loc[h("ann"), "trend"] == "stable"
    assert july.loc[h("ann"), ["trend", "spend_recent", "spend_previous"]].tolist() == ["buying_less", 120.0, 195.0]
    assert july.loc[h("ann"), "change_pct"] == pytest.approx(-75 / 195 * 100)
    # both numbers are settings: with ±40 % ann stays stable in July, with 30-day spans she has no spend at all
    assert trends(rows, AS_OF_JULY, stable_pct=40).loc[h("ann"), "trend"] == "stable"
    short = trends(rows, AS_OF_JUNE, trend_days=30)
    assert h("ann") not in short.index
    # spans [05-02, 06-01) and [04-02, 05-02): dan's 05-10 is the recent one; cat's 05-01 receipt is in the earlier
    # one, but it is her first order, after the window's start: new, not buying less
    assert short.loc[h("cat"), "trend"] == "new" and short.loc[h("dan"), "trend"] == "buying_more"


def _edge_rows(fay_first: pd.Timestamp, gus_first: pd.Timestamp) -> pd.DataFrame:
    """fay and gus: 100 on their first order, then 150 on 05-20 (recent span of 90 days as of 06-01)."""
    rows = [
        ("f-1", "fay", fay_first, 100.0),
        ("f-2", "fay", pd.Timestamp("2026-05-20", tz="UTC"), 150.0),
        ("g-1", "gus", gus_first, 100.0),
        ("g-2", "gus", pd.Timestamp("2026-05-20", tz="UTC"), 150.0),
    ]
    rows = pd.DataFrame(rows, columns=["order_id", "who", "placed_at", "total"])
    return rows.assign(
        placed_at=rows["placed_at"].astype("datetime64[us, UTC]"),
        sales_channel="web",
        customer_hash=[h(who) for who in rows["who"]],
        is_sale=True,
        is_return=False,
        net_total=rows["total"],
    ).drop(columns="who")


def test_a_customer_younger_than_the_trend_window_is_new_never_buying_more():
    """Smgo-4 compares two spans of 90 days only for customers who could buy through both: the window starts
    as_of − 180 days (2025-12-03 as of 06-01). A first order exactly at that instant is inside both the
    window and the customer's history: compared (+50 %: buying more). One second later: new, the same
    spending otherwise. Checked by removal: without the first-order rule gus is buying_more too."""
    start = AS_OF_JUNE - pd.Timedelta(days=180)
    got = customer_trends(
        _edge_rows(start, start + pd.Timedelta(seconds=1)), AS_OF_JUNE, trend_days=90, stable_pct=20
    ).set_index("customer_hash")
    assert got.loc[h("fay"), ["trend", "spend_recent", "spend_previous", "change_pct"]].tolist() == [
        "buying_more",
        150.0,
        100.0,
        50.0,
    ]
    assert got.loc[h("gus"), ["trend", "spend_recent", "spend_previous"]].tolist() == ["new", 150.0, 100.0]
    assert pd.isna(got.loc[h("gus"), "change_pct"])
    # the first order is the customer's first sale among every order given, not among the two spans'
    older = _edge_rows(start - pd.Timedelta(days=1), start + pd.Timedelta(seconds=1))
    older = pd.concat([older, older.iloc[[2]].assign(order_id="g-0", placed_at=start - pd.Timedelta(days=30))])
    assert customer_trends(older, AS_OF_JUNE, trend_days=90, stable_pct=20).set_index("customer_hash")[
        "trend"
    ].to_dict() == {h("fay"): "buying_more", h("gus"): "buying_more"}


def test_a_window_reaching_back_before_the_data_is_insufficient_history():
    """When the data starts after the window's start, the earlier span is partly unknown: every customer is
    insufficient_history (a data start exactly at the window's start still covers it)."""
    start = AS_OF_JUNE - pd.Timedelta(days=180)
    rows = _edge_rows(start, start + pd.Timedelta(seconds=1))
    covered = customer_trends(rows, AS_OF_JUNE, trend_days=90, stable_pct=20, data_start=start)
    assert covered.set_index("customer_hash")["trend"].to_dict() == {h("fay"): "buying_more", h("gus"): "new"}
    late = customer_trends(rows, AS_OF_JUNE, trend_days=90, stable_pct=20, data_start=start + pd.Timedelta(seconds=1))
    assert late["trend"].tolist() == ["insufficient_history"] * 2 and late["change_pct"].isna().all()
    assert late["spend_recent"].tolist() == [150.0, 150.0]  # the spends are still given


def test_purchase_segments_by_product_category_price_band_and_location():
    seg = tables()["customer_segments"]
    ann = seg[seg["customer_hash"] == h("ann")].set_index(["segment_type", "segment"])[["orders", "units", "spend"]]
    assert ann.to_dict("index") == {
        ("category", "makeup"): {"orders": 1, "units": 1.0, "spend": 40.0},
        ("category", "skincare"): {"orders": 2, "units": 3.0, "spend": 155.0},
        ("location", "web"): {"orders": 2, "units": 4.0, "spend": 195.0},
        ("price_band", "25-50"): {"orders": 1, "units": 3.0, "spend": 100.0},
        ("price_band", "50-100"): {"orders": 1, "units": 1.0, "spend": 95.0},
        ("product", "p-1"): {"orders": 2, "units": 3.0, "spend": 155.0},
        ("product", "p-2"): {"orders": 1, "units": 1.0, "spend": 40.0},
    }  # a-3 is after as_of
    eve = seg[seg["customer_hash"] == h("eve")].set_index(["segment_type", "segment"])
    assert sorted(eve.index) == [
        ("category", "haircare"),
        ("category", "skincare"),
        ("city", "Paris"),
        ("location", "store"),
        ("location", "web"),
        ("price_band", "100-200"),
        ("price_band", "50-100"),
        ("product", "p-1"),
        ("product", "p-3"),
        ("store", "st-01"),
    ]  # the return is no purchase
    assert eve.loc[("store", "st-01"), "last_purchase_at"] == pd.Timestamp("2026-04-10", tz="UTC")
    assert seg["customer_hash"].notna().all() and len(set(seg["customer_hash"])) == 3  # ann, cat, eve
    assert not seg.astype(str).apply(lambda c: c.str.contains("@")).any().any()


def test_price_bands_are_lower_inclusive():
    bands = price_bands(pd.Series([0.5, 25.0, 49.99, 50.0, 200.0, 1e6, None]), (25, 50, 100, 200))
    assert bands.tolist()[:6] == ["0-25", "25-50", "25-50", "50-100", "200+", "200+"] and pd.isna(bands.iloc[6])


def test_product_mix_by_channel_and_store():
    mix = tables()["product_mix"]
    web = mix[mix["sales_channel"] == "web"]
    assert web[["rank", "product_id", "orders", "units", "sales", "customers"]].values.tolist() == [
        [1, "p-1", 2, 3.0, 155.0, 1],
        [2, "p-3", 1, 1.0, 80.0, 1],
        [3, "p-2", 2, 4.0, 70.0, 1],
    ]
    assert web["store_id"].isna().all()
    store = mix[mix["sales_channel"] == "store"]
    assert store[["store_id", "store_city", "rank", "product_id", "units", "sales"]].values.tolist() == [
        ["st-01", "Paris", 1, "p-1", 1.0, 100.0],
        ["st-02", "Lyon", 1, "p-1", 1.0, 50.0],
    ]
