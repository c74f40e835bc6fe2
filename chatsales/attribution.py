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
import pandas as pd
import pyarrow as pa

from chatsales import schema
from chatsales.identity import CANDIDATES_SQL, arrow_text, identity_inputs, micros, register

US_PER_DAY = 86_400_000_000

ATTRIBUTION_SQL = f"""
WITH pairs AS MATERIALIZED ({CANDIDATES_SQL}),
rc AS (SELECT chatroom_id, rk FROM r),
-- counted messages only, keyed by an integer room code: sorts and ASOF JOIN on integers are cheap
mi AS MATERIALIZED (
    SELECT rc.rk, m.t, m.sender = 'visitor' AS by_visitor
      FROM m JOIN rc USING (chatroom_id)
     WHERE m.sender IN ('visitor', 'member') AND NOT m.is_automatic
),
ms AS (
    SELECT rk, min(t) AS first_any, max(t) AS last_any,
           CASE WHEN min(t) FILTER (WHERE by_visitor) IS NULL OR min(t) FILTER (WHERE NOT by_visitor) IS NULL
                THEN NULL
                ELSE greatest(min(t) FILTER (WHERE by_visitor), min(t) FILTER (WHERE NOT by_visitor)) END
           AS established
      FROM mi GROUP BY rk
),
cand AS MATERIALIZED (
    SELECT p.oi, rc.rk, p.chatroom_id, p.match_rank, o.t, ms.last_any,
           coalesce(ms.first_any < o.t, false) AS spoke_before,
           coalesce(ms.established < o.t, false) AS eligible
      FROM pairs p JOIN o USING (oi) JOIN rc USING (chatroom_id) LEFT JOIN ms USING (rk)
),
-- the last counted message before T: the room's last message when the room went quiet before T,
-- else an ASOF JOIN (only for eligible pairs whose room was still active at T)
quiet AS (SELECT oi, chatroom_id, match_rank, last_any AS last_message FROM cand WHERE eligible AND last_any < t),
active AS (
    SELECT e.oi, e.chatroom_id, e.match_rank, mi.t AS last_message
      FROM (SELECT * FROM cand WHERE eligible AND last_any >= t) e
      ASOF JOIN mi ON e.rk = mi.rk AND e.t > mi.t
),
eligible AS MATERIALIZED (SELECT * FROM quiet UNION ALL SELECT * FROM active),
latest AS (SELECT oi, max(last_message) AS last_message FROM eligible GROUP BY oi),
-- ties on the last message: the smallest chatroom_id in byte order
winner AS (
    SELECT e.oi, min(e.chatroom_id) AS chatroom_id, any_value(e.last_message) AS last_message,
           arg_min(e.match_rank, e.chatroom_id) AS match_rank
      FROM eligible e JOIN latest l ON e.oi = l.oi AND e.last_message = l.last_message
     GROUP BY e.oi
),
per_order AS (
    SELECT oi, count(*) AS candidates, bool_or(spoke_before) AS spoke_before, bool_or(eligible) AS eligible
      FROM cand GROUP BY oi
)
SELECT o.oi,
       w.chatroom_id IS NOT NULL AND o.t - w.last_message <= $window AS attributed,
       CASE WHEN w.chatroom_id IS NOT NULL AND o.t - w.last_message <= $window THEN NULL
            WHEN o.visitor_id IS NULL AND o.customer_id IS NULL AND o.email IS NULL THEN 'no_identity'
            WHEN p.candidates IS NULL THEN 'no_conversation'
            WHEN NOT p.spoke_before THEN 'conversation_after_order'
            WHEN NOT p.eligible THEN 'no_dialogue'
            ELSE 'outside_window' END AS reason,
       w.chatroom_id, r.member_id, r.source, r.channel AS touchpoint,
       ['visitor_id', 'linked_visitor_id', 'customer_id', 'email'][w.match_rank + 1] AS match_key,
       w.last_message
  FROM o LEFT JOIN per_order p USING (oi) LEFT JOIN winner w USING (oi) LEFT JOIN r ON r.chatroom_id = w.chatroom_id
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
    frames = identity_inputs(orders, chat["visitors"], chat["chatrooms"], chat["identity_links"])
    messages = chat["messages"]
    frames["m"] = pa.table({"chatroom_id": arrow_text(messages["chatroom_id"]), "t": micros(messages["sent_at"]),
                            "sender": arrow_text(messages["sender"]),
                            "is_automatic": messages["is_automatic"].to_numpy(bool)})
    with duckdb.connect() as con:
        register(con, frames)
        result = con.sql(ATTRIBUTION_SQL.replace("$window", str(int(window_days) * US_PER_DAY))).to_arrow_table()
    result = result.to_pandas(types_mapper={pa.large_string(): pd.StringDtype(), pa.string(): pd.StringDtype()}.get)
    frame = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy(), "sales_channel": orders["sales_channel"].to_numpy(),
        "placed_at": orders["placed_at"].reset_index(drop=True),
        "attributed": result["attributed"].fillna(False).astype(bool),
        **{c: result[c] for c in ("reason", "chatroom_id", "member_id", "source", "touchpoint", "match_key")},
        "last_message_at": pd.to_datetime(result["last_message"].astype("Int64"), unit="us", utc=True),
        "window_days": window_days,
    })
    return schema.conform(frame, schema.ATTRIBUTION)
