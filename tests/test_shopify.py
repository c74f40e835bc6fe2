"""The Shopify client against a real local HTTP server: pagination, incremental pulls, every fault."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatsales.sources.orders import normalise_order_records
from resources.shopify import ShopifyClient, ShopifyError
from tests.fake_shopify import TOKEN, order_node, serve

ORDERS = [order_node(n, f"2026-03-0{1 + n % 5}T10:00:00Z") for n in range(1, 8)]


def client(url, sleeps, **kw):
    return ShopifyClient(
        "demo.myshopify.com",
        TOKEN,
        base_url=url,
        page_size=3,
        sleep=sleeps.append,
        backoff_base=0.5,
        backoff_cap=8,
        **kw,
    )


def test_pages_are_followed_and_orders_mapped_to_the_contract():
    with serve(ORDERS) as (fake, url):
        sleeps = []
        pages = list(client(url, sleeps).iter_pages())
    assert [len(p.records) for p in pages] == [3, 3, 1]
    assert [r["variables"]["after"] for r in fake.requests] == [None, "3", "6"]
    assert all(r["path"] == "/admin/api/2025-10/graphql.json" for r in fake.requests)
    first = pages[0].records[0]
    assert first == {
        "order_id": "5",
        "placed_at": "2026-03-02T17:04:11Z",
        "updated_at": "2026-03-01T10:00:00Z",
        "email": "Buyer5@Example.com ",
        "customer_id": "505",
        "visitor_id": "v-5",
        "currency": "EUR",
        "total": "129.9",
        "status": "paid",
        "cancelled_at": None,
        "refunded": "0.0",
        "is_first_order": True,
        "lines": [
            {
                "product_id": "9",
                "sku": "SKU-9",
                "title": "Serum",
                "category": "skincare",
                "quantity": 2,
                "unit_price": "64.95",
            }
        ],
    }
    assert pages[1].location == "shopify:orders page 2"
    assert sleeps == []
    # the records go through the same normaliser as the JSONL files
    read = normalise_order_records(
        [r for p in pages for r in p.records], [p.location for p in pages for _ in p.records], "EUR", source="shopify"
    )
    assert len(read.frames["orders"]) == 7 and read.rejects.empty


def test_incremental_pull_sends_the_updated_at_filter():
    with serve(ORDERS) as (fake, url):
        records = client(url, []).fetch_orders(datetime(2026, 3, 4, tzinfo=UTC))
    assert fake.requests[0]["variables"]["query"] == "updated_at:>='2026-03-04T00:00:00+00:00'"
    assert sorted(r["order_id"] for r in records) == ["3", "4"]  # updated 03-04 and 03-05


def test_status_mapping_and_unknown_status_left_for_the_validator():
    nodes = [
        order_node(1, "2026-03-01T00:00:00Z", cancelledAt="2026-03-03T00:00:00Z"),
        order_node(2, "2026-03-01T00:00:01Z", displayFinancialStatus="PARTIALLY_REFUNDED"),
        order_node(3, "2026-03-01T00:00:02Z", displayFinancialStatus="VOIDED"),
    ]
    with serve(nodes) as (_, url):
        records = client(url, []).fetch_orders()
    assert [r["status"] for r in records] == ["cancelled", "partially_refunded", "voided"]
    read = normalise_order_records(records, ["p1"] * 3, "EUR", source="shopify")
    assert read.rejects["reason"].tolist() == ["status: unknown value 'xxxxxx'"]


@pytest.mark.parametrize(
    "fault,expected_sleep",
    [("429", 2.0), ("throttled", (252 - 2) / 50 + 0.1), ("500", 0.5), ("malformed", 0.5), ("slow", 0.5)],
)
def test_each_fault_is_retried_and_the_pull_resumes_from_the_last_good_cursor(fault, expected_sleep):
    with serve(ORDERS) as (fake, url):
        fake.faults = {2: fault}  # the second page fails once
        sleeps = []
        records = client(url, sleeps, timeout=0.5).fetch_orders()
    assert len(records) == 7
    assert sleeps == [pytest.approx(expected_sleep)]
    assert [r["variables"]["after"] for r in fake.requests] == [None, "3", "3", "6"]


def test_retries_back_off_exponentially_capped_then_fail_with_a_clear_message():
    with serve(ORDERS) as (fake, url):
        fake.faults = {n: "500" for n in range(2, 20)}
        sleeps = []
        with pytest.raises(ShopifyError) as error:
            client(url, sleeps, max_retries=5).fetch_orders()
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]  # capped at 8
    message = str(error.value)
    assert f"{url}/admin/api/2025-10/graphql.json page 2 after 3" in message
    assert "gave up after 5 retries" in message and "HTTP 503" in message
    assert TOKEN not in message
    assert len(fake.requests) == 7


def test_a_repeating_cursor_stops_instead_of_looping():
    with serve(ORDERS) as (fake, url):
        fake.repeat_cursor = True
        with pytest.raises(ShopifyError, match="returned cursor '3' again"):
            client(url, []).fetch_orders()
    assert len(fake.requests) == 2


def test_a_wrong_token_fails_at_once_without_retry_or_leaking_it():
    with serve(ORDERS) as (fake, url):
        sleeps = []
        with pytest.raises(ShopifyError, match="page 1 after the start: HTTP 401") as error:
            ShopifyClient("x", "wrong-token", base_url=url, sleep=sleeps.append).fetch_orders()
    assert sleeps == [] and len(fake.requests) == 1
    assert "wrong-token" not in str(error.value)
