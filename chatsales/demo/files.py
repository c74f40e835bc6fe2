"""Writes the generated arrays in the contract's file shapes: the SQLite chat database (explicit DDL, one
transaction, chunked `executemany`), orders JSON Lines, POS CSV files and the campaign CSVs. Text is built with
Arrow kernels and files are written straight from Arrow buffers, so a 30× demo stays fast and lean."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chatsales.demo import text
from chatsales.demo.clock import Clock
from chatsales.demo.commerce import CATEGORIES, STATUSES, Catalog, Receipts, WebOrders
from chatsales.demo.profile import DEMO_PROFILE, OrderProfile
from chatsales.extract.chat import INDEXED

# data-contract.md §1, as the platform would declare it
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
POS_COLUMNS = (
    "receipt_id",
    "store_id",
    "store_name",
    "store_city",
    "sold_at",
    "customer_email",
    "loyalty_id",
    "product_id",
    "category",
    "quantity",
    "line_amount",
    "currency",
)
CHUNK = 250_000


def _ddl_columns(ddl: str) -> list[tuple[str, str]]:
    return [tuple(part.split()[:2]) for part in ddl.split(", ")]


def _python_values(kind: str, column, start: int, stop: int) -> list:
    """Rows start..stop of one column as Python values for sqlite3 (text, 0/1, int or None).

    A column is an Arrow string array, a numpy array (TIMESTAMP: µs, -1 missing; BOOLEAN; INTEGER: -1
    missing), `(prefix, count)` for sequential ids, or `(values, index)` for values[index] (-1 missing)."""
    if isinstance(column, tuple) and isinstance(column[0], str):
        prefix, count = column
        return text.ids(prefix, np.arange(start, stop), text.id_width(count)).to_pylist()
    if isinstance(column, tuple):
        return text.take(column[0], column[1][start:stop]).to_pylist()
    if isinstance(column, (pa.Array, pa.ChunkedArray)):
        return column.slice(start, stop - start).to_pylist()
    values = np.asarray(column)[start:stop]
    if kind == "TIMESTAMP":
        return text.db_timestamps(values).to_pylist()
    if kind == "BOOLEAN":
        return values.astype(np.int64).tolist()
    out = values.astype(object)
    out[values < 0] = None
    return out.tolist()


def _length(column) -> int:
    if isinstance(column, tuple) and isinstance(column[0], str):
        return column[1]
    return len(column[1]) if isinstance(column, tuple) else len(column)


def write_chat_db(path: Path, columns: dict[str, dict[str, object]]) -> dict[str, int]:
    """The nine tables with the contract's DDL, filled in one transaction; rows per table."""
    counts = {}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        for table, ddl in CHAT_DDL.items():  # a loop over tables and chunks
            conn.execute(f"CREATE TABLE {table} ({ddl})")
            spec = _ddl_columns(ddl)
            n = _length(columns[table][spec[0][0]])
            insert = f"INSERT INTO {table} VALUES ({', '.join('?' * len(spec))})"
            for start in range(0, n, CHUNK):
                stop = min(n, start + CHUNK)
                conn.executemany(
                    insert, zip(*(_python_values(kind, columns[table][name], start, stop) for name, kind in spec))
                )
            counts[table] = n
        for table, column in INDEXED:  # a platform indexes the instants a nightly read filters on
            conn.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        conn.execute("COMMIT")
    finally:
        conn.close()
    return counts


def _write_groups(folder: Path, lines: pa.Array, names: list[str], group: np.ndarray, header: bytes = b"") -> int:
    """Writes consecutive runs of equal `group` values (lines sorted by group) to folder/names[group]."""
    if not len(lines):
        return 0
    offsets, data = text.line_buffer(lines)
    cuts = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
    for a, b in zip(cuts[:-1], cuts[1:]):  # a loop over files
        with open(folder / names[group[a]], "wb") as f:
            f.write(header)
            f.write(data[offsets[a] : offsets[b]])
    return len(cuts) - 1


def _day_names(clock: Clock, template: str) -> list[str]:
    return [template.format(clock.first_day + timedelta(days=d)) for d in range(clock.days)]


def write_orders(
    folder: Path,
    clock: Clock,
    orders: WebOrders,
    cat: Catalog,
    currency: str,
    rng: np.random.Generator,
    profile: OrderProfile = DEMO_PROFILE.commerce.orders,
) -> dict[str, int]:
    """orders-<local day>.jsonl with each order as placed, updates-<local day>.jsonl with the later versions
    (newer updated_at); file names sort the first versions before the updates."""
    n = len(orders.placed)
    tz = clock.timezone
    line_json = text.join(
        '{"product_id": "',
        cat.product_ids.take(pa.array(orders.line_product)),
        '", "sku": "',
        cat.sku.take(pa.array(orders.line_product)),
        '", "title": "',
        cat.title.take(pa.array(orders.line_product)),
        '", "category": "',
        text.labels(cat.category[orders.line_product], CATEGORIES),
        '", "quantity": ',
        text.integers(orders.line_qty),
        ', "unit_price": "',
        text.decimals(cat.price[orders.line_product]),
        '"}',
    )
    first_line = np.searchsorted(orders.line_order, np.arange(n))
    count = np.bincount(orders.line_order, minlength=n)
    parts = [text.take(line_json, np.where(count > k, first_line + k, -1)) for k in range(int(count.max(initial=1)))]
    lines = pc.coalesce(parts[0], "")
    for part in parts[1:]:  # a loop over line positions (≤ 3)
        lines = text.join(lines, pc.coalesce(text.join(", ", part), ""))
    head = text.join(
        '{"order_id": "',
        text.integers(100_000 + np.arange(n)),
        '", "placed_at": "',
        text.iso_timestamps(orders.placed, tz, (rng.random(n) < profile.placed_at_utc).astype(int)),
        '", "updated_at": "',
    )
    identity = text.join(
        '", "email": ',
        text.quoted(orders.email),
        ', "customer_id": ',
        text.quoted(orders.customer),
        ', "visitor_id": ',
        text.quoted(orders.visitor),
        ', "currency": "',
        currency,
        '", "total": "',
        text.decimals(orders.total),
        '", "status": "',
    )
    first_flag = text.labels(orders.first_flag + 1, ("", ', "is_first_order": false', ', "is_first_order": true'))
    tail = text.join(first_flag, ', "lines": [', lines, "]}\n")

    def version(
        rows: np.ndarray, updated: np.ndarray, status: np.ndarray, cancelled: np.ndarray, refunded: np.ndarray
    ) -> pa.Array:
        take = pa.array(rows)
        cancelled_text = text.take(
            text.iso_timestamps(np.maximum(cancelled, 0), tz, np.ones(len(rows), dtype=int)),
            np.where(cancelled >= 0, np.arange(len(rows)), -1),
        )
        return text.join(
            head.take(take),
            text.iso_timestamps(updated, tz, (rng.random(len(rows)) < profile.updated_at_utc).astype(int)),
            identity.take(take),
            text.labels(status, STATUSES),
            '", "cancelled_at": ',
            text.quoted(cancelled_text),
            ', "refunded": "',
            text.decimals(refunded),
            '"',
            tail.take(take),
        )

    rows = np.arange(n)
    first = version(
        rows,
        orders.placed + (rng.integers(1, 30, n) * 1_000_000),
        orders.status0,
        np.full(n, -1),
        np.zeros(n, dtype=np.int64),
    )
    files = _write_groups(folder, first, _day_names(clock, "orders-{}.jsonl"), clock.day_of(orders.placed))
    changed = np.flatnonzero(orders.changed >= 0)
    changed = changed[np.argsort(orders.changed[changed], kind="stable")]
    later = version(
        changed,
        orders.changed[changed],
        orders.status1[changed],
        orders.cancelled_at[changed],
        orders.refunded1[changed],
    )
    files += _write_groups(folder, later, _day_names(clock, "updates-{}.jsonl"), clock.day_of(orders.changed[changed]))
    return {"web_orders": n, "order_versions": n + len(changed), "order_files": files}


def write_store_sales(
    folder: Path,
    late_folder: Path | None,
    clock: Clock,
    rec: Receipts,
    cat: Catalog,
    currency: str,
    late: tuple[int, int],
) -> tuple[Path, dict[str, int]]:
    """store-<store_id>-<local day>.csv per store and day; the late (store, day) file goes to `late_folder`
    when it is withheld. Returns the late file's path and counts."""
    n = len(rec.sold)
    rows = text.join(
        rec.receipt_id,
        rec.store_ids.take(pa.array(rec.store)),
        rec.store_names.take(pa.array(rec.store)),
        rec.store_cities.take(pa.array(rec.store)),
        text.iso_timestamps(rec.sold, clock.timezone, rec.style),
        pc.coalesce(rec.email, ""),
        pc.coalesce(rec.loyalty, ""),
        cat.product_ids.take(pa.array(rec.product)),
        text.labels(cat.category[rec.product], CATEGORIES),
        text.integers(rec.qty),
        text.decimals(rec.amount),
        text.join(currency, "\n"),
        sep=",",
    )
    n_stores = len(rec.store_ids)
    store_ids = rec.store_ids.to_pylist()
    names = [
        f"store-{store_ids[s]}-{clock.first_day + timedelta(days=d)}.csv"
        for s in range(n_stores)
        for d in range(clock.days)
    ]
    group = rec.store * clock.days + rec.day
    header = (",".join(POS_COLUMNS) + "\n").encode()
    late_group = late[0] * clock.days + late[1]
    regular = group != late_group
    files = _write_groups(folder, rows.filter(pa.array(regular)), names, group[regular], header)
    late_path = (late_folder or folder) / names[late_group]
    files += _write_groups(late_path.parent, rows.filter(pa.array(~regular)), names, group[~regular], header)
    return late_path, {"store_receipts": len(pc.unique(rec.receipt_id)), "store_lines": n, "store_files": files}


def write_campaigns(folder: Path, clock: Clock, camp: dict, clicks: dict) -> dict[str, int]:
    """campaigns.csv (sent_at with the local offset) and campaign_clicks.csv (clicked_at in UTC, 'Z')."""
    sent = text.iso_timestamps(camp["sent_at"], clock.timezone, np.zeros(len(camp["sent_at"]), dtype=int))
    rows = text.join(camp["campaign_id"], camp["name"], camp["kind"], text.join(sent, "\n"), sep=",")
    offsets, data = text.line_buffer(rows)
    (folder / "campaigns.csv").write_bytes(b"campaign_id,name,kind,sent_at\n" + bytes(data[offsets[0] : offsets[-1]]))
    clicked = text.iso_timestamps(clicks["clicked_at"], clock.timezone, np.ones(len(clicks["clicked_at"]), dtype=int))
    rows = text.join(clicks["campaign_id"], clicks["email"], text.join(clicked, "\n"), sep=",")
    body = b""
    if len(rows):
        offsets, data = text.line_buffer(rows)
        body = bytes(data[offsets[0] : offsets[-1]])
    (folder / "campaign_clicks.csv").write_bytes(b"campaign_id,email,clicked_at\n" + body)
    return {"campaigns": len(camp["sent_at"]), "campaign_clicks": len(clicks["clicked_at"])}
