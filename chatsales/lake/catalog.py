"""The lake's catalog (SQLite, beside the Parquet): what was read, when, and what it changed.

- `files`: every source file seen, with its size, mtime and content hash, so a night re-reads only the files
  that are new or changed (stat first, hash only when the stat differs).
- `extractions`: one row per read of a source (its scope, rows, rejects), the watermark of the next read.
- `changes`: the change log. Each extraction appends what it changed as (what, first_day, last_day) spans
  of reporting days, numbered by `seq`; a published day remembers the `seq` it was computed from, so the
  late-data sensor re-runs exactly the days with a change newer than their publication.
- `orders`: the index of every order and receipt kept (its day, version and identity keys): where to find
  the stored version when a newer one arrives, and the customers' first orders.
- `chat_keys`, `visitor_keys`, `link_keys`: the keys of every chatroom, request, visitor and identity link
  kept, with what identity matches on: a night checks its rows' references and finds the visitors and links
  its orders reach by lookups, without reading the history of those datasets (chatsales.lake.chat_index).
- `meta`: the layout version and small values (the longest member session seen).

Its size grows with the files and orders read, never with the nights: the sensor's own cursor stays small.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

LAYOUT_VERSION = "2"
CATALOG_FILE = "catalog.sqlite"

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    source TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL, rows INTEGER NOT NULL, read_at TEXT NOT NULL, PRIMARY KEY (source, name));
CREATE TABLE IF NOT EXISTS extractions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, run_id TEXT, started_at TEXT NOT NULL,
    scope_since TEXT, read_rows INTEGER NOT NULL, rejects INTEGER NOT NULL, changed_rows INTEGER NOT NULL,
    watermark TEXT, complete INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS written (
    extraction INTEGER NOT NULL, dataset TEXT NOT NULL, part TEXT NOT NULL,
    PRIMARY KEY (extraction, dataset, part));
CREATE INDEX IF NOT EXISTS ix_extractions_source ON extractions (source, id);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, extraction INTEGER NOT NULL, source TEXT NOT NULL,
    what TEXT NOT NULL, first_day TEXT NOT NULL, last_day TEXT NOT NULL, rows INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_changes_days ON changes (last_day, first_day);
CREATE TABLE IF NOT EXISTS orders (
    sales_channel TEXT NOT NULL, order_id TEXT NOT NULL, day TEXT NOT NULL, placed_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, source_file TEXT NOT NULL, source_line INTEGER NOT NULL,
    customer TEXT, customer_hash TEXT, customer_id TEXT, visitor_id TEXT, is_sale INTEGER NOT NULL,
    PRIMARY KEY (sales_channel, order_id));
DROP INDEX IF EXISTS ix_orders_customer; -- replaced by ix_orders_first_sale: only sales are looked up by customer
CREATE INDEX IF NOT EXISTS ix_orders_hash ON orders (customer_hash);
CREATE INDEX IF NOT EXISTS ix_orders_customer_id ON orders (customer_id);
CREATE INDEX IF NOT EXISTS ix_orders_visitor ON orders (visitor_id);
CREATE INDEX IF NOT EXISTS ix_orders_first_sale ON orders (customer, placed_at, order_id)
    WHERE is_sale = 1 AND customer IS NOT NULL;
CREATE TABLE IF NOT EXISTS chat_keys (tbl TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tbl, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visitor_keys (
    visitor_id TEXT NOT NULL PRIMARY KEY, customer_id TEXT, email_hash TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_visitor_keys_customer ON visitor_keys (customer_id);
CREATE INDEX IF NOT EXISTS ix_visitor_keys_email ON visitor_keys (email_hash);
CREATE TABLE IF NOT EXISTS link_keys (
    linked_visitor_id TEXT NOT NULL, visitor_id TEXT NOT NULL, linked_at INTEGER NOT NULL,
    PRIMARY KEY (linked_visitor_id, visitor_id, linked_at)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS room_visitors (
    visitor_id TEXT NOT NULL, chatroom_id TEXT NOT NULL, PRIMARY KEY (visitor_id, chatroom_id)) WITHOUT ROWID;
"""
# pages a connection keeps (KiB; SQLite's default is 2 MiB): a night's inserts into the order index's five
# indexes, millions of rows after years at 10×, re-read fewer pages (a day of orders: 0.5 → 0.2 s)
CACHE_KIB = 65536
# per customer of a JSON list, the row of the first sale: one probe of the partial index each
FIRST_SALES = (
    "SELECT * FROM orders WHERE rowid IN (SELECT (SELECT o.rowid FROM orders AS o WHERE o.customer = k.value"
    " AND o.is_sale = 1 AND o.customer IS NOT NULL ORDER BY o.placed_at, o.order_id LIMIT 1) FROM json_each(?) AS k)"
)
CHANGE_COLUMNS = ["what", "first_day", "last_day", "rows"]
ORDER_INDEX_COLUMNS = [
    "sales_channel",
    "order_id",
    "day",
    "placed_at",
    "updated_at",
    "source_file",
    "source_line",
    "customer",
    "customer_hash",
    "customer_id",
    "visitor_id",
    "is_sale",
]


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


class Catalog:
    """One SQLite file; each method is one short transaction (WAL: readers never wait for the writer)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.executescript(DDL)

    @contextmanager
    def connect(self):
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            _wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self):
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # --- meta ----------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        with self.connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        sql, args = (
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        if conn is not None:
            conn.execute(sql, args)
            return
        with self.transaction() as own:
            own.execute(sql, args)

    # --- files ---------------------------------------------------------------------------------------
    def files(self, source: str) -> pd.DataFrame:
        with self.connect() as conn:
            return pd.read_sql(
                "SELECT name, size, mtime_ns, sha256, rows FROM files WHERE source = ?", conn, params=(source,)
            )

    @staticmethod
    def record_files(conn: sqlite3.Connection, source: str, files: pd.DataFrame) -> None:
        """files: name, size, mtime_ns, sha256, rows."""
        rows = [
            (source, n, int(s), int(m), h, int(r), utc_now())
            for n, s, m, h, r in files[["name", "size", "mtime_ns", "sha256", "rows"]].itertuples(
                index=False, name=None
            )
        ]
        conn.executemany(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, name) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, "
            "rows = excluded.rows, read_at = excluded.read_at",
            rows,
        )

    # --- extractions and the change log --------------------------------------------------------------
    def last_extraction(self, source: str) -> dict | None:
        """The last complete extraction of `source` (its lake writes all done)."""
        with self.connect() as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute(
                "SELECT * FROM extractions WHERE source = ? AND complete = 1 ORDER BY id DESC LIMIT 1", (source,)
            ).fetchone()
        return None if row is None else dict(row)

    @staticmethod
    def complete(conn: sqlite3.Connection, extraction: int, written: dict[str, list[str]]) -> None:
        """Mark an extraction done, with the lake partitions it wrote (what the state is updated from)."""
        conn.executemany(
            "INSERT OR IGNORE INTO written VALUES (?, ?, ?)",
            [(extraction, dataset, part) for dataset, parts in written.items() for part in parts],
        )
        conn.execute("UPDATE extractions SET complete = 1 WHERE id = ?", (extraction,))

    def written_since(self, source: str, extraction: int) -> tuple[int, dict[str, list[str]]]:
        """(last complete extraction id of `source`, the partitions written per dataset after `extraction`)."""
        with self.connect() as conn:
            last = conn.execute(
                "SELECT coalesce(max(id), 0) FROM extractions WHERE source = ? AND complete = 1", (source,)
            ).fetchone()[0]
            rows = conn.execute(
                "SELECT DISTINCT w.dataset, w.part FROM written w JOIN extractions e "
                "ON e.id = w.extraction WHERE e.source = ? AND e.complete = 1 AND e.id > ? "
                "AND e.id <= ?",
                (source, extraction, last),
            ).fetchall()
        parts: dict[str, list[str]] = {}
        for dataset, part in rows:
            parts.setdefault(dataset, []).append(part)
        return int(last), {dataset: sorted(found) for dataset, found in parts.items()}

    @staticmethod
    def record_extraction(
        conn: sqlite3.Connection,
        source: str,
        *,
        run_id: str | None,
        started_at: str,
        scope_since: str | None,
        read_rows: int,
        rejects: int,
        changes: pd.DataFrame,
        watermark: str | None = None,
    ) -> int:
        """One extraction and the day spans it changed, in the caller's transaction; returns its id."""
        cursor = conn.execute(
            "INSERT INTO extractions (source, run_id, started_at, scope_since, read_rows, rejects, changed_rows, "
            "watermark) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source,
                run_id,
                started_at,
                scope_since,
                int(read_rows),
                int(rejects),
                int(changes["rows"].sum()) if len(changes) else 0,
                watermark,
            ),
        )
        extraction = cursor.lastrowid
        conn.executemany(
            "INSERT INTO changes (extraction, source, what, first_day, last_day, rows) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (extraction, source, w, str(f), str(last), int(n))
                for w, f, last, n in changes[CHANGE_COLUMNS].itertuples(index=False, name=None)
            ],
        )
        return extraction

    def last_seq(self) -> int:
        with self.connect() as conn:
            return int(conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])

    def changes_since(self, seq: int, first_day: date | None = None) -> pd.DataFrame:
        """Change rows after `seq` whose span reaches `first_day` or later: seq, source, what, first_day,
        last_day, rows."""
        query = "SELECT seq, source, what, first_day, last_day, rows FROM changes WHERE seq > ?"
        params: list = [seq]
        if first_day is not None:
            query += " AND last_day >= ?"
            params.append(str(first_day))
        with self.connect() as conn:
            frame = pd.read_sql(query + " ORDER BY seq", conn, params=params)
        for column in ("first_day", "last_day"):
            frame[column] = pd.to_datetime(frame[column]).dt.date
        return frame

    # --- the order index -----------------------------------------------------------------------------
    def order_index(self, channel: str, order_ids: Sequence[str]) -> pd.DataFrame:
        """The index rows of these orders of one sales channel (missing: never seen)."""
        return self._select_in("sales_channel = ? AND order_id", [channel], order_ids)

    def orders_of(self, column: str, values: Iterable[str]) -> pd.DataFrame:
        """The index rows whose `column` (customer_hash, customer_id, visitor_id) is one of values (by customer:
        `sales_of`, `first_sales`)."""
        if column not in ("customer_hash", "customer_id", "visitor_id"):
            raise ValueError(f"not an indexed key: {column}")
        return self._select_in(column, [], values)

    def sales_of(self, customers: Iterable[str]) -> pd.DataFrame:
        """The index rows of every sale of these customers (returns and cancelled orders are not sales)."""
        return self._select_in("is_sale = 1 AND customer IS NOT NULL AND customer", [], customers)

    def first_sales(self, customers: Iterable[str]) -> pd.DataFrame:
        """The index row of each of these customers' first sale (earliest placed_at, then order_id): one probe
        of ix_orders_first_sale per customer, however many orders each placed over the years (reading every
        order of tonight's customers made a 10× night grow by seconds over two years of history)."""
        with self.connect() as conn:
            return pd.read_sql(FIRST_SALES, conn, params=[json.dumps(_distinct(customers))])

    def _select_in(
        self, condition: str, fixed: list, values: Iterable[str], table: str = "orders", columns: str = "*"
    ) -> pd.DataFrame:
        """The rows of `table` whose `condition` column is one of `values` (after the `fixed` parameters)."""
        values = _distinct(values)
        frames = []
        with self.connect() as conn:
            for start in range(0, len(values), 900):  # SQLite's bound-parameter limit
                chunk = values[start : start + 900]
                marks = ", ".join("?" * len(chunk))
                sql = f"SELECT {columns} FROM {table} WHERE {condition} IN ({marks})"
                frames.append(pd.read_sql(sql, conn, params=[*fixed, *chunk]))
        if not frames:
            with self.connect() as conn:
                return pd.read_sql(f"SELECT {columns} FROM {table} WHERE 0", conn)
        return pd.concat(frames, ignore_index=True)

    @staticmethod
    def write_order_index(conn: sqlite3.Connection, rows: pd.DataFrame) -> None:
        """Insert or replace index rows (ORDER_INDEX_COLUMNS; instants as µs since the epoch)."""
        values = rows[ORDER_INDEX_COLUMNS].astype(object).where(rows[ORDER_INDEX_COLUMNS].notna(), None)
        conn.executemany(
            f"INSERT OR REPLACE INTO orders VALUES ({', '.join('?' * len(ORDER_INDEX_COLUMNS))})",
            values.itertuples(index=False, name=None),
        )

    # --- the chat keys (chatsales.lake.chat_index builds and fills them) --------------------------------
    def known_chat_ids(self, table: str, ids: Iterable[str]) -> pd.Series:
        """The ids among `ids` of the chatrooms or requests (`table`) kept in the lake."""
        return self._select_in("tbl = ? AND id", [table], ids, table="chat_keys", columns="id")["id"]

    def visitors_matching(self, column: str, values: Iterable[str]) -> pd.DataFrame:
        """visitor_id, customer_id, email_hash of the visitors whose `column` is one of `values`."""
        if column not in ("visitor_id", "customer_id", "email_hash"):
            raise ValueError(f"not an indexed visitor key: {column}")
        return self._select_in(column, [], values, table="visitor_keys")

    def links_to(self, visitor_ids: Iterable[str]) -> pd.DataFrame:
        """visitor_id, linked_visitor_id, linked_at (µs) of the identity links to these browser visitors."""
        return self._select_in(
            "linked_visitor_id", [], visitor_ids, table="link_keys", columns="visitor_id, linked_visitor_id, linked_at"
        )

    def rooms_of_visitors(self, visitor_ids: Iterable[str]) -> pd.Series:
        """The ids of the chatrooms of these visitors."""
        found = self._select_in("visitor_id", [], visitor_ids, table="room_visitors", columns="chatroom_id")
        return found["chatroom_id"]

    @staticmethod
    def write_chat_keys(
        conn: sqlite3.Connection, ids: dict[str, pd.Series], visitors: pd.DataFrame, links, rooms: pd.DataFrame
    ) -> None:
        """Record chatroom and request ids ({table: ids}), visitors (visitor_id, customer_id, email_hash: a
        newer version replaces the kept one), links (visitor_id, linked_visitor_id, linked_at in µs) and the
        chatrooms' visitors (visitor_id, chatroom_id)."""
        conn.executemany(
            "INSERT OR IGNORE INTO room_visitors VALUES (?, ?)",
            rooms[["visitor_id", "chatroom_id"]].dropna().astype(str).itertuples(index=False, name=None),
        )
        for table, values in ids.items():
            conn.executemany(
                "INSERT OR IGNORE INTO chat_keys VALUES (?, ?)", ((table, v) for v in values.astype(str).tolist())
            )
        columns = ["visitor_id", "customer_id", "email_hash"]
        rows = visitors[columns].astype(object).where(visitors[columns].notna(), None)
        conn.executemany("INSERT OR REPLACE INTO visitor_keys VALUES (?, ?, ?)", rows.itertuples(index=False))
        conn.executemany(
            "INSERT OR IGNORE INTO link_keys VALUES (?, ?, ?)",
            links[["linked_visitor_id", "visitor_id", "linked_at"]].itertuples(index=False, name=None),
        )


def _wal(conn: sqlite3.Connection) -> None:
    """WAL mode; a brand-new file being initialised by another process answers 'locked' at once."""
    deadline = time.monotonic() + 60
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _distinct(values: Iterable[str]) -> list[str]:
    """The values once each, in order, without None or NaN: what a lookup by key asks for."""
    return list(dict.fromkeys(v for v in values if v is not None and v == v))
