"""The attribution rule of attribution.md, for every order of some days at once.

For an order placed at T: its candidate chatrooms (identity.py) are eligible when both parties wrote a
counted message strictly before T, i.e. the chatroom's dialogue was established (first counted message of
the second party) before T; the winner is the eligible one whose last counted message before T is the most
recent (ties: smallest chatroom_id in byte order); the order is attributed when T − that message ≤ the
window (exact µs, inclusive). Otherwise exactly one reason, the first that applies.

What it reads is day-local: the chatrooms' milestones as of now (conversation_state), and the counted
messages of the attribution window before the orders' days. A chatroom's last message before T is its last
message when that is before T; otherwise the as-of message inside the window; otherwise (the chatroom was
silent through the whole window, then spoke again after T) its last active day before the window, from the
state's room days. All instants are int64 µs; string joins run in DuckDB, the rest is numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from chatsales import schema
from chatsales.identity import NAT, candidate_codes, external_chatrooms, hashed, micros, take_text
from chatsales.period import US_PER_DAY

NEVER = np.iinfo(np.int64).max  # "no such message": later than any instant
REASON_NAMES = pd.Series(schema.REASONS, dtype="str")
MATCH_KEY_NAMES = pd.Series(schema.MATCH_KEYS, dtype="str")
ROOM_COLUMNS = [
    "chatroom_id",
    "visitor_id",
    "member_id",
    "source",
    "channel",
    "first_visitor_at",
    "first_member_at",
    "established_at",
    "last_message_at",
]

# only messages from the room's establishment on, and before the latest T asked, can be an answer
ASOF_SQL = """
SELECT q.qi, x.t FROM q ASOF JOIN (
    SELECT c.rk, c.t FROM counted c JOIN span s ON c.rk = s.rk AND c.t >= s.since AND c.t < s.until
) x ON q.rk = x.rk AND q.t > x.t
"""


@dataclass
class ChatWindow:
    """What attribution reads of the chat for some days: the external chatrooms with their milestones,
    the counted messages of the attribution window (chatroom_id, sent_at), and where to look further back
    for a chatroom silent through the whole window (None: the messages are the whole history)."""

    rooms: pd.DataFrame
    messages: pd.DataFrame
    older: Callable[[pd.Series, pd.Series], pd.Series] | None = None


def _instants(values: pd.Series, missing: int) -> np.ndarray:
    us = values.astype(schema.TS).array.asi8.copy()
    us[us == NAT] = missing
    return us


def _register_window(con: duckdb.DuckDBPyConnection, rooms: pd.DataFrame, messages: pd.DataFrame) -> None:
    """Table `counted` (rk, t): the window's messages of the rooms (positions in `rooms`)."""
    rk = pd.Index(rooms["chatroom_id"]).get_indexer(messages["chatroom_id"])
    keep = rk >= 0
    t = micros(messages["sent_at"], "messages", messages["chatroom_id"])
    con.register("counted", pa.table({"rk": rk[keep].astype(np.int32), "t": t[keep]}))


def last_before(
    con: duckdb.DuckDBPyConnection, pair_rk: np.ndarray, pair_t: np.ndarray, established: np.ndarray
) -> np.ndarray:
    """For each (room, T): the room's last counted message strictly before T among the window's (NAT: none)."""
    out = np.full(len(pair_rk), NAT)
    if not len(pair_rk):
        return out
    rooms, inverse = np.unique(pair_rk, return_inverse=True)
    until = np.full(len(rooms), NAT)
    np.maximum.at(until, inverse, pair_t)
    con.register("span", pa.table({"rk": rooms.astype(np.int32), "since": established[rooms], "until": until}))
    con.register(
        "q", pa.table({"qi": np.arange(len(pair_rk), dtype=np.int64), "rk": pair_rk.astype(np.int32), "t": pair_t})
    )
    found = con.sql(ASOF_SQL).fetchnumpy()
    out[found["qi"]] = found["t"]
    return out


@dataclass
class Pairs:
    """The (order, candidate chatroom) pairs of an attribution, one entry each, as parallel arrays."""

    order: np.ndarray  # position of the order
    room: np.ndarray  # position of the chatroom in ChatWindow.rooms
    rank: np.ndarray  # strongest identity key reaching it (schema.MATCH_KEYS position)
    last: np.ndarray  # its last counted message before the order (µs; eligible pairs only)


def eligible_pairs(
    con: duckdb.DuckDBPyConnection,
    window: ChatWindow,
    order_t: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[Pairs, np.ndarray, np.ndarray]:
    """The eligible pairs (a dialogue established before the order) with their last message before it, and
    per order how many candidates it has and whether any party spoke in one before it."""
    n = len(order_t)
    oi, rk, rank = pairs
    rooms = window.rooms
    first = np.minimum(_instants(rooms["first_visitor_at"], NEVER), _instants(rooms["first_member_at"], NEVER))
    established = _instants(rooms["established_at"], NEVER)
    last = _instants(rooms["last_message_at"], NEVER)
    pt = order_t[oi]
    candidates = np.bincount(oi, minlength=n)
    spoke = np.bincount(oi, weights=first[rk] < pt, minlength=n) > 0
    keep = established[rk] < pt
    oi, rk, rank, pt = oi[keep], rk[keep], rank[keep], pt[keep]
    pair_last = last[rk]
    active = np.flatnonzero(pair_last >= pt)  # the room went on after T: look T up in the window
    pair_last[active] = last_before(con, rk[active], pt[active], established)
    silent = active[pair_last[active] == NAT]
    if len(silent):
        if window.older is None:
            raise ValueError(
                "attribution: a chatroom has no counted message before an order after its "
                "establishment, which the whole history cannot have"
            )
        before = pd.Series(pd.to_datetime(pt[silent], unit="us", utc=True)).astype(schema.TS)
        found = window.older(rooms["chatroom_id"].iloc[rk[silent]].reset_index(drop=True), before)
        pair_last[silent] = _instants(found, NAT)
    return Pairs(oi, rk, rank, pair_last), candidates, spoke


def candidate_pairs(
    orders: pd.DataFrame, rooms: pd.DataFrame, candidates: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """identity.order_candidates rows as (order position, room position, match rank), sorted, one per pair."""
    order_key = pd.MultiIndex.from_arrays([orders["sales_channel"].astype("str"), orders["order_id"].astype("str")])
    oi = order_key.get_indexer(
        pd.MultiIndex.from_arrays([candidates["sales_channel"].astype("str"), candidates["order_id"].astype("str")])
    )
    rk = pd.Index(rooms["chatroom_id"]).get_indexer(candidates["chatroom_id"])
    keep = (oi >= 0) & (rk >= 0)
    found = pd.DataFrame({"oi": oi[keep], "rk": rk[keep], "rank": candidates["match_rank"].to_numpy()[keep]})
    found = found.sort_values(["oi", "rk", "rank"]).drop_duplicates(["oi", "rk"])
    return (found["oi"].to_numpy(np.int64), found["rk"].to_numpy(np.int64), found["rank"].to_numpy(np.int8))


def attribute_orders(
    orders: pd.DataFrame,
    visitors: pd.DataFrame | None,
    identity_links: pd.DataFrame | None,
    window: ChatWindow,
    window_days: int,
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One schema.ATTRIBUTION row per order (web orders and receipts), in input order. `orders` and
    `visitors` carry keyed email hashes (`customer_hash`, `email_hash`); `candidates` (identity.py's pairs),
    when the identity step already found them (then `visitors` and `identity_links` are not needed)."""
    if candidates is None and (visitors is None or identity_links is None):
        raise ValueError("attribute_orders needs the candidates, or the visitors and identity links to find them")
    n = len(orders)
    if not n:
        return schema.empty(schema.ATTRIBUTION)
    span = int(window_days) * US_PER_DAY
    rooms = external_chatrooms(window.rooms).reset_index(drop=True)
    window = ChatWindow(rooms, window.messages, window.older)
    order_t = micros(orders["placed_at"], "orders", orders["order_id"])
    with duckdb.connect() as con:
        codes = (
            candidate_codes(con, orders, order_t, visitors, rooms, identity_links)
            if candidates is None
            else candidate_pairs(orders, rooms, candidates)
        )
        _register_window(con, rooms, window.messages)
        pairs, candidates, spoke = eligible_pairs(con, window, order_t, codes)

    # per order: the eligible room with the latest last message; ties → smallest chatroom_id (byte order)
    oi, prk = pairs.order, pairs.room
    best = np.full(n, -NEVER)
    np.maximum.at(best, oi, pairs.last)
    top = np.flatnonzero(pairs.last == best[oi])
    winner = np.full(n, -1)
    winner[oi[top]] = top  # one of the tied pairs, fixed just below
    tied = top[(np.bincount(oi[top], minlength=n) > 1)[oi[top]]]
    if len(tied):
        ties = pd.DataFrame({"oi": oi[tied], "chatroom_id": take_text(rooms["chatroom_id"], prk[tied]), "pair": tied})
        ties = ties.sort_values(["oi", "chatroom_id"]).drop_duplicates("oi")
        winner[ties["oi"].to_numpy()] = ties["pair"].to_numpy()

    has_winner = winner >= 0
    last_message = np.where(has_winner, best, NAT)
    attributed = has_winner & (order_t - last_message <= span)
    keyed = hashed(orders, "email", "customer_hash")
    has_identity = (
        keyed["visitor_id"].notna().to_numpy()
        | keyed["customer_id"].notna().to_numpy()
        | keyed["customer_hash"].notna().to_numpy()
    )
    # the first reason that applies (REASONS order); -1: attributed
    reason = np.select([attributed, ~has_identity, candidates == 0, ~spoke, ~has_winner], [-1, 0, 1, 2, 3], default=4)
    # attributed or outside_window: the winner's room and key explain it
    shown = np.where(has_winner, prk[winner] if len(prk) else -1, -1)
    match_rank = np.where(has_winner, pairs.rank[winner] if len(pairs.rank) else -1, -1)

    frame = pd.DataFrame(
        {
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
        }
    )
    return schema.conform(frame, schema.ATTRIBUTION)


def history_window(chat: Mapping[str, pd.DataFrame]) -> ChatWindow:
    """The whole chat history in memory as a window (tests, the reference path): milestones computed from
    every message, every counted message in the window."""
    from chatsales.conversation_state import ROOM_STATE, counted, room_state

    rooms = room_state(schema.empty(ROOM_STATE), chat["chatrooms"], chat["messages"], pd.Series(dtype=schema.TS))
    return ChatWindow(rooms, counted(chat["messages"])[["chatroom_id", "sent_at", "sender"]])


def attribute(orders: pd.DataFrame, chat: Mapping[str, pd.DataFrame], window_days: int) -> pd.DataFrame:
    """Every order of `orders` attributed against the whole chat history `chat` (schema.CHAT_TABLES frames;
    raw emails): the rule in one call, as the tests and the reference implementation use it."""
    return attribute_orders(orders, chat["visitors"], chat["identity_links"], history_window(chat), window_days)
