"""Live web orders from the Shopify Admin GraphQL API, mapped to the data contract's order shape.

Cursor pagination over the `orders` connection sorted by UPDATED_AT, incremental pulls with
`updated_at:>=`, and resilience that never loops forever: 429 waits Retry-After, a THROTTLED error waits
for the cost bucket to refill, 5xx / timeouts / malformed pages back off exponentially (capped), a
repeated cursor or exhausted retries raise ShopifyError naming the endpoint, the page and the cause.
Pages already received are kept: a retry resumes from the last good cursor. The token is never shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import requests

ORDERS_QUERY = """
query Orders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id name createdAt updatedAt processedAt cancelledAt email
      customer { id numberOfOrders }
      customAttributes { key value }
      currencyCode
      totalPriceSet { shopMoney { amount currencyCode } }
      totalRefundedSet { shopMoney { amount } }
      displayFinancialStatus
      lineItems(first: 250) {
        nodes { product { id productType } sku title quantity originalUnitPriceSet { shopMoney { amount } } }
      }
    }
  }
}
"""
STATUSES = {
    "PAID": "paid",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "PENDING": "pending",
    "AUTHORIZED": "pending",
    "PARTIALLY_PAID": "pending",
}
VISITOR_ATTRIBUTE = "chat_visitor_id"


class ShopifyError(RuntimeError):
    """The API could not be read: names the endpoint, the page and the cause (never the token)."""


class _Retry(Exception):
    def __init__(self, cause: str, wait: float | None = None):
        super().__init__(cause)
        self.cause, self.wait = cause, wait


@dataclass
class OrdersPage:
    records: list[dict]
    location: str
    end_cursor: str | None
    raw_errors: list[str] = field(default_factory=list)


def _tail(gid: str | None) -> str | None:
    return gid.rsplit("/", 1)[-1] if gid else None


def _money(node: dict | None) -> str | None:
    return ((node or {}).get("shopMoney") or {}).get("amount")


def to_contract_order(node: dict) -> dict:
    """A Shopify order node → the normalised JSON order of data-contract.md §2 (validated downstream)."""
    attributes = {a.get("key"): a.get("value") for a in node.get("customAttributes") or []}
    customer = node.get("customer") or {}
    status = (
        "cancelled"
        if node.get("cancelledAt")
        else STATUSES.get(
            node.get("displayFinancialStatus") or "", str(node.get("displayFinancialStatus") or "").lower()
        )
    )
    record = {
        "order_id": _tail(node.get("id")),
        "placed_at": node.get("processedAt") or node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "email": node.get("email"),
        "customer_id": _tail(customer.get("id")),
        "visitor_id": attributes.get(VISITOR_ATTRIBUTE),
        "currency": node.get("currencyCode"),
        "total": _money(node.get("totalPriceSet")),
        "status": status,
        "cancelled_at": node.get("cancelledAt"),
        "refunded": _money(node.get("totalRefundedSet")) or "0.00",
        "lines": [
            {
                "product_id": _tail((item.get("product") or {}).get("id")),
                "sku": item.get("sku"),
                "title": item.get("title"),
                "category": (item.get("product") or {}).get("productType"),
                "quantity": item.get("quantity"),
                "unit_price": _money(item.get("originalUnitPriceSet")),
            }
            for item in (node.get("lineItems") or {}).get("nodes") or []
        ],
    }
    if customer.get("numberOfOrders") is not None:
        record["is_first_order"] = int(customer["numberOfOrders"]) == 1
    return record


class ShopifyClient:
    def __init__(
        self,
        shop: str,
        token: str,
        api_version: str = "2025-10",
        *,
        base_url: str | None = None,
        page_size: int = 100,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.endpoint = f"{(base_url or f'https://{shop}').rstrip('/')}/admin/api/{api_version}/graphql.json"
        self._token = token
        self.page_size, self.max_retries, self.timeout = page_size, max_retries, timeout
        self.backoff_base, self.backoff_cap, self.sleep = backoff_base, backoff_cap, sleep
        self.session = requests.Session()

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2**attempt)

    def _post(self, variables: dict) -> dict:
        """One page request; raises _Retry for what is worth retrying, ShopifyError for what is not."""
        try:
            response = self.session.post(
                self.endpoint,
                json={"query": ORDERS_QUERY, "variables": variables},
                headers={"X-Shopify-Access-Token": self._token},
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise _Retry(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise _Retry(f"connection failed: {type(exc).__name__}") from None
        if response.status_code == 429:
            try:
                wait = float(response.headers.get("Retry-After", ""))
            except ValueError:
                wait = None
            raise _Retry("HTTP 429 Too Many Requests", wait)
        if response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ShopifyError(f"HTTP {response.status_code} {response.reason}")
        try:
            body = response.json()
        except ValueError:
            raise _Retry("the page is not valid JSON") from None
        errors = body.get("errors") or []
        throttled = [e for e in errors if (e.get("extensions") or {}).get("code") == "THROTTLED"]
        if throttled:
            cost = (body.get("extensions") or {}).get("cost") or {}
            status = cost.get("throttleStatus") or {}
            try:
                missing = float(cost.get("requestedQueryCost", 0)) - float(status.get("currentlyAvailable", 0))
                wait = max(missing, 0) / float(status.get("restoreRate") or 1) + 0.1
            except (TypeError, ValueError):
                wait = None
            raise _Retry("THROTTLED by the GraphQL cost limit", wait)
        if errors:
            raise ShopifyError("GraphQL errors: " + "; ".join(str(e.get("message"))[:100] for e in errors))
        orders = (body.get("data") or {}).get("orders")
        if not isinstance(orders, dict) or not isinstance(orders.get("nodes"), list):
            raise _Retry("the page has no data.orders")
        return orders

    def iter_pages(self, updated_since: datetime | None = None) -> Iterator[OrdersPage]:
        query = f"updated_at:>='{updated_since.isoformat()}'" if updated_since else None
        cursor, seen, page = None, set(), 1
        while True:
            where = f"{self.endpoint} page {page} after {cursor or 'the start'}"
            for attempt in range(self.max_retries + 1):
                try:
                    orders = self._post({"first": self.page_size, "after": cursor, "query": query})
                    break
                except _Retry as retry:
                    if attempt == self.max_retries:
                        raise ShopifyError(
                            f"{where}: gave up after {self.max_retries} retries; last cause: {retry.cause}"
                        ) from None
                    wait = retry.wait if retry.wait is not None else self._backoff(attempt)
                    self.sleep(min(wait, self.backoff_cap))
                except ShopifyError as exc:
                    raise ShopifyError(f"{where}: {exc}") from None
            info = orders.get("pageInfo") or {}
            next_cursor = info.get("endCursor")
            yield OrdersPage(
                [to_contract_order(n) for n in orders["nodes"]], f"shopify:orders page {page}", next_cursor
            )
            if not info.get("hasNextPage"):
                return
            if not next_cursor or next_cursor in seen or next_cursor == cursor:
                raise ShopifyError(
                    f"{where}: the API returned cursor {next_cursor!r} again; stopping instead of looping"
                )
            seen.add(next_cursor)
            cursor, page = next_cursor, page + 1

    def fetch_orders(self, updated_since: datetime | None = None) -> list[dict]:
        return [record for page in self.iter_pages(updated_since) for record in page.records]
