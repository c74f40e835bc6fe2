"""Shopify faults the basic tests in test_shopify.py do not cover, against the same real local HTTP server:
bursts of 5xx, a Retry-After beyond the cap, persistent faults of every kind ending in an error that names
the endpoint, the page and its cursor, and the cause, and a cursor cycle. Sleeps are recorded, not slept
(the client's `sleep` setting), and timeouts are tenths of a second, so the whole file takes a few seconds."""

from __future__ import annotations

import pytest

from resources.shopify import ShopifyClient, ShopifyError
from tests.fake_shopify import TOKEN, order_node, serve

ORDERS = [order_node(n, f"2026-03-01T10:00:{n:02d}Z") for n in range(1, 11)]  # 10 orders, 4 pages of 3


def client(url, sleeps, **kw):
    settings = dict(page_size=3, sleep=sleeps.append, backoff_base=0.01, backoff_cap=0.08, timeout=0.2)
    return ShopifyClient("demo.myshopify.com", TOKEN, base_url=url, **{**settings, **kw})


def test_a_burst_of_5xx_is_retried_with_capped_exponential_backoff_and_resumes_at_the_failed_page():
    """Five 503 in a row on page 3, then the API answers: every order is read once, the requests after the
    burst ask for page 3's cursor again (nothing re-read, nothing skipped), and the waits double up to the
    cap. Checked by removal: with `_backoff` returning backoff_base (no doubling) the sleeps are all 0.01;
    with the cap dropped both from `_backoff` and from the `self.sleep(min(...))` of iter_pages, the last
    sleep is 0.16; either way the sleeps assertion fails."""
    with serve(ORDERS) as (fake, url):
        fake.faults = {n: "500" for n in range(3, 8)}
        sleeps = []
        records = client(url, sleeps).fetch_orders()
    assert sorted(int(r["order_id"]) for r in records) == list(range(1, 11))
    assert sleeps == [0.01, 0.02, 0.04, 0.08, 0.08]
    assert [r["variables"]["after"] for r in fake.requests] == [None, "3"] + ["6"] * 6 + ["9"]


def test_retry_after_is_obeyed_but_never_beyond_the_cap():
    """Retry-After: 3600 must not stall a nightly run for an hour: the wait is capped at backoff_cap.
    Checked by removal: with `self.sleep(wait)` instead of `self.sleep(min(wait, self.backoff_cap))` the
    recorded sleep is 3600."""
    with serve(ORDERS) as (fake, url):
        fake.faults, fake.retry_after = {1: "429", 2: "429"}, "3600"
        sleeps = []
        records = client(url, sleeps, backoff_cap=5.0).fetch_orders()
    assert len(records) == 10
    assert sleeps == [5.0, 5.0]


def test_a_throttled_answer_waits_for_the_cost_bucket_to_refill():
    """THROTTLED with extensions.cost: requested 252, available 2, restore rate 50/s → (252 - 2) / 50 + 0.1
    = 5.1 s, not the exponential backoff (0.01). Checked by removal: with the THROTTLED branch of `_post`
    deleted, the page is a GraphQL error and the pull fails at once with ShopifyError."""
    with serve(ORDERS) as (fake, url):
        fake.faults = {2: "throttled", 3: "throttled"}
        sleeps = []
        records = client(url, sleeps, backoff_cap=60).fetch_orders()
    assert len(records) == 10 and sleeps == [pytest.approx(5.1), pytest.approx(5.1)]
    assert [r["variables"]["after"] for r in fake.requests] == [None, "3", "3", "3", "6", "9"]


@pytest.mark.parametrize(
    "fault,cause",
    [
        ("500", "HTTP 503"),
        ("429", "HTTP 429 Too Many Requests"),
        ("throttled", "THROTTLED by the GraphQL cost limit"),
        ("malformed", "the page is not valid JSON"),
        ("slow", "no answer within 0.2 s"),
    ],
)
def test_a_persistent_fault_gives_up_naming_endpoint_page_cursor_and_cause(fault, cause):
    """Page 3 fails on every attempt: after max_retries the error names the endpoint, the page and the
    cursor it was asked after, and the last cause; it never shows the token, and pages 1-2 were fetched
    once each. A real read timeout: the server takes 0.5 s to answer, the client waits 0.2 s.
    Checked by removal: with the give-up removed (attempts from `itertools.count()`, no
    `attempt == self.max_retries` test) the client retries through all 97 faulty answers and the test fails
    with DID NOT RAISE."""
    with serve(ORDERS) as (fake, url):
        fake.faults = {n: fault for n in range(3, 100)}
        fake.retry_after, fake.slow_seconds = "0.05", 0.5
        sleeps = []
        with pytest.raises(ShopifyError) as error:
            client(url, sleeps, max_retries=3).fetch_orders()
    message = str(error.value)
    assert message.startswith(f"{url}/admin/api/2025-10/graphql.json page 3 after 6: gave up after 3 retries")
    assert message.endswith(f"last cause: {cause}")
    assert TOKEN not in message
    assert len(sleeps) == 3
    assert [r["variables"]["after"] for r in fake.requests] == [None, "3", "6", "6", "6", "6"]


def test_a_cursor_cycle_stops_instead_of_looping():
    """Page 3 answers page 1's end cursor again (A → B → A, not just the same cursor twice): the client
    stops with an error naming the cursor. Checked by removal: without `next_cursor in seen` in
    iter_pages, the client cycles through pages 2-3 until the fake's 200-request limit answers HTTP 400,
    and the `match=` fails."""
    with serve(ORDERS) as (fake, url):
        fake.cursor_cycle = True
        with pytest.raises(ShopifyError, match=r"page 3 after 6: the API returned cursor '3' again"):
            client(url, []).fetch_orders()
    assert [r["variables"]["after"] for r in fake.requests] == [None, "3", "6"]


def test_a_fault_between_good_pages_keeps_the_pages_already_received():
    """iter_pages yields each page as it arrives: when the pull finally fails on page 3, the caller already
    holds pages 1-2 (with their end cursor, the point to resume from). Checked by removal: with iter_pages
    collecting pages into a list and returning it at the end, nothing is received before the error."""
    received = []
    with serve(ORDERS) as (fake, url):
        fake.faults = {n: "500" for n in range(3, 100)}
        with pytest.raises(ShopifyError, match="page 3 after 6"):
            for page in client(url, [], max_retries=1).iter_pages():
                received.append(page)
    assert [p.location for p in received] == ["shopify:orders page 1", "shopify:orders page 2"]
    assert [p.end_cursor for p in received] == ["3", "6"]
    assert sum(len(p.records) for p in received) == 6
