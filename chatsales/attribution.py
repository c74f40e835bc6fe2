"""The attribution rule of attribution.md, for every order at once.

For an order placed at T: its candidate chatrooms (identity.py) are eligible when both parties wrote a
counted message strictly before T, i.e. the chatroom's dialogue was established (first counted message of
the second party) before T; the winner is the eligible one whose last counted message before T is the most
recent (ties: smallest chatroom_id in byte order); the order is attributed when T − that message ≤ the
window (exact µs, inclusive). Otherwise exactly one reason, the first that applies.

Why it is fast: messages are read once (one DuckDB join turns chatroom ids into integer codes), per-room
milestones are numpy scatter-reductions, and the as-of "last message before T" is only looked up for the
eligible pairs whose room was still active at T (for the others it is the room's last message). All
instants are int64 µs.
"""
from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from chatsales import schema
from chatsales.identity import NAT, arrow_text, candidate_codes, external_chatrooms, micros, take_text
from chatsales.pii import normalise_emails

US_PER_DAY = 86_400_000_000
NEVER = np.iinfo(np.int64).max      # "no such message": later than any instant
REASON_NAMES = pd.Series(schema.REASONS, dtype="str")
MATCH_KEY_NAMES = pd.Series(schema.MATCH_KEYS, dtype="str")

COUNTED_SQL = """
CREATE TEMP TABLE counted AS
SELECT r.rk, m.t, m.sender = 'visitor' AS by_visitor
  FROM m JOIN r USING (chatroom_id)
 WHERE m.sender IN ('visitor', 'member') AND NOT m.is_automatic
"""
MILESTONES_SQL = """
SELECT rk, min(t) AS first, max(t) AS last,
       CASE WHEN bool_or(by_visitor) AND NOT bool_and(by_visitor)   -- both parties wrote
            THEN greatest(min(t) FILTER (by_visitor), min(t) FILTER (NOT by_visitor)) END AS established
  FROM counted GROUP BY rk
"""
# only messages from the room's establishment on, and before the latest T asked, can be an answer
ASOF_SQL = """
SELECT q.qi, x.t FROM q ASOF JOIN (
    SELECT c.rk, c.t FROM counted c JOIN span s ON c.rk = s.rk AND c.t >= s.since AND c.t < s.until
) x ON q.rk = x.rk AND q.t > x.t
"""


def register_counted_messages(con: duckdb.DuckDBPyConnection, messages: pd.DataFrame) -> None:
    """Table `counted` (rk, t, by_visitor): the messages that count as a party's message (sender visitor or
    member, not automatic) in the rooms registered as `r`; those of internal or unknown chatrooms drop out
    in the join. It stays in DuckDB: only per-room aggregates and as-of answers come back."""
    con.register("m", pa.table({"chatroom_id": arrow_text(messages["chatroom_id"]),
                                "t": micros(messages["sent_at"], "messages", messages["message_id"]),
                                "sender": arrow_text(messages["sender"]),
                                "is_automatic": messages["is_automatic"].to_numpy(bool)}))
    con.execute(COUNTED_SQL)
    con.unregister("m")


def room_milestones(con: duckdb.DuckDBPyConnection, n_rooms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per room: first counted message, established_at (first counted message of the second party), last
    counted message. NEVER where there is none."""
    found = con.sql(MILESTONES_SQL).to_arrow_table()
    rk = found["rk"].to_numpy()
    columns = []
    for name in ("first", "established", "last"):
        values = np.full(n_rooms, NEVER)
        values[rk] = pc.fill_null(found[name], NEVER).to_numpy()
        columns.append(values)
    return columns[0], columns[1], columns[2]


def last_before(con: duckdb.DuckDBPyConnection, pair_rk: np.ndarray, pair_t: np.ndarray,
                established: np.ndarray) -> np.ndarray:
    """For each (room, T): the room's last counted message strictly before T, an as-of lookup."""
    out = np.full(len(pair_rk), NAT)
    if not len(pair_rk):
        return out
    rooms, inverse = np.unique(pair_rk, return_inverse=True)
    until = np.full(len(rooms), NAT)
    np.maximum.at(until, inverse, pair_t)
    con.register("span", pa.table({"rk": rooms.astype(np.int32), "since": established[rooms], "until": until}))
    con.register("q", pa.table({"qi": np.arange(len(pair_rk), dtype=np.int64), "rk": pair_rk.astype(np.int32),
                                "t": pair_t}))
    found = con.sql(ASOF_SQL).fetchnumpy()
    out[found["qi"]] = found["t"]
    return out


def last_counted_message(con: duckdb.DuckDBPyConnection, n: int, order_t: np.ndarray, oi: np.ndarray,
                         prk: np.ndarray, rank: np.ndarray, first: np.ndarray, established: np.ndarray,
                         last: np.ndarray):
    """Per order: how many candidate rooms, whether any party spoke in one before T; and per eligible pair
    (a dialogue established before T) its last counted message before T: the room's last one, unless the
    room went on after T, then an as-of lookup."""
    pt = order_t[oi]
    candidates = np.bincount(oi, minlength=n)
    spoke = np.bincount(oi, weights=first[prk] < pt, minlength=n) > 0
    eligible = established[prk] < pt
    oi, prk, rank, pt = oi[eligible], prk[eligible], rank[eligible], pt[eligible]
    pair_last = last[prk]
    active = np.flatnonzero(pair_last >= pt)
    pair_last[active] = last_before(con, prk[active], pt[active], established)
    return pair_last, oi, prk, rank, candidates, spoke


def attribute(orders: pd.DataFrame, chat: Mapping[str, pd.DataFrame], window_days: int) -> pd.DataFrame:
    """One schema.ATTRIBUTION row per order of `orders` (web orders and receipts), in input order.
    `chat` holds the schema.CHAT_TABLES frames; visitors, chatrooms, messages and identity_links are read."""
    n = len(orders)
    if not n:
        return schema.empty(schema.ATTRIBUTION)
    window = int(window_days) * US_PER_DAY
    rooms = external_chatrooms(chat["chatrooms"])
    order_t = micros(orders["placed_at"], "orders", orders["order_id"])

    with duckdb.connect() as con:
        oi, prk, rank = candidate_codes(con, orders, order_t, chat["visitors"], rooms, chat["identity_links"])
        register_counted_messages(con, chat["messages"])
        first, established, last = room_milestones(con, len(rooms))
        pair_last, oi, prk, rank, candidates, spoke = last_counted_message(con, n, order_t, oi, prk, rank,
                                                                          first, established, last)

    # per order: the eligible room with the latest last message; ties → smallest chatroom_id (byte order)
    best = np.full(n, -NEVER)
    np.maximum.at(best, oi, pair_last)
    top = np.flatnonzero(pair_last == best[oi])
    winner = np.full(n, -1)
    winner[oi[top]] = top                          # one of the tied pairs, fixed just below
    tied = top[(np.bincount(oi[top], minlength=n) > 1)[oi[top]]]
    if len(tied):
        ties = pd.DataFrame({"oi": oi[tied], "chatroom_id": take_text(rooms["chatroom_id"], prk[tied]), "pair": tied})
        ties = ties.sort_values(["oi", "chatroom_id"]).drop_duplicates("oi")
        winner[ties["oi"].to_numpy()] = ties["pair"].to_numpy()

    has_winner = winner >= 0
    last_message = np.where(has_winner, best, NAT)
    attributed = has_winner & (order_t - last_message <= window)
    has_identity = (orders["visitor_id"].notna().to_numpy() | orders["customer_id"].notna().to_numpy()
                    | normalise_emails(orders["email"]).notna().to_numpy())
    # the first reason that applies (REASONS order); -1: attributed
    reason = np.select([attributed, ~has_identity, candidates == 0, ~spoke, ~has_winner],
                       [-1, 0, 1, 2, 3], default=4)
    # attributed or outside_window: the winner's room and key explain it
    shown = np.where(has_winner, prk[winner] if len(prk) else -1, -1)
    match_rank = np.where(has_winner, rank[winner] if len(rank) else -1, -1)

    frame = pd.DataFrame({
        "order_id": orders["order_id"].astype("str").reset_index(drop=True),
        "sales_channel": orders["sales_channel"].astype("str").reset_index(drop=True),
        "placed_at": orders["placed_at"].astype(schema.TS).reset_index(drop=True),
        "attributed": attributed,
        "reason": take_text(REASON_NAMES, reason),
        "chatroom_id": take_text(rooms["chatroom_id"], shown),
        "member_id": take_text(rooms["member_id"], shown),
        "source": take_text(rooms["source"], shown),
        "touchpoint": take_text(rooms["channel"], shown),
        "match_key": take_text(MATCH_KEY_NAMES, match_rank),
        "last_message_at": pd.Series(last_message.view("datetime64[us]")).dt.tz_localize("UTC"),
        "window_days": np.full(n, int(window_days), dtype=np.int64),
    })
    return schema.conform(frame, schema.ATTRIBUTION)
