"""A real HTTP server on 127.0.0.1 that speaks the Shopify Admin GraphQL `orders` connection, with
pagination, the updated_at filter, the token check, and scripted faults per request number."""

from __future__ import annotations

import json
import re
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "shpat_test_secret_token"


def order_node(n: int, updated: str, **extra) -> dict:
    node = {
        "id": f"gid://shopify/Order/{n}",
        "name": f"#{n}",
        "createdAt": "2026-03-02T17:04:11Z",
        "updatedAt": updated,
        "processedAt": "2026-03-02T17:04:11Z",
        "cancelledAt": None,
        "email": f"Buyer{n}@Example.com ",
        "customer": {"id": f"gid://shopify/Customer/{n + 500}", "numberOfOrders": "1"},
        "customAttributes": [{"key": "chat_visitor_id", "value": f"v-{n}"}],
        "currencyCode": "EUR",
        "totalPriceSet": {"shopMoney": {"amount": "129.9", "currencyCode": "EUR"}},
        "totalRefundedSet": {"shopMoney": {"amount": "0.0"}},
        "displayFinancialStatus": "PAID",
        "lineItems": {
            "nodes": [
                {
                    "product": {"id": "gid://shopify/Product/9", "productType": "skincare"},
                    "sku": "SKU-9",
                    "title": "Serum",
                    "quantity": 2,
                    "originalUnitPriceSet": {"shopMoney": {"amount": "64.95"}},
                }
            ]
        },
    }
    node.update(extra)
    return node


class FakeShopify:
    def __init__(self, orders: list[dict]):
        self.orders = sorted(orders, key=lambda o: o["updatedAt"])
        self.faults: dict[int, str] = {}  # request number (1-based) → fault
        self.requests: list[dict] = []
        self.repeat_cursor = False
        self.cursor_cycle = False  # page 3 answers the cursor of page 1 again (A → B → A)
        self.retry_after = "2.0"  # the Retry-After header of a "429" fault
        self.slow_seconds = 1.5  # how long a "slow" fault takes to answer
        self.max_requests = 200  # then HTTP 400: a client that loops fails instead of hanging
        self.lock = threading.Lock()

    def page(self, variables: dict) -> dict:
        match = re.search(r"updated_at:>='([^']+)'", variables.get("query") or "")
        orders = [o for o in self.orders if not match or o["updatedAt"] >= match.group(1)]
        start = int(variables["after"]) if variables.get("after") else 0
        nodes = orders[start : start + variables["first"]]
        end = start + len(nodes)
        has_next = end < len(orders)
        cursor = str(start if self.repeat_cursor and start else end)
        if self.cursor_cycle and start >= 2 * variables["first"]:
            cursor = str(variables["first"])
        return {
            "data": {"orders": {"nodes": nodes, "pageInfo": {"hasNextPage": has_next, "endCursor": cursor}}},
            "extensions": {
                "cost": {
                    "requestedQueryCost": 52,
                    "actualQueryCost": 12,
                    "throttleStatus": {"maximumAvailable": 1000, "currentlyAvailable": 900, "restoreRate": 50},
                }
            },
        }

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append(
                        {
                            "path": self.path,
                            "variables": body["variables"],
                            "token": self.headers.get("X-Shopify-Access-Token"),
                        }
                    )
                    number = len(fake.requests)
                fault = fake.faults.get(number)
                if self.headers.get("X-Shopify-Access-Token") != TOKEN:
                    return self._send(401, b'{"errors":"[API] Invalid API key or access token"}')
                if number > fake.max_requests:
                    return self._send(400, b'{"errors":"the test server stops answering"}')
                if fault == "429":
                    return self._send(429, b'{"errors":"Throttled"}', {"Retry-After": fake.retry_after})
                if fault == "throttled":
                    payload = {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {
                            "cost": {
                                "requestedQueryCost": 252,
                                "actualQueryCost": None,
                                "throttleStatus": {
                                    "maximumAvailable": 1000,
                                    "currentlyAvailable": 2,
                                    "restoreRate": 50,
                                },
                            }
                        },
                    }
                    return self._send(200, json.dumps(payload).encode())
                if fault == "500":
                    return self._send(503, b"upstream unavailable")
                if fault == "slow":
                    time.sleep(fake.slow_seconds)
                if fault == "malformed":
                    return self._send(200, b'{"data": {"orders": {"nodes": [')
                return self._send(200, json.dumps(fake.page(body["variables"])).encode())

        return Handler


@contextmanager
def serve(orders: list[dict]):
    fake = FakeShopify(orders)
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
