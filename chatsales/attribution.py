"""The attribution rule of attribution.md, for every order at once.

For an order placed at T: its candidate chatrooms (identity.py) are eligible when both parties wrote a
counted message strictly before T, i.e. the chatroom's dialogue was established before T; the winner is
the eligible one whose last counted message before T is the most recent (ties: smallest chatroom_id in
byte order); the order is attributed when T − that message ≤ the window (exact seconds, inclusive).
Otherwise exactly one reason, the first that applies.

Everything runs in one DuckDB session: per-chatroom milestones by aggregation, the last message before T
by ASOF JOIN only for eligible pairs, the winner by a window function. Timestamps are int64 µs.
"""
from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.identity import CANDIDATES_SQL, _text, identity_inputs, micros, register

US_PER_DAY = 86_400_000_000

ATTRIBUTION_SQL = f"""
WITH pairs AS ({CANDIDATES_SQL}),
ms AS (
    SELECT chatroom_id,
           min(t) FILTER (WHERE sender = 'visitor') AS first_visitor,
           min(t) FILTER (WHERE sender = 'member') AS first_member,
           min(t) AS first_any
      FROM m GROUP BY chatroom_id
),
ms_est AS (
    SELECT *, CASE WHEN first_visitor IS NULL OR first_member IS NULL THEN NULL
                   ELSE greatest(first_visitor, first_member) END AS established
      FROM ms
),
cand AS (
    SELECT p.oi, p.chatroom_id, p.match_rank, o.t,
           ms.first_any < o.t AS spoke_before,
           ms.established < o.t AS eligible
      FROM pairs p JOIN o USING (oi) LEFT JOIN ms_est ms USING (chatroom_id)
),
last_before AS (
    SELECT e.oi, e.chatroom_id, e.match_rank, m.t AS last_message
      FROM (SELECT * FROM cand WHERE eligible) e
      ASOF JOIN m ON e.chatroom_id = m.chatroom_id AND e.t > m.t
),
winner AS (
    SELECT oi, chatroom_id, match_rank, last_message FROM last_before
    QUALIFY row_number() OVER (PARTITION BY oi ORDER BY last_message DESC, chatroom_id ASC) = 1
),
per_order AS (
    SELECT oi, count(*) AS candidates, bool_or(coalesce(spoke_before, false)) AS spoke_before,
           bool_or(coalesce(eligible, false)) AS eligible
      FROM cand GROUP BY oi
)
SELECT o.oi, coalesce(p.candidates, 0) AS candidates, coalesce(p.spoke_before, false) AS spoke_before,
       coalesce(p.eligible, false) AS eligible, w.chatroom_id, w.match_rank, w.last_message
  FROM o LEFT JOIN per_order p USING (oi) LEFT JOIN winner w USING (oi)
 ORDER BY o.oi
"""


def counted_messages(messages: pd.DataFrame) -> pd.DataFrame:
    """Messages that count as a party's message: sender visitor or member, not automatic."""
    keep = messages["sender"].isin(["visitor", "member"]).to_numpy() & ~messages["is_automatic"].to_numpy(bool)
    return messages[keep]


def attribute(orders: pd.DataFrame, chat: Mapping[str, pd.DataFrame], window_days: int) -> pd.DataFrame:
    """One schema.ATTRIBUTION row per order of `orders` (web orders and receipts), in input order."""
    if orders.empty:
        return schema.empty(schema.ATTRIBUTION)
    chatrooms = chat["chatrooms"]
    frames = identity_inputs(orders, chat["visitors"], chatrooms, chat["identity_links"])
    counted = counted_messages(chat["messages"])
    frames["m"] = pd.DataFrame({"chatroom_id": _text(counted["chatroom_id"]), "t": micros(counted["sent_at"]),
                                "sender": _text(counted["sender"])})
    with duckdb.connect() as con:
        con.execute("SET threads TO 2")
        register(con, frames)
        result = con.sql(ATTRIBUTION_SQL).df()
    return _rows(orders, frames["o"], result, chatrooms, window_days)


def _rows(orders: pd.DataFrame, o: pd.DataFrame, result: pd.DataFrame, chatrooms: pd.DataFrame,
          window_days: int) -> pd.DataFrame:
    """Reasons and winner columns from the per-order result (aligned with `orders` by position)."""
    has_identity = (o[["visitor_id", "customer_id", "email"]].notna().any(axis=1)).to_numpy()
    has_winner = result["chatroom_id"].notna().to_numpy()
    last = result["last_message"].to_numpy(dtype="float64")      # NaN where no winner
    within = has_winner & ((o["t"].to_numpy() - last) <= window_days * US_PER_DAY)
    reason = np.select(
        [within, ~has_identity, result["candidates"].to_numpy() == 0, ~result["spoke_before"].to_numpy(bool),
         ~result["eligible"].to_numpy(bool)],
        [None, "no_identity", "no_conversation", "conversation_after_order", "no_dialogue"],
        default="outside_window")
    rooms = chatrooms.set_index("chatroom_id")[["member_id", "source", "channel"]]
    winner = rooms.reindex(result["chatroom_id"].astype(object))
    names = np.array(schema.MATCH_KEYS, dtype=object)
    rank = result["match_rank"].fillna(0).astype("int64").to_numpy()
    last_ts = pd.to_datetime(result["last_message"].astype("Int64"), unit="us", utc=True)
    frame = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy(), "sales_channel": orders["sales_channel"].to_numpy(),
        "placed_at": orders["placed_at"].reset_index(drop=True), "attributed": within, "reason": reason,
        "chatroom_id": result["chatroom_id"].to_numpy(), "member_id": winner["member_id"].to_numpy(),
        "source": winner["source"].to_numpy(), "touchpoint": winner["channel"].to_numpy(),
        "match_key": np.where(has_winner, names[rank], None), "last_message_at": last_ts,
        "window_days": window_days,
    })
    return schema.conform(frame, schema.ATTRIBUTION)
