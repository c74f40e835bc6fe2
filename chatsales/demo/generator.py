"""Writes a seeded demo dataset in exactly the shape of data-contract.md: the chat database (SQLite), orders
JSONL, POS CSV files and campaigns. Same seed, same bytes. The folder is built beside its target and swapped
in, so a half-written dataset is never visible."""
from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from chatsales.demo import chat, commerce
from chatsales.demo.chat import Clock

CHAT_DDL = {
    "members": "member_id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, role INTEGER, store_id TEXT",
    "visitors": "visitor_id TEXT PRIMARY KEY, email TEXT, customer_id TEXT, created_at TIMESTAMP",
    "conversation_requests": "request_id TEXT PRIMARY KEY, visitor_id TEXT, source TEXT, created_at TIMESTAMP, "
                             "question_at TIMESTAMP, canceled_at TIMESTAMP, handled_at TIMESTAMP, handled_by TEXT",
    "chatrooms": "chatroom_id TEXT PRIMARY KEY, request_id TEXT, visitor_id TEXT, member_id TEXT, source TEXT, "
                 "channel TEXT, started_at TIMESTAMP, is_internal BOOLEAN, is_blocked BOOLEAN",
    "messages": "message_id TEXT PRIMARY KEY, chatroom_id TEXT, sender TEXT, sent_at TIMESTAMP, "
                "is_automatic BOOLEAN, kind TEXT, product_id TEXT, email_filled_at TIMESTAMP",
    "ratings": "rating_id TEXT PRIMARY KEY, chatroom_id TEXT, member_id TEXT, requested_at TIMESTAMP, "
               "given_at TIMESTAMP, score INTEGER",
    "hook_events": "event_id TEXT PRIMARY KEY, member_id TEXT, visitor_id TEXT, event TEXT, at TIMESTAMP",
    "member_sessions": "member_id TEXT, started_at TIMESTAMP, ended_at TIMESTAMP",
    "identity_links": "visitor_id TEXT, linked_visitor_id TEXT, linked_at TIMESTAMP",
}
HISTORY_DAYS = 21
TS_COLUMNS = {"created_at", "question_at", "canceled_at", "handled_at", "started_at", "sent_at", "email_filled_at",
              "requested_at", "given_at", "at", "ended_at", "linked_at"}


@dataclass(frozen=True)
class DemoManifest:
    out_dir: Path
    chat_db_path: Path
    orders_dir: Path
    store_sales_dir: Path
    campaigns_dir: Path
    first_day: date
    last_day: date
    counts: dict[str, int]
    late_store_file: Path


def _db_text(us: np.ndarray) -> np.ndarray:
    """µs since the epoch → 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC, no zone); negative = missing."""
    text = np.char.replace(np.datetime_as_string(us.astype("datetime64[us]"), unit="us"), "T", " ").astype(object)
    text[us < 0] = None
    return text


def _iso(us: np.ndarray, timezone: str, utc_share: np.ndarray) -> np.ndarray:
    """ISO 8601 with the local offset, or with Z where `utc_share` is True; whole seconds."""
    ts = pd.Series(pd.to_datetime(us // 1_000_000 * 1_000_000, unit="us", utc=True))
    local = ts.dt.tz_convert(timezone).astype(str).str.replace(" ", "T", regex=False)
    utc = ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return np.where(utc_share, utc, local).astype(object)


def _write_chat_db(path: Path, tables: dict[str, pd.DataFrame]) -> None:
    with sqlite3.connect(path) as conn:
        for name, ddl in CHAT_DDL.items():
            conn.execute(f"CREATE TABLE {name} ({ddl})")
            frame = tables[name]
            columns = [c.split()[0] for c in ddl.split(", ")]
            data = []
            for column in columns:
                values = frame[column].to_numpy()
                if column in TS_COLUMNS:
                    values = _db_text(values.astype(np.int64))
                elif values.dtype == bool:
                    values = values.astype(np.int64)
                data.append(values.tolist())
            conn.executemany(f"INSERT INTO {name} VALUES ({','.join('?' * len(columns))})", zip(*data))
        conn.execute("CREATE INDEX ix_messages_chatroom ON messages (chatroom_id)")


def _order_records(rng, orders: pd.DataFrame, lines: pd.DataFrame, timezone: str) -> tuple[list, list]:
    """(day, json line) of the first version of each order, and (update day, json line) of later versions."""
    total_cents = np.bincount(lines["oi"], weights=lines["quantity"] * lines["price_cents"], minlength=len(orders))
    placed = _iso(orders["placed_at"].to_numpy(), timezone, rng.random(len(orders)) < 0.3)
    changed = _iso(orders["changed_at"].to_numpy(), timezone, np.ones(len(orders), bool))
    updated = _iso(orders["placed_at"].to_numpy() + 5_000_000, timezone, np.ones(len(orders), bool))
    line_records = lines.assign(unit_price=(lines["price_cents"] / 100).map("{:.2f}".format),
                                sku="SKU-" + lines["product_id"].str[2:], title="Demo " + lines["category"])
    starts = np.searchsorted(lines["oi"].to_numpy(), np.arange(len(orders) + 1))
    line_dicts = line_records[["product_id", "sku", "title", "category", "quantity", "unit_price"]].to_dict("records")
    final = orders["final_status"].to_numpy()
    refunded = np.where(final == "refunded", total_cents, np.where(final == "partially_refunded",
                                                                   (total_cents * 0.3).round(), 0))
    first, later = [], []
    for i, o in enumerate(orders.itertuples(index=False)):      # serialising: one JSON line per order
        record = {"order_id": o.order_id, "placed_at": placed[i], "updated_at": updated[i], "email": o.email,
                  "customer_id": o.customer_id, "visitor_id": o.visitor_id, "currency": o.currency,
                  "total": f"{total_cents[i] / 100:.2f}", "status": "pending" if final[i] == "pending" else "paid",
                  "cancelled_at": None, "refunded": "0.00", "lines": line_dicts[starts[i]:starts[i + 1]]}
        if o.is_first_order != "absent":
            record["is_first_order"] = o.is_first_order == "true"
        first.append((placed[i][:10], json.dumps(record)))
        if final[i] in ("cancelled", "partially_refunded", "refunded"):
            record = {**record, "status": final[i], "updated_at": changed[i], "refunded": f"{refunded[i] / 100:.2f}",
                      "cancelled_at": changed[i] if final[i] == "cancelled" else None}
            later.append((changed[i][:10], json.dumps(record)))
    return first, later


def _write_jsonl(folder: Path, prefix: str, rows: list[tuple[str, str]]) -> None:
    by_day: dict[str, list[str]] = {}
    for day, line in rows:
        by_day.setdefault(day, []).append(line)
    for day, items in sorted(by_day.items()):
        (folder / f"{prefix}-{day}.jsonl").write_text("\n".join(items) + "\n")


def _write_pos(rng, folder: Path, late_folder: Path | None, lines: pd.DataFrame, clock: Clock) -> tuple[Path, int]:
    lines = lines.copy()
    naive = rng.random(len(lines)) < 0.6
    local = pd.Series(pd.to_datetime(lines["sold_at"].to_numpy(), unit="us", utc=True)).dt.tz_convert(clock.timezone)
    lines["sold_at_text"] = np.where(naive, local.dt.strftime("%Y-%m-%dT%H:%M:%S"),
                                     local.astype(str).str.replace(" ", "T", regex=False))
    lines["line_amount"] = (lines["amount_cents"] / 100).map("{:.2f}".format)
    lines["currency"] = "EUR"
    lines["local_day"] = local.dt.strftime("%Y-%m-%d").to_numpy()
    columns = ["receipt_id", "store_id", "store_name", "store_city", "sold_at_text", "customer_email", "loyalty_id",
               "product_id", "category", "quantity", "line_amount", "currency"]
    late_day = str(clock.first_day + timedelta(days=max(0, clock.days - 5)))
    late_store = lines["store_id"].min()
    late_path = None
    files = 0
    for (store, day), group in lines.groupby(["store_id", "local_day"], sort=True):
        target = folder
        if store == late_store and day == late_day:
            late_path = (late_folder or folder) / f"store-{store}-{day}.csv"
            target = late_folder or folder
        out = group[columns].rename(columns={"sold_at_text": "sold_at"})
        out.to_csv(target / f"store-{store}-{day}.csv", index=False, lineterminator="\n")
        files += 1
    return late_path or folder / f"store-{late_store}-{late_day}.csv", files


def _dst_receipts(clock: Clock, lines: pd.DataFrame) -> pd.DataFrame:
    """Night-opening receipts in the repeated hour of the autumn DST change (when the range has that day)."""
    for offset in range(clock.days):
        day = clock.first_day + timedelta(days=offset)
        if clock.midnight(offset + 1) - clock.midnight(offset) == 25 * 3600 * 1_000_000:
            extra = lines.drop_duplicates("receipt_id")
            extra = extra[extra["store_id"] != extra["store_id"].min()].head(3).copy()   # not the late file's store
            extra["receipt_id"] = ["R-dst-1", "R-dst-2", "R-dst-3"]
            extra["sold_at"] = clock.midnight(offset) + (np.array([2.25, 2.5, 2.75]) * 3600e6).astype(np.int64)
            extra["local_day_hint"] = str(day)
            return pd.concat([lines, extra.drop(columns=["local_day_hint"])], ignore_index=True)
    return lines


def generate_demo(out_dir: Path, first_day: date, days: int = 90, scale: float = 1.0, seed: int = 7,
                  timezone: str = "Europe/Paris", currency: str = "EUR",
                  withhold_late_store_file: bool = False) -> DemoManifest:
    """A mid-size brand at scale 1: ~40 members, ~30k chatrooms, ~300k messages, ~40k orders, ~10k receipts."""
    if currency != "EUR":
        raise ValueError("the demo dataset is priced in EUR; set CHATSALES_CURRENCY=EUR to run it")
    rng = np.random.default_rng(seed)
    clock = Clock(first_day, days, timezone)
    # the chat platform has history: conversations start three weeks before the first reported day
    history = Clock(first_day - timedelta(days=HISTORY_DAYS), days + HISTORY_DAYS, timezone)
    per_day = days / 90 * scale
    chat_per_day = (days + HISTORY_DAYS) / 90 * scale
    n_members = max(5, round(40 * scale))
    stores = chat.ids("st-", max(2, min(8, round(8 * scale))))
    members = chat.members(rng, n_members, stores)
    visitors = chat.visitors(rng, history, max(50, round(24_000 * chat_per_day)))
    requests, rooms = chat.requests_and_chatrooms(rng, history, visitors["visitor_id"].to_numpy(),
                                                  members["member_id"].to_numpy(),
                                                  max(60, round(30_000 * chat_per_day)))
    catalog = commerce.products(rng)
    msgs = chat.messages(rng, history, rooms, catalog["product_id"].to_numpy())
    tables = {
        "members": members, "visitors": visitors, "conversation_requests": requests, "chatrooms": rooms,
        "messages": msgs, "ratings": chat.ratings(rng, rooms, msgs),
        "hook_events": chat.hook_events(rng, history, members["member_id"].to_numpy(),
                                        visitors["visitor_id"].to_numpy(), max(30, round(4_000 * per_day))),
        "member_sessions": chat.sessions(rng, history, members["member_id"].to_numpy()),
        "identity_links": chat.identity_links(rng, rooms, msgs),
    }
    orders = commerce.web_orders(rng, clock, max(80, round(40_000 * per_day)), visitors, rooms,
                                 tables["identity_links"])
    lines = commerce.order_lines(rng, orders, catalog)
    pos = _dst_receipts(clock, commerce.receipts(rng, clock, max(20, round(10_000 * per_day)), visitors,
                                                 len(stores), catalog))
    camp, clicks = commerce.campaigns(rng, clock, max(4, round(12 * scale)), orders)

    out_dir = Path(out_dir)
    staging = out_dir.with_name(f".{out_dir.name}.{uuid.uuid4().hex[:8]}")
    for sub in ("orders", "store_sales", "campaigns", "late"):
        (staging / sub).mkdir(parents=True)
    _write_chat_db(staging / "chat.db", tables)
    first, later = _order_records(rng, orders, lines, timezone)
    _write_jsonl(staging / "orders", "orders", first)
    _write_jsonl(staging / "orders", "updates", later)
    late, n_files = _write_pos(rng, staging / "store_sales", staging / "late" if withhold_late_store_file else None,
                               pos, clock)
    camp.assign(sent_at=_iso(camp["sent_at"].to_numpy(), timezone, np.ones(len(camp), bool))).to_csv(
        staging / "campaigns" / "campaigns.csv", index=False, lineterminator="\n")
    clicks.assign(clicked_at=_iso(clicks["clicked_at"].to_numpy(), timezone, np.ones(len(clicks), bool))).to_csv(
        staging / "campaigns" / "campaign_clicks.csv", index=False, lineterminator="\n")
    if out_dir.exists():
        trash = out_dir.with_name(f".{out_dir.name}.old.{uuid.uuid4().hex[:8]}")
        out_dir.rename(trash)
        shutil.rmtree(trash)
    staging.rename(out_dir)
    counts = {name: len(frame) for name, frame in tables.items()}
    counts.update(web_orders=len(orders), order_versions=len(first) + len(later), store_receipts=int(pos["receipt_id"].nunique()),
                  store_lines=len(pos), store_files=n_files, campaigns=len(camp), campaign_clicks=len(clicks))
    return DemoManifest(out_dir=out_dir, chat_db_path=out_dir / "chat.db", orders_dir=out_dir / "orders",
                        store_sales_dir=out_dir / "store_sales", campaigns_dir=out_dir / "campaigns",
                        first_day=first_day, last_day=first_day + timedelta(days=days - 1), counts=counts,
                        late_store_file=out_dir / late.relative_to(staging))
