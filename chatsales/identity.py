"""Which chatrooms can claim an order: the union of the chatrooms its identity keys reach (data-contract.md,
Identity). Keys, strongest first: the order's browser visitor id, a visitor linked to it by an offsite link
click (only for orders placed after the click), the e-commerce customer id, the normalised email.

Computed in DuckDB (hash joins on large frames) with timestamps as int64 microseconds.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from chatsales.pii import normalise_emails

PAIR_COLUMNS = ["oi", "chatroom_id", "match_rank"]


def micros(ts: pd.Series) -> np.ndarray:
    """UTC instants as int64 microseconds since the epoch (NaT → the int64 minimum, never compared)."""
    return ts.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]").astype("int64")


def arrow_text(values: pd.Series) -> pa.Array:
    """A key column as an Arrow string array (zero-copy from pandas' Arrow-backed str), missing → null."""
    return pa.array(values.astype("str"), type=pa.large_string(), from_pandas=True)


def identity_inputs(orders: pd.DataFrame, visitors: pd.DataFrame, chatrooms: pd.DataFrame,
                    identity_links: pd.DataFrame) -> dict[str, pa.Table]:
    """The slim tables the candidate query needs; `oi` is the order's position in `orders`."""
    rooms = chatrooms[~chatrooms["is_internal"].to_numpy(bool)]
    return {
        "o": pa.table({"oi": np.arange(len(orders), dtype="int64"), "t": micros(orders["placed_at"]),
                       "visitor_id": arrow_text(orders["visitor_id"]),
                       "customer_id": arrow_text(orders["customer_id"]),
                       "email": arrow_text(normalise_emails(orders["email"]))}),
        "v": pa.table({"visitor_id": arrow_text(visitors["visitor_id"]),
                       "customer_id": arrow_text(visitors["customer_id"]),
                       "email": arrow_text(normalise_emails(visitors["email"]))}),
        "r": pa.table({"rk": np.arange(len(rooms), dtype="int32"),
                       "chatroom_id": arrow_text(rooms["chatroom_id"]), "visitor_id": arrow_text(rooms["visitor_id"]),
                       "member_id": arrow_text(rooms["member_id"]), "source": arrow_text(rooms["source"]),
                       "channel": arrow_text(rooms["channel"])}),
        "l": pa.table({"visitor_id": arrow_text(identity_links["visitor_id"]),
                       "linked_visitor_id": arrow_text(identity_links["linked_visitor_id"]),
                       "linked_at": micros(identity_links["linked_at"])}),
    }


CANDIDATES_SQL = """
SELECT oi, chatroom_id, min(match_rank) AS match_rank FROM (
    SELECT o.oi, r.chatroom_id, 0 AS match_rank
      FROM o JOIN r ON r.visitor_id = o.visitor_id
    UNION ALL
    SELECT o.oi, r.chatroom_id, 1
      FROM o JOIN l ON l.linked_visitor_id = o.visitor_id AND o.t > l.linked_at
             JOIN r ON r.visitor_id = l.visitor_id
    UNION ALL
    SELECT o.oi, r.chatroom_id, 2
      FROM o JOIN v ON v.customer_id = o.customer_id JOIN r ON r.visitor_id = v.visitor_id
    UNION ALL
    SELECT o.oi, r.chatroom_id, 3
      FROM o JOIN v ON v.email = o.email JOIN r ON r.visitor_id = v.visitor_id
) GROUP BY oi, chatroom_id
"""


def register(con: duckdb.DuckDBPyConnection, frames: dict[str, pa.Table]) -> None:
    for name, frame in frames.items():
        con.register(name, frame)


def order_candidates(orders: pd.DataFrame, visitors: pd.DataFrame, chatrooms: pd.DataFrame,
                     identity_links: pd.DataFrame) -> pd.DataFrame:
    """One row per (order, candidate chatroom): order_id, sales_channel, chatroom_id, match_rank
    (0 visitor_id, 1 linked_visitor_id, 2 customer_id, 3 email: the strongest key reaching it)."""
    with duckdb.connect() as con:
        register(con, identity_inputs(orders, visitors, chatrooms, identity_links))
        pairs = con.sql(CANDIDATES_SQL + " ORDER BY oi, chatroom_id").to_arrow_table().to_pandas()
    oi = pairs["oi"].to_numpy()
    return pd.DataFrame({"order_id": orders["order_id"].to_numpy()[oi],
                         "sales_channel": orders["sales_channel"].to_numpy()[oi],
                         "chatroom_id": pairs["chatroom_id"].astype("str"),
                         "match_rank": pairs["match_rank"].astype("int64")}).astype(
        {"order_id": "str", "sales_channel": "str"})
