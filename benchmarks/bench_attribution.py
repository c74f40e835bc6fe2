"""Attribution alone on synthetic data held in memory: N orders against M messages.

    .venv/bin/python benchmarks/bench_attribution.py --orders 1000000 --messages 10000000

Customers have one to three chatrooms, messages spread over 120 days, orders carry a mix of identity keys
(visitor id, customer id, email, none). Times `attribute()` only (synthesis excluded) and reports peak RSS
of the process, with the RSS after synthesis as the baseline.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chatsales.attribution import attribute  # noqa: E402

US_DAY = 86_400_000_000


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthesise(n_orders: int, n_messages: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    n_rooms = max(10, n_messages // 10)
    n_visitors = max(10, int(n_rooms / 1.5))
    t0 = 1_767_225_600_000_000          # 2026-01-01 UTC in µs
    visitor = np.char.add("v-", np.arange(n_visitors).astype(str)).astype(object)
    visitors = pd.DataFrame({"visitor_id": visitor,
                             "email": np.where(rng.random(n_visitors) < 0.6,
                                               np.char.add(np.arange(n_visitors).astype(str), "@example.com"), None),
                             "customer_id": np.where(rng.random(n_visitors) < 0.3,
                                                     np.char.add("c-", np.arange(n_visitors).astype(str)), None),
                             "created_at": pd.Timestamp("2025-12-01", tz="UTC")})
    room_visitor = rng.integers(0, n_visitors, n_rooms)
    rooms = pd.DataFrame({"chatroom_id": np.char.add("cr-", np.arange(n_rooms).astype(str)).astype(object),
                          "request_id": None, "visitor_id": visitor[room_visitor],
                          "member_id": np.char.add("m-", rng.integers(0, 400, n_rooms).astype(str)).astype(object),
                          "source": "direct", "channel": "web",
                          "started_at": pd.to_datetime(t0 + rng.integers(0, 120 * US_DAY, n_rooms), unit="us", utc=True),
                          "is_internal": rng.random(n_rooms) < 0.01, "is_blocked": False})
    room = rng.integers(0, n_rooms, n_messages)
    sent = t0 + rng.integers(0, 120 * US_DAY, n_messages)
    messages = pd.DataFrame({"message_id": np.arange(n_messages).astype(str), "chatroom_id": rooms["chatroom_id"].to_numpy()[room],
                             "sender": np.where(rng.random(n_messages) < 0.5, "visitor", "member"),
                             "sent_at": pd.to_datetime(sent, unit="us", utc=True),
                             "is_automatic": rng.random(n_messages) < 0.05})
    links = pd.DataFrame({"visitor_id": visitor[:100], "linked_visitor_id": visitor[100:200],
                          "linked_at": pd.Timestamp("2026-02-01", tz="UTC")})
    who = rng.integers(0, n_visitors, n_orders)
    key = rng.random(n_orders)
    orders = pd.DataFrame({
        "order_id": np.arange(n_orders).astype(str), "sales_channel": "web",
        "placed_at": pd.to_datetime(t0 + rng.integers(0, 120 * US_DAY, n_orders), unit="us", utc=True),
        "visitor_id": np.where(key < 0.3, visitor[who], None),
        "customer_id": np.where((key >= 0.3) & (key < 0.5), visitors["customer_id"].to_numpy()[who], None),
        "email": np.where(key >= 0.5, visitors["email"].to_numpy()[who], None)})
    for column in ("visitor_id", "customer_id", "email"):
        orders[column] = orders[column].astype("str")
    return orders, {"visitors": visitors, "chatrooms": rooms, "messages": messages, "identity_links": links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    orders, chat = synthesise(args.orders, args.messages)
    baseline = rss_mib()
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = attribute(orders, chat, 14)
        timings.append(time.perf_counter() - started)
    best = min(timings)
    print(f"| {args.orders:,} | {args.messages:,} | {best:.2f} | {(args.orders + args.messages) / best:,.0f} | "
          f"{baseline:,.0f} | {rss_mib():,.0f} | {result['attributed'].mean():.1%} |")


if __name__ == "__main__":
    main()
