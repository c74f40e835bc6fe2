"""Which chatrooms can claim an order: the union of the chatrooms its identity keys reach (data-contract.md,
Identity). Keys, strongest first: the order's browser visitor id, a visitor linked to it by an offsite link
click (only for orders placed strictly after the click, one step), the e-commerce customer id, the
normalised email. Internal chatrooms reach nothing.

The string joins run in DuckDB (parallel hash joins on Arrow data, no copies); what comes back is integer
codes only (order position, chatroom position), which attribution.py works on with numpy.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from chatsales.period import NAT
from chatsales.pii import hash_emails, normalise_emails


def micros(ts: pd.Series, table: str, key: pd.Series) -> np.ndarray:
    """UTC instants as int64 µs since the epoch. A missing instant is bad input the readers should have
    rejected: it is an error naming the table and the row, never a guess."""
    values = ts.astype("datetime64[us, UTC]").array.asi8
    missing = np.flatnonzero(values == NAT)
    if len(missing):
        raise ValueError(f"{table}: {len(missing)} row(s) without {ts.name}, first {key.iloc[missing[0]]!r}")
    return values


def arrow_text(values: pd.Series) -> pa.Array:
    """A text column as an Arrow array (zero-copy from pandas' Arrow-backed `str`), missing → null."""
    return pa.array(values.astype("str"), from_pandas=True)


def take_text(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """values[positions] as a `str` Series through Arrow (no Python objects); a negative position → NA."""
    index = pa.array(positions, type=pa.int64(), mask=positions < 0)
    return pd.Series(arrow_text(values).take(index), dtype="str")


def external_chatrooms(chatrooms: pd.DataFrame) -> pd.DataFrame:
    """The chatrooms that can claim an order: all but internal (member-to-member) ones. Their position in
    this frame is the integer code `rk` used everywhere downstream."""
    return chatrooms[~chatrooms["is_internal"].to_numpy(bool)].reset_index(drop=True)


CANDIDATES_SQL = """
SELECT o.oi, r.rk, 0 AS match_rank FROM o JOIN r ON r.visitor_id = o.visitor_id
UNION ALL
SELECT o.oi, r.rk, 1 FROM o JOIN l ON l.linked_visitor_id = o.visitor_id AND o.t > l.linked_at
                         JOIN r ON r.visitor_id = l.visitor_id
UNION ALL
SELECT o.oi, r.rk, 2 FROM o JOIN v ON v.customer_id = o.customer_id JOIN r ON r.visitor_id = v.visitor_id
UNION ALL
SELECT o.oi, r.rk, 3 FROM o JOIN v ON v.email = o.email JOIN r ON r.visitor_id = v.visitor_id
"""


MATCH_KEY = "chatsales-match"  # hashes made only to match in memory (whole-history path); never stored


def hashed(frame: pd.DataFrame, email: str, into: str) -> pd.DataFrame:
    """`frame` with its raw `email` column replaced by the matching hash `into` (the in-memory path: the lake
    holds hashes already, made with the PII key; matching on either is matching the normalised address)."""
    if into in frame.columns:
        return frame
    return frame.assign(**{into: hash_emails(normalise_emails(frame[email]), MATCH_KEY)})


def candidate_codes(
    con: duckdb.DuckDBPyConnection,
    orders: pd.DataFrame,
    order_t: np.ndarray,
    visitors: pd.DataFrame,
    rooms: pd.DataFrame,
    identity_links: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(oi, rk, match_rank): one entry per (order position, position in `rooms`), sorted by order then room,
    with the strongest key that reached the room. `orders` carry `customer_hash` and `visitors` `email_hash`
    (keyed hashes of the normalised email); `rooms` are external chatrooms; `order_t` the orders' placed_at
    in µs. The inputs are registered in `con` as o, v, r, l."""
    orders, visitors = hashed(orders, "email", "customer_hash"), hashed(visitors, "email", "email_hash")
    tables = {
        "o": pa.table(
            {
                "oi": np.arange(len(orders), dtype=np.int64),
                "t": order_t,
                "visitor_id": arrow_text(orders["visitor_id"]),
                "customer_id": arrow_text(orders["customer_id"]),
                "email": arrow_text(orders["customer_hash"]),
            }
        ),
        "v": pa.table(
            {
                "visitor_id": arrow_text(visitors["visitor_id"]),
                "customer_id": arrow_text(visitors["customer_id"]),
                "email": arrow_text(visitors["email_hash"]),
            }
        ),
        "r": pa.table(
            {
                "rk": np.arange(len(rooms), dtype=np.int32),
                "visitor_id": arrow_text(rooms["visitor_id"]),
                "chatroom_id": arrow_text(rooms["chatroom_id"]),
            }
        ),
        "l": pa.table(
            {
                "visitor_id": arrow_text(identity_links["visitor_id"]),
                "linked_visitor_id": arrow_text(identity_links["linked_visitor_id"]),
                "linked_at": micros(identity_links["linked_at"], "identity_links", identity_links["linked_visitor_id"]),
            }
        ),
    }
    for name, table in tables.items():
        con.register(name, table)
    found = con.sql(CANDIDATES_SQL).fetchnumpy()
    # one entry per (order, room) with its strongest key: sort packed (order, room, rank), keep the first
    n_rooms = max(len(rooms), 1)
    packed = (found["oi"].astype(np.int64) * n_rooms + found["rk"].astype(np.int64)) * 4 + found["match_rank"]
    packed.sort()
    pair = packed >> 2
    first = np.ones(len(pair), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    packed, pair = packed[first], pair[first]
    return pair // n_rooms, pair % n_rooms, (packed & 3).astype(np.int8)


def order_candidates(
    orders: pd.DataFrame, visitors: pd.DataFrame, chatrooms: pd.DataFrame, identity_links: pd.DataFrame
) -> pd.DataFrame:
    """One row per (order, candidate chatroom): order_id, sales_channel, chatroom_id, match_rank
    (0 visitor_id, 1 linked_visitor_id, 2 customer_id, 3 email: the strongest key reaching it)."""
    rooms = external_chatrooms(chatrooms)
    order_t = micros(orders["placed_at"], "orders", orders["order_id"])
    with duckdb.connect() as con:
        oi, rk, rank = candidate_codes(con, orders, order_t, visitors, rooms, identity_links)
    return pd.DataFrame(
        {
            "order_id": take_text(orders["order_id"], oi),
            "sales_channel": take_text(orders["sales_channel"], oi),
            "chatroom_id": take_text(rooms["chatroom_id"], rk),
            "match_rank": rank.astype(np.int64),
        }
    )
