"""A real process that publishes one day to the reporting database (crash-safety and concurrency tests).

    python -m tests.publish_worker URL RUN_ID VERSION [--pause-after TABLE --marker FILE --pause SECONDS
                                   [--wait-for FILE]] [--started-marker FILE] [--pause-before-create SECONDS]
                                   [--timings FILE]

It publishes `day_frames(VERSION)` for DAY with ReportingDb.publish_days, unchanged. Only the test
wraps the store's `bulk_insert` to observe the transaction from the inside: with --pause-after, once
TABLE's rows are inserted (the transaction still open, the lock held) it writes --marker and sleeps, so the
test can kill it or start a rival there (with --wait-for, it stays paused until the rival says it has started).
--timings gets the wall-clock time of its first insert and of the
return of publish_days (JSON), to show which publication waited for the other.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

import pandas as pd

DAY = date(2026, 3, 29)
N_ORDERS, N_MEMBERS, N_FACTS = 40, 25, 300


def day_frames(version: int) -> dict:
    """A day's publication; `version` changes every value, so a mix of two versions is visible."""
    t = pd.Timestamp("2026-03-29T10:00:00Z")
    attribution = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(N_ORDERS)],
            "sales_channel": "web",
            "placed_at": t,
            "day": DAY,
            "customer_hash": "h",
            "total": [float(i + version) for i in range(N_ORDERS)],
            "net_total": [float(i + version) for i in range(N_ORDERS)],
            "currency": "EUR",
            "is_cancelled": False,
            "is_first_order": True,
            "attributed": True,
            "reason": None,
            "chatroom_id": [f"cr-{(i + version) % 7}" for i in range(N_ORDERS)],
            "member_id": [f"m-{i % 5}" for i in range(N_ORDERS)],
            "source": "direct",
            "touchpoint": "web",
            "match_key": "email",
            "last_message_at": t,
            "window_days": 14,
            "store_id": None,
        }
    )
    kpis = pd.DataFrame(
        {
            "day": DAY,
            "kpi": [f"Chat-Card-{i}" for i in range(N_MEMBERS)],
            "dimension": "all",
            "dimension_value": "all",
            "value": float(version),
            "numerator": None,
            "denominator": None,
            "is_fluctuating": False,
        }
    )
    facts = {
        "messages": pd.DataFrame({"day": DAY, "message_id": [f"ms-{i}" for i in range(N_FACTS)], "version": version})
    }
    return {"tables": {"attributed_orders": attribution, "kpi_daily": kpis}, "day_facts": facts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("run_id")
    parser.add_argument("version", type=int)
    parser.add_argument("--pause-after")
    parser.add_argument("--marker")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--timings")
    parser.add_argument("--wait-for", help="when paused, first wait until this file exists")
    parser.add_argument("--started-marker", help="written just before publish_days is called")
    parser.add_argument(
        "--pause-before-create",
        type=float,
        default=0.0,
        help="sleep between the schema check and the CREATE TABLEs of a fresh database",
    )
    args = parser.parse_args()

    import sqlalchemy as sa

    from chatsales.reporting import store as reporting

    timings: dict[str, float] = {}
    original = reporting.bulk_insert

    def observed(conn, table, frame):
        timings.setdefault("first_insert", time.time())
        written = original(conn, table, frame)
        if args.pause_after and table.name == args.pause_after:
            Path(args.marker).write_text(str(time.time()))
            deadline = time.monotonic() + 60
            while args.wait_for and not Path(args.wait_for).exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(args.pause)
            timings["resumed"] = time.time()
        return written

    reporting.bulk_insert = observed
    if args.pause_before_create:  # every table the migrations create waits first
        sa.event.listen(sa.Table, "before_create", lambda *a, **k: time.sleep(args.pause_before_create))
    store = reporting.ReportingDb(args.url)
    timings["started"] = time.time()
    if args.started_marker:
        Path(args.started_marker).write_text(str(timings["started"]))
    store.publish_days([DAY], run_id=args.run_id, **day_frames(args.version))
    timings["returned"] = time.time()
    if args.timings:
        Path(args.timings).write_text(json.dumps(timings))


if __name__ == "__main__":
    main()
