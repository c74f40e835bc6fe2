"""Fact tables: everything a KPI needs, for any period, derived once from the sources and the attribution.

Each fact has a `day` (reporting-timezone date of its date basis) so the reporting database can replace a
day in one transaction, and carries the columns the filters need (source, channel, member, role), so the
whole catalog can later be computed from the stored facts alone. Internal chatrooms are left out of every
fact; messages are the counted ones only (visitor or member, not automatic); no raw email appears.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.arrays import is_in
from chatsales.insights import LINE_FACT_COLUMNS, order_line_facts
from chatsales.period import NAT, to_us
from chatsales.publication import local_day, tables_of_days


@dataclass
class Facts:
    requests: pd.DataFrame
    chatrooms: pd.DataFrame
    messages: pd.DataFrame
    ratings: pd.DataFrame
    hook_events: pd.DataFrame
    member_sessions: pd.DataFrame
    orders: pd.DataFrame
    # lines of attributed sales (Insi-7); optional so facts built or stored before it still load
    order_lines: pd.DataFrame = field(default_factory=lambda: schema.empty(LINE_FACT_COLUMNS))

    def __post_init__(self):
        for name in ROOM_KEYED:
            setattr(self, name, with_room_key(getattr(self, name)))

    def tables(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_tables(cls, tables: Mapping[str, pd.DataFrame]) -> Facts:
        return cls(**{f.name: tables[f.name] for f in fields(cls) if f.name in tables})


# Facts whose KPIs only look at rows dated in the period (their date basis is their `day`), so a period query
# reads only those days of them, plus a margin of two days each side for facts published before a chatroom
# carried `answered_24h` (Chat-Card-9 then looks for a member message up to 24 h after a visitor message of
# the period, two local days later at most across a 23-hour day). What a KPI needs from after the period's
# end, where the days after may not be published yet, is a column of the whole-history facts instead
# (answered_24h, established_at, first_sale_at, given_at, email_filled_at…). Requests and chatrooms have
# several date bases (created, handled, established, last message…) and are read whole.
PERIOD_BOUND = ("messages", "ratings", "hook_events", "member_sessions", "orders", "order_lines")
# ...and because every day's KPIs read them whole, and later data changes their derived columns (a chatroom
# becomes a dialogue, gets a later last message), each publication replaces them whole with the snapshot its
# KPIs used: chatrooms started before the first partition, or on a day no run has published again, then
# still count as the daily partitions counted them.
WHOLE_HISTORY = ("requests", "chatrooms")
MARGIN_DAYS = 2
# Columns of the stored facts no KPI reads (KPIs join chatrooms on the integer `room`; `day` is only the key a
# publication replaces): the period query does not decode them, and every filter of a KPI then copies fewer
# columns. The pipeline tests compare every day's period query with the daily rows computed from the whole
# facts, so a KPI that needed one would fail.
QUERY_SKIPS = {
    name: ("day", *columns)
    for name, columns in {
        "requests": ("request_id", "chatroom_id", "visitor_id"),
        "chatrooms": ("chatroom_id", "request_id", "visitor_id", "first_member_at"),
        "messages": ("message_id", "chatroom_id"),
        "ratings": ("rating_id", "chatroom_id"),
        "hook_events": ("event_id",),
        "member_sessions": (),
        "order_lines": ("order_id", "chatroom_id", "line_no", "category", "first_shown_at"),
        "orders": (
            "order_id",
            "customer_hash",
            "currency",
            "status",
            "store_id",
            "reason",
            "chatroom_id",
            "match_key",
            "refunded",
            "is_cancelled",
            "window_days",
        ),
    }.items()
}


def facts_to_publish(
    facts: Mapping[str, pd.DataFrame], days: Sequence[date]
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(facts of `days`, snapshots): what a run publishes of its facts. The day-bound facts are replaced for
    the run's days; the whole-history ones (WHOLE_HISTORY) whole, as the run's KPIs saw them."""
    whole = {name: frame for name, frame in facts.items() if name in WHOLE_HISTORY}
    return tables_of_days({n: f for n, f in facts.items() if n not in whole}, days), whole


def days_to_read(first: date, last: date) -> tuple[date, date]:
    """The days of the PERIOD_BOUND facts a query of first..last needs."""
    return first - timedelta(days=MARGIN_DAYS), last + timedelta(days=MARGIN_DAYS)


# the facts the KPIs join on the chatroom: they carry `room`, an integer key of chatroom_id
ROOM_KEYED = ("chatrooms", "messages", "ratings")


def room_keys(chatroom_ids: pd.Series) -> np.ndarray:
    """A stable 64-bit integer per chatroom id (SipHash-2-4 of its text under pandas' fixed key), so the
    KPIs join and group chatrooms on integers: hashing 10 M id strings in every join cost more than the
    rest of a year's period query. Stored with the facts, so the period query never hashes again."""
    return pd.util.hash_pandas_object(chatroom_ids, index=False).to_numpy().view(np.int64)


def check_room_keys(rooms: pd.DataFrame) -> None:
    """Two chatroom ids with one key would be merged into one room: never seen (p ≈ n² / 2⁶⁵ for n rooms),
    but it would fail here, naming them, rather than be counted silently."""
    clash = rooms["room"].duplicated(keep=False) & ~rooms["chatroom_id"].duplicated(keep=False)
    if clash.any():
        raise ValueError(
            f"chat_platform: chatroom ids {rooms.loc[clash, 'chatroom_id'].tolist()[:4]} have the "
            "same 64-bit room key; rename one of them in the chat platform"
        )


def with_room_key(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with `room` (facts built by hand, or published before `room` existed, get it here)."""
    if "chatroom_id" not in frame.columns or ("room" in frame.columns and frame["room"].dtype == "int64"):
        return frame
    return frame.assign(room=room_keys(frame["chatroom_id"]))


def _instants_of(keys: pd.Series, mapping: pd.Series) -> pd.Series:
    """The timestamps `mapping` holds for `keys` (missing: NaT), typed even when `mapping` is empty: a brand's
    first day may have no message or no sale yet, and Series.map with an empty datetime Series fails inside
    pandas (it coerces the mapper to float64)."""
    found = pd.Series(mapping.reindex(keys.to_numpy()).array, index=keys.index)
    return pd.to_datetime(found, utc=True).astype("datetime64[us, UTC]")


def _ts(us: np.ndarray) -> pd.Series:
    return pd.Series(
        pd.to_datetime(pd.array(np.where(us == NAT, None, us), dtype="Int64"), unit="us", utc=True)
    ).astype("datetime64[us, UTC]")


def counted_messages(messages: pd.DataFrame) -> pd.DataFrame:
    """Messages that count as a party's message: sender visitor or member, not automatic."""
    keep = messages["sender"].isin(["visitor", "member"]).to_numpy() & ~messages["is_automatic"].to_numpy(bool)
    return messages[keep]


def _roles(members: pd.DataFrame, member_ids: pd.Series) -> pd.Series:
    roles = members.set_index("member_id")["role"]
    return pd.Series(roles.reindex(member_ids.to_numpy()).to_numpy(), index=member_ids.index).astype("Int64")


ROOM_FACT_COLUMNS = [
    "chatroom_id",
    "request_id",
    "visitor_id",
    "member_id",
    "source",
    "channel",
    "started_at",
    "is_blocked",
    "role",
    "request_created_at",
    "first_visitor_at",
    "first_member_at",
    "established_at",
    "last_message_at",
    "answered_24h",
    "day",
    "first_sale_at",
]


def chatroom_facts(state: pd.DataFrame, members: pd.DataFrame, first_sales: pd.Series, timezone: str) -> pd.DataFrame:
    """One row per external chatroom of the conversation state (its milestones as of now, and whether a member
    answered within 24 h of its first visitor message, looked up in every message the state has seen: a
    period's messages end with it), with the role of its member, its reporting day (started_at) and its first
    attributed sale (`first_sales`: by chatroom_id)."""
    rooms = state[~state["is_internal"].to_numpy(bool)].reset_index(drop=True)
    out = rooms.assign(
        role=_roles(members, rooms["member_id"]),
        day=local_day(rooms["started_at"], timezone),
        first_sale_at=_instants_of(rooms["chatroom_id"], first_sales),
    )
    return with_room_key(out[ROOM_FACT_COLUMNS])


def request_facts(state: pd.DataFrame, members: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """One row per request of the state (requests that opened only internal chatrooms are not there), with
    the role of the member who handled it and its reporting day (created_at)."""
    out = state.reset_index(drop=True)
    return out.assign(role=_roles(members, out["handled_by"]), day=local_day(out["created_at"], timezone))


def message_facts(messages: pd.DataFrame, rooms: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """The counted messages of the external chatrooms `rooms` (chatroom facts), with their reporting day."""
    msgs = counted_messages(messages)
    msgs = msgs[is_in(msgs["chatroom_id"], rooms["chatroom_id"])]
    out = msgs[["message_id", "chatroom_id", "sender", "sent_at", "kind", "product_id", "email_filled_at"]]
    return with_room_key(out.reset_index(drop=True).assign(day=lambda m: local_day(m["sent_at"], timezone)))


def rating_facts(ratings: pd.DataFrame, rooms: pd.DataFrame, members: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Ratings of the external chatrooms, by the day they were requested."""
    out = ratings[is_in(ratings["chatroom_id"], rooms["chatroom_id"])].reset_index(drop=True)
    return with_room_key(
        out.assign(day=local_day(out["requested_at"], timezone), role=_roles(members, out["member_id"]))
    )


def hook_facts(hooks: pd.DataFrame, members: pd.DataFrame, timezone: str) -> pd.DataFrame:
    out = hooks.reset_index(drop=True)
    return out.assign(day=local_day(out["at"], timezone), role=_roles(members, out["member_id"]))


def session_facts(sessions: pd.DataFrame, members: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Member sessions split at local midnights, so each piece belongs to one day (and unions stay per day)."""
    s = sessions[sessions["ended_at"] > sessions["started_at"]].reset_index(drop=True)
    first = local_day(s["started_at"], timezone)
    last = local_day(s["ended_at"] - pd.Timedelta(microseconds=1), timezone)
    n_days = (pd.to_datetime(last) - pd.to_datetime(first)).dt.days.to_numpy() + 1
    row = np.repeat(np.arange(len(s)), n_days)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(n_days) - n_days, n_days)
    day = pd.to_datetime(first).to_numpy()[row] + offset.astype("timedelta64[D]")
    day_start = pd.Series(pd.DatetimeIndex(day).tz_localize(timezone, ambiguous=True, nonexistent="shift_forward"))
    day_end = pd.Series(
        pd.DatetimeIndex(day + np.timedelta64(1, "D")).tz_localize(
            timezone, ambiguous=True, nonexistent="shift_forward"
        )
    )
    start_us = np.maximum(to_us(s["started_at"])[row], to_us(day_start))
    end_us = np.minimum(to_us(s["ended_at"])[row], to_us(day_end))
    out = pd.DataFrame(
        {
            "member_id": s["member_id"].to_numpy()[row],
            "started_at": _ts(start_us),
            "ended_at": _ts(end_us),
            "day": pd.DatetimeIndex(day).date,
        }
    )
    out["role"] = out["member_id"].map(members.set_index("member_id")["role"]).astype("Int64")
    return out


def first_visitor_messages(order_rows: pd.DataFrame, messages: pd.DataFrame) -> pd.Series:
    """Iadv-8: per order row, the first counted visitor message of its attributed chatroom sent within
    [placed_at − window, placed_at) (NaT: none, or not attributed). `messages` must reach back a window."""
    out = order_rows.reset_index(drop=True)
    attributed = out[out["attributed"].astype(bool)]
    probe = pd.DataFrame(
        {
            "row": attributed.index,
            "chatroom_id": attributed["chatroom_id"].astype("str"),
            "from": attributed["placed_at"] - pd.to_timedelta(attributed["window_days"], unit="D"),
        }
    )
    visitor = messages.loc[messages["sender"] == "visitor", ["chatroom_id", "sent_at"]]
    first = pd.merge_asof(
        probe.sort_values("from"),
        visitor.astype({"chatroom_id": "str"}).sort_values("sent_at"),
        left_on="from",
        right_on="sent_at",
        by="chatroom_id",
        direction="forward",
    )
    first = first.set_index("row")["sent_at"].reindex(out.index).astype("datetime64[us, UTC]")
    return first.where(first < out["placed_at"])


def order_facts(order_rows: pd.DataFrame, messages: pd.DataFrame | None, roles: pd.Series) -> pd.DataFrame:
    """The published order rows plus what sales KPIs need: the credited member's role, and for Iadv-8 the
    first counted visitor message of the attributed chatroom in the window (computed here from `messages`
    unless the rows carry it already)."""
    out = order_rows.reset_index(drop=True)
    out["role"] = out["member_id"].map(roles).astype("Int64")
    if "first_visitor_msg_at" not in out:
        out["first_visitor_msg_at"] = first_visitor_messages(out, messages)
    return out


def first_sales(order_rows: pd.DataFrame) -> pd.Series:
    """Each chatroom's first attributed sale (Chat-Card-86), from attributed_orders rows."""
    sales = order_rows[order_rows["attributed"].astype(bool) & order_rows["is_sale"].astype(bool)]
    return sales.groupby("chatroom_id")["placed_at"].min()


def build_facts(
    chat: Mapping[str, pd.DataFrame], order_rows: pd.DataFrame, timezone: str, order_lines: pd.DataFrame | None = None
) -> Facts:
    """Every fact table from the whole chat history in memory (schema.CHAT_TABLES frames), the published
    order rows (publication.py) and the order lines: the conversation state is derived from all of it at once,
    then the same fact builders run as for a day of the nightly pipeline."""
    from chatsales.conversation_state import ROOM_STATE, answers_within_24h, request_state, room_state

    created = chat["conversation_requests"].set_index("request_id")["created_at"]
    state = room_state(schema.empty(ROOM_STATE), chat["chatrooms"], chat["messages"], created)
    state["answered_24h"] = answers_within_24h(chat["messages"], state["chatroom_id"], state["first_visitor_at"])
    members = chat["members"]
    rooms = chatroom_facts(state, members, first_sales(order_rows), timezone)
    messages = message_facts(chat["messages"], rooms, timezone)
    orders = order_facts(order_rows, messages, members.set_index("member_id")["role"])
    lines = order_line_facts(orders, schema.empty(schema.ORDER_LINES) if order_lines is None else order_lines, messages)
    facts = Facts(
        requests=request_facts(request_state(chat["conversation_requests"], state), members, timezone),
        chatrooms=rooms,
        messages=messages,
        ratings=rating_facts(chat["ratings"], rooms, members, timezone),
        hook_events=hook_facts(chat["hook_events"], members, timezone),
        member_sessions=session_facts(chat["member_sessions"], members, timezone),
        orders=orders,
        order_lines=lines,
    )
    check_room_keys(facts.chatrooms)
    return Facts(**{name: in_fact_order(name, frame) for name, frame in facts.tables().items()})


# columns whose type a database round trip loses (SQLite keeps booleans as 0/1, integers as floats when
# a column has nulls); everything else is text, timestamps or amounts
STORED_TYPES = {
    "is_blocked": "bool",
    "attributed": "bool",
    "is_sale": "bool",
    "is_return": "bool",
    "is_cancelled": "bool",
    "is_first_order": "boolean",
    "role": "Int64",
    "score": "Int64",
    "window_days": "int64",
    "shown_before": "bool",
    "line_no": "int64",
    "answered_24h": "boolean",
}  # nullable: chatrooms published before it have none


def facts_from_stored(tables: Mapping[str, pd.DataFrame], *, in_order: bool = False) -> Facts:
    """Facts read back from the reporting database (`fact_*` tables), with their types restored, so the
    period query computes from exactly what the daily partitions computed from. `in_order`: the tables are
    already in ORDER (the per-day streams keep the published order, days ascending), so no sort."""
    restored = {name: restore_types(tables[name]) for name in ORDER if name in tables}  # order_lines: later
    if not in_order:
        restored = {name: in_fact_order(name, frame) for name, frame in restored.items()}
    return Facts(**restored)


def restore_types(frame: pd.DataFrame) -> pd.DataFrame:
    """A fact table read back from a database with the types its facts had when published."""
    types = {column: STORED_TYPES[column] for column in frame.columns if column in STORED_TYPES}
    types.update(
        {
            column: "str"
            for column in frame.columns
            if column not in types and column != "day" and frame[column].dtype == object
        }
    )
    return frame.astype(types)


def in_fact_order(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in ORDER (by the key columns it has: a table of another shape is sorted by day)."""
    key = [column for column in ORDER.get(name, ["day"]) if column in frame.columns]
    return frame.sort_values(key, kind="stable").reset_index(drop=True) if key else frame


# a stable row order, day first then by key: the same inputs give the same rows in the same order, whatever
# the source's; day first so the days published one by one, read back in day order, are already in it
ORDER = {
    name: ["day", *key]
    for name, key in {
        "requests": ["request_id"],
        "chatrooms": ["chatroom_id"],
        "messages": ["chatroom_id", "sent_at", "message_id"],
        "ratings": ["rating_id"],
        "hook_events": ["event_id"],
        "member_sessions": ["member_id", "started_at", "ended_at"],
        "orders": ["sales_channel", "order_id"],
        "order_lines": ["sales_channel", "order_id", "line_no"],
    }.items()
}
