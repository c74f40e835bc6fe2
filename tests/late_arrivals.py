"""Late data written into a demo's sources, as it arrives in real life: shared by the in-process sensor
test (test_late_data.py) and the webserver + daemon one (test_e2e_dagster.py)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd

from chatsales.extract.changes import local_dates

TZ = "Europe/Paris"


def answer_a_rating_late(demo, first_day: date, score: int) -> date:
    """The first unanswered rating request (from noon of `first_day`) is answered now, after every other
    answer; returns the reporting day of the request."""
    chat = sqlite3.connect(demo.chat_db_path)
    requested, newest = chat.execute(
        "SELECT requested_at, (SELECT max(given_at) FROM ratings) FROM ratings WHERE given_at IS NULL "
        "AND requested_at >= ? ORDER BY requested_at LIMIT 1",
        (f"{first_day} 12:00:00",),
    ).fetchone()
    chat.execute(
        "UPDATE ratings SET given_at = datetime(?, '+1 minute'), score = ? WHERE requested_at = ? AND given_at IS NULL",
        (newest, score, requested),
    )
    chat.commit()
    chat.close()
    return local_dates(pd.to_datetime(pd.Series([requested]), utc=True), TZ).dt.date.iloc[0]


def deliver_late_store_file(demo) -> tuple[date, set[str]]:
    """The store file the demo withheld arrives; returns its day (store-<id>-<day>.csv) and receipt ids."""
    late_file = Path(shutil.copy(demo.late_store_file, demo.store_sales_dir))
    return date.fromisoformat(late_file.stem[-10:]), set(pd.read_csv(late_file, dtype=str)["receipt_id"])


def refund_an_attributed_order(demo, store) -> pd.Series:
    """The first attributed, paid web order is refunded in full (a newer version in a new export file);
    returns its published attributed_orders row as it was before."""
    orders = store.read_table("attributed_orders")
    refunded = (
        orders[
            (orders["sales_channel"] == "web")
            & orders["attributed"]
            & ~orders["is_cancelled"]
            & (orders["net_total"] > 0)
        ]
        .sort_values("order_id")
        .iloc[0]
    )
    versions = [
        json.loads(line)
        for f in sorted(Path(demo.orders_dir).glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if json.loads(line)["order_id"] == refunded["order_id"]
    ]
    latest = max(versions, key=lambda v: pd.Timestamp(v["updated_at"]))
    Path(demo.orders_dir, "zz-refunds.jsonl").write_text(
        json.dumps({**latest, "status": "refunded", "refunded": latest["total"], "updated_at": "2026-12-01T10:00:00Z"})
        + "\n"
    )
    return refunded
