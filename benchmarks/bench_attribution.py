"""Attribution alone on synthetic data held in memory: N orders against M messages.

    .venv/bin/python benchmarks/bench_attribution.py --orders 1000000 --messages 10000000

The synthetic shop: customers with one or two browsers (visitors), most visitors with an email (some
written with odd case and spaces), some with a customer id; one to several chatrooms per customer (1 % of
them internal, some on Messenger reached through identity links); about ten messages per chatroom, mostly
in bursts after the chatroom starts and some weeks later (endless threads), 5 % automatic, 3 % system;
orders over the same year, half of them in the days after one of the customer's chats, carrying a mix of
identity keys (visitor id, customer id, email, or none).

Times `attribute()` alone (synthesis excluded, best of --repeat) and prints throughput and the peak RSS of
the process (ru_maxrss, which sees numpy and DuckDB memory), and the peak during attribution alone: Linux's
high-water mark is reset after synthesis (/proc/self/clear_refs) and read back after the runs, next to the
RSS of the inputs themselves.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from chatsales.attribution import attribute  # noqa: E402

US_DAY = 86_400_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01 UTC in µs
YEAR = 365 * US_DAY


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_high_water_mark() -> float:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; returns the current RSS in MiB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def ids(prefix: str, numbers: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """'prefix<n>' strings built in Arrow (no Python objects), NA where `missing`."""
    text = pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")
    if missing is not None:
        text = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)
    return pd.Series(text, dtype="str")


def instants(us: np.ndarray) -> pd.Series:
    return pd.Series(us.astype("datetime64[us]")).dt.tz_localize("UTC")


def synthesise(n_orders: int, n_messages: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    n_rooms = max(10, n_messages // 10)
    n_customers = max(10, n_rooms // 2)
    n_visitors = int(n_customers * 1.3)
    # visitors: customer, email (60 %, some dirty), customer id (40 %)
    customer = np.concatenate([np.arange(n_customers), rng.integers(0, n_customers, n_visitors - n_customers)])
    has_email = rng.random(n_visitors) < 0.6
    dirty = rng.random(n_visitors) < 0.1
    email = pc.binary_join_element_wise(pc.cast(pa.array(customer), pa.string()), "@example.com", "")
    email = pc.if_else(pa.array(dirty), pc.binary_join_element_wise("  ", pc.utf8_upper(email), ""), email)
    email = pc.if_else(pa.array(~has_email), pa.scalar(None, pa.string()), email)
    visitors = pd.DataFrame(
        {
            "visitor_id": ids("v-", np.arange(n_visitors)),
            "email": pd.Series(email, dtype="str"),
            "customer_id": ids("c-", customer, rng.random(n_visitors) >= 0.4),
            "created_at": instants(T0 + rng.integers(0, YEAR, n_visitors)),
        }
    )
    # chatrooms: each customer's visitor picked at random, start over the year
    room_visitor = rng.integers(0, n_visitors, n_rooms)
    room_start = T0 + rng.integers(0, YEAR, n_rooms)
    channel = np.where(rng.random(n_rooms) < 0.15, "messenger", "web")
    rooms = pd.DataFrame(
        {
            "chatroom_id": ids("cr-", np.arange(n_rooms)),
            "request_id": pd.Series(pd.NA, index=range(n_rooms), dtype="str"),
            "visitor_id": ids("v-", room_visitor),
            "member_id": ids("m-", rng.integers(0, 400, n_rooms)),
            "source": pd.Series(np.where(rng.random(n_rooms) < 0.5, "direct", "waiting_list"), dtype="str"),
            "channel": pd.Series(channel, dtype="str"),
            "started_at": instants(room_start),
            "is_internal": rng.random(n_rooms) < 0.01,
            "is_blocked": rng.random(n_rooms) < 0.02,
        }
    )
    # messages: bursts right after the start (minutes to days), 15 % weeks later (the thread goes on)
    room = rng.integers(0, n_rooms, n_messages)
    offset = rng.exponential(2 * 3_600_000_000, n_messages).astype(np.int64)
    later = rng.random(n_messages) < 0.15
    offset[later] += rng.integers(0, 120 * US_DAY, later.sum())
    draw = rng.random(n_messages)
    messages = pd.DataFrame(
        {
            "message_id": ids("msg-", np.arange(n_messages)),
            "chatroom_id": ids("cr-", room),
            "sender": pd.Series(
                np.where(draw < 0.03, "system", np.where(draw < 0.5, "visitor", "member")), dtype="str"
            ),
            "sent_at": instants(room_start[room] + offset),
            "is_automatic": rng.random(n_messages) < 0.05,
        }
    )
    del room, offset, later, draw
    # identity links: Messenger visitors who clicked a link to the shop and became a browser visitor
    linked = rng.choice(n_visitors, size=max(1, n_visitors // 100), replace=False)
    links = pd.DataFrame(
        {
            "visitor_id": ids("v-", linked),
            "linked_visitor_id": ids("v-", rng.integers(0, n_visitors, len(linked))),
            "linked_at": instants(T0 + rng.integers(0, YEAR, len(linked))),
        }
    )
    # orders: half a few days after one of the chats, half anywhere in the year; a mix of keys
    after_chat = rng.random(n_orders) < 0.5
    pick = rng.integers(0, n_rooms, n_orders)
    placed = np.where(
        after_chat,
        room_start[pick] + rng.exponential(4 * US_DAY, n_orders).astype(np.int64),
        T0 + rng.integers(0, YEAR, n_orders),
    )
    who = np.where(after_chat, room_visitor[pick], rng.integers(0, n_visitors, n_orders))
    no_key = rng.random(n_orders) < 0.05
    orders = pd.DataFrame(
        {
            "order_id": ids("", np.arange(n_orders)),
            "sales_channel": pd.Series(np.where(rng.random(n_orders) < 0.2, "store", "web"), dtype="str"),
            "placed_at": instants(placed),
            "updated_at": instants(placed),
            "email": pd.Series(
                pc.if_else(
                    pa.array(no_key | (rng.random(n_orders) < 0.4)),
                    pa.scalar(None, pa.string()),
                    pa.array(visitors["email"]).take(pa.array(who)),
                ),
                dtype="str",
            ),
            "customer_id": ids("c-", customer[who], no_key | (rng.random(n_orders) < 0.6)),
            "visitor_id": ids("v-", who, no_key | (rng.random(n_orders) < 0.5)),
        }
    )
    return orders, {"visitors": visitors, "chatrooms": rooms, "messages": messages, "identity_links": links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3, choices=range(1, 100), metavar="N")
    parser.add_argument("--window-days", type=int, default=14)
    args = parser.parse_args()
    orders, chat = synthesise(args.orders, args.messages)
    gc.collect()
    baseline = reset_high_water_mark()
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = attribute(orders, chat, args.window_days)
        timings.append(time.perf_counter() - started)
    best = min(timings)
    reasons = result["reason"].fillna("attributed").value_counts(normalize=True)
    print(
        f"orders {args.orders:,}  messages {args.messages:,}  best {best:.2f} s of {args.repeat} "
        f"({', '.join(f'{x:.2f}' for x in timings)})"
    )
    print(f"throughput {(args.orders + args.messages) / best:,.0f} orders+messages/s")
    during = _status_mib("VmHWM")
    print(
        f"peak RSS {peak_rss_mib():,.0f} MiB over the process (synthesis included); during attribution "
        f"{during:,.0f} MiB, of which the inputs {baseline:,.0f} MiB (attribution adds {during - baseline:,.0f} MiB)"
    )
    print("outcomes: " + ", ".join(f"{k} {v:.1%}" for k, v in reasons.items()))


if __name__ == "__main__":
    main()
