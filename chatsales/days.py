"""The chain for a range of reporting days: what each step reads of the lake and the state, and computes.

Day-local: a day reads its own orders and chat activity, the chat activity of the attribution window before
it (and of two days after it, for the 24-hour answer of Chat-Card-9), and the state tables: chatrooms and
requests with their milestones, room days, products shown, the order index for first orders. The Dagster
assets and the re-attribution job both call these functions, so there is one chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from chatsales import schema
from chatsales.arrays import is_in
from chatsales.attribution import ChatWindow, attribute_orders
from chatsales.campaigns import credit_orders
from chatsales.conversation_state import REQUESTS, ROOM_PRODUCT, ROOMS, last_message_before
from chatsales.customer_keys import order_identities
from chatsales.extract.orders import customer_key
from chatsales.extract.orders import first_sales as index_first_sales
from chatsales.facts import (
    Facts,
    chatroom_facts,
    hook_facts,
    message_facts,
    order_facts,
    rating_facts,
    request_facts,
    session_facts,
)
from chatsales.identity import order_candidates
from chatsales.insights import order_line_facts
from chatsales.lake.catalog import Catalog
from chatsales.lake.chat_index import ensure_chat_index, links_reaching, visitors_reaching
from chatsales.lake.datasets import CAMPAIGNS, CHAT_DATASETS, CLICKS, ORDER_DATASETS
from chatsales.lake.store import Lake
from chatsales.period import local_midnight_us
from chatsales.publication import attributed_order_rows

ANSWER_DAYS = 2  # Chat-Card-9 looks up to 24 h after a first visitor message: two local days at most
SESSION_DAYS_KEY = "longest_session_days"


@dataclass(frozen=True)
class DayRange:
    """Consecutive reporting days first..last in a time zone."""

    first: date
    last: date
    timezone: str

    @classmethod
    def of(cls, days: Sequence[date], timezone: str) -> DayRange:
        days = sorted(days)
        if (days[-1] - days[0]).days + 1 != len(set(days)):
            raise ValueError(f"days {days[0]}..{days[-1]} are not consecutive")
        return cls(days[0], days[-1], timezone)

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def widened(self, before: int = 0, after: int = 0) -> DayRange:
        return DayRange(self.first - timedelta(days=before), self.last + timedelta(days=after), self.timezone)

    @property
    def end(self) -> pd.Timestamp:
        """The local midnight after the last day (UTC)."""
        return pd.Timestamp(local_midnight_us(self.last + timedelta(days=1), self.timezone), unit="us", tz="UTC")

    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}..{self.last}"


# --- reading ---------------------------------------------------------------------------------------------


def orders_of(lake: Lake, days: DayRange) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Web orders and receipts placed on the days (latest versions, lake shape), and their lines."""
    orders, lines = [], []
    for datasets in ORDER_DATASETS.values():
        orders.append(lake.read_days(datasets["orders"], days.first, days.last))
        lines.append(lake.read_days(datasets["order_lines"], days.first, days.last))
    return pd.concat(orders, ignore_index=True), pd.concat(lines, ignore_index=True)


@dataclass(frozen=True)
class StateRead:
    """The state tables as read, and a digest of each of their partitions (local months) from the bytes read."""

    rooms: pd.DataFrame
    requests: pd.DataFrame
    months: dict[str, dict[str, tuple[str, int]]]  # state fact (chatrooms, requests) → month → (digest, rows)


_STATE_READ: dict[str, tuple[tuple, StateRead]] = {}


def state_read(lake: Lake) -> StateRead:
    """The state tables, whole (one row per chatroom and request, never per message). Kept in the process
    while the state's files are unchanged: every daily asset of a run reads them, and only the state asset
    writes them. Callers must not modify the frames."""
    files = sorted(f for ds in (ROOMS, REQUESTS) for f in lake.folder(ds).glob("*/*.parquet"))
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    kept = _STATE_READ.get(str(lake.root))
    if kept is None or kept[0] != stamp:
        (rooms, room_months), (requests, request_months) = lake.read_digested(ROOMS), lake.read_digested(REQUESTS)
        read = StateRead(rooms, requests, {"chatrooms": room_months, "requests": request_months})
        kept = _STATE_READ[str(lake.root)] = (stamp, read)
    return kept[1]


def conversation_state(lake: Lake) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(chatrooms, requests): the state tables, whole (`state_read`)."""
    read = state_read(lake)
    return read.rooms, read.requests


def chat_activity(lake: Lake, rooms: pd.DataFrame, days: DayRange) -> pd.DataFrame:
    """The counted messages of the external chatrooms sent on the days (the messages fact)."""
    messages = lake.read_days(CHAT_DATASETS["messages"], days.first, days.last)
    return message_facts(messages, external_rooms_among(rooms, messages["chatroom_id"]), days.timezone)


def external_rooms_among(rooms: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """The external chatrooms of the state among `ids`: the few a day's rows name, selected rather than the
    whole state copied and hashed again for each day."""
    reached = rooms[is_in(rooms["chatroom_id"], ids)]
    return reached[~reached["is_internal"].to_numpy(bool)]


def members(lake: Lake) -> pd.DataFrame:
    return lake.read(CHAT_DATASETS["members"])


# --- identity and attribution ------------------------------------------------------------------------------


def identities(orders: pd.DataFrame, lake: Lake, catalog: Catalog, rooms: pd.DataFrame) -> pd.DataFrame:
    """One row per (order, candidate chatroom) with the strongest key reaching it (identity.py). Only the
    visitors and links the orders' keys reach are looked up in the catalog, whatever the history."""
    ensure_chat_index(lake, catalog)
    visitors, links = visitors_reaching(catalog, orders), links_reaching(catalog, orders)
    reachable = pd.concat([orders["visitor_id"], visitors["visitor_id"], links["visitor_id"]], ignore_index=True)
    rooms = rooms[is_in(rooms["visitor_id"], reachable)]  # a chatroom is reached by its visitor
    return order_candidates(orders, visitors, rooms, links)


def identity_summary(orders: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    return order_identities(orders, candidates)


def attribution_window(lake: Lake, rooms: pd.DataFrame, activity: pd.DataFrame) -> ChatWindow:
    """The chat an attribution of some days reads: the chatrooms' milestones, the window's counted messages,
    and the room days for a chatroom silent through the whole window."""
    return ChatWindow(
        rooms,
        activity[["chatroom_id", "sent_at", "sender"]],
        older=lambda ids, before: last_message_before(lake, ids, before),
    )


def first_order_flags(orders: pd.DataFrame, catalog: Catalog) -> pd.Series:
    """Whether each order is its customer's first sale among every order read (NA: no customer known)."""
    customers = customer_key(orders)
    first = index_first_sales(catalog.orders_of("customer", customers.dropna()))
    mine = first.set_index("customer").reindex(customers.to_numpy())
    is_first = (mine["order_id"].to_numpy() == orders["order_id"].to_numpy()) & (
        mine["sales_channel"].to_numpy() == orders["sales_channel"].to_numpy()
    )
    return pd.Series(is_first, index=orders.index, dtype="boolean").mask(customers.isna())


def attribute_days(
    orders: pd.DataFrame,
    candidates: pd.DataFrame,
    lake: Lake,
    window: ChatWindow,
    window_days: int,
    catalog: Catalog,
    timezone: str,
) -> pd.DataFrame:
    """The attributed_orders rows of the days' orders (only the candidate chatrooms can claim one)."""
    reached = window.rooms[is_in(window.rooms["chatroom_id"], candidates["chatroom_id"])]
    window = ChatWindow(reached, window.messages, window.older)
    attribution = attribute_orders(orders, None, None, window, window_days, candidates=candidates)
    return attributed_order_rows(
        orders, attribution, timezone=timezone, first_orders=first_order_flags(orders, catalog)
    )


# --- facts and KPIs -----------------------------------------------------------------------------------------


def longest_session_days(catalog: Catalog) -> int:
    return int(catalog.get(SESSION_DAYS_KEY) or 1)


def day_facts(
    lake: Lake,
    days: DayRange,
    rooms: pd.DataFrame,
    people: pd.DataFrame,
    rows: pd.DataFrame,
    lines: pd.DataFrame,
    window_messages: pd.DataFrame,
    session_days: int,
) -> dict[str, pd.DataFrame]:
    """The facts of the days that are not chat activity: ratings, hook events, member sessions (the pieces
    of the days, sessions being split at local midnight), orders with their attribution, and the lines of
    attributed sales (shown before the order: the state's products shown)."""
    tz = days.timezone
    ratings = lake.read_days(CHAT_DATASETS["ratings"], days.first, days.last)
    external = external_rooms_among(rooms, ratings["chatroom_id"])
    hooks = lake.read_days(CHAT_DATASETS["hook_events"], days.first, days.last)
    sessions = lake.read_days(CHAT_DATASETS["member_sessions"], days.first - timedelta(days=session_days), days.last)
    pieces = session_facts(sessions, people, tz)
    pieces = pieces[pieces["day"].isin(set(days.days))].reset_index(drop=True)
    orders = order_facts(rows, window_messages, people.set_index("member_id")["role"])
    shown = lake.read(ROOM_PRODUCT)
    return {
        "ratings": rating_facts(ratings, external, people, tz),
        "hook_events": hook_facts(hooks, people, tz),
        "member_sessions": pieces,
        "orders": orders,
        "order_lines": order_line_facts(orders, lines, shown=shown),
    }


ROOM_INSTANTS = ("started_at", "established_at", "first_visitor_at", "last_message_at")
REQUEST_INSTANTS = ("created_at", "handled_at", "canceled_at")


def _touching(frame: pd.DataFrame, columns, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    inside = pd.Series(False, index=frame.index)
    for column in columns:
        inside |= (frame[column] >= start) & (frame[column] < end)
    return inside


def relevant_state(
    rooms: pd.DataFrame, requests: pd.DataFrame, days: DayRange, activity: pd.DataFrame, ratings: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chatrooms and requests a KPI of the days can read: those with a date basis inside them (a day of
    margin each side), and the chatrooms of their messages and ratings. The others cannot change a KPI of
    these days, so a day's KPIs cost the same whatever the length of the history."""
    start = pd.Timestamp(local_midnight_us(days.first - timedelta(days=1), days.timezone), unit="us", tz="UTC")
    end = days.end + pd.Timedelta(days=1)
    keep = (
        _touching(rooms, ROOM_INSTANTS, start, end)
        | is_in(rooms["chatroom_id"], activity["chatroom_id"])
        | is_in(rooms["chatroom_id"], ratings["chatroom_id"])
    )
    return rooms[keep.to_numpy()], requests[_touching(requests, REQUEST_INSTANTS, start, end).to_numpy()]


def kpi_facts(
    rooms: pd.DataFrame,
    requests: pd.DataFrame,
    people: pd.DataFrame,
    first_sales: pd.Series,
    activity: pd.DataFrame,
    facts: dict[str, pd.DataFrame],
    timezone: str,
) -> Facts:
    """Everything the KPIs of the days read: the state's chatrooms and requests (see `relevant_state`), the
    chat activity of the days and of the two days after them, the days' other facts."""
    return Facts(
        requests=request_facts(requests, people, timezone),
        chatrooms=chatroom_facts(rooms, people, first_sales, timezone),
        messages=activity,
        **facts,
    )


def merged_first_sales(published: pd.Series, rows: pd.DataFrame) -> pd.Series:
    """Each chatroom's first attributed sale: from the days published outside this run (`published`) and the
    run's own rows."""
    sales = rows[rows["attributed"].astype(bool) & rows["is_sale"].astype(bool)]
    mine = sales.groupby("chatroom_id")["placed_at"].min()
    both = pd.concat([published.astype(schema.TS), mine.astype(schema.TS)])
    return both.groupby(level=0).min()


def campaign_orders(lake: Lake, rows: pd.DataFrame, days: DayRange, window_days: int) -> pd.DataFrame:
    """Smgo-1: the days' sales credited to the campaign of the customer's latest click in the window."""
    clicks = lake.read_days(CLICKS, days.first - timedelta(days=window_days + 1), days.last)
    campaigns = lake.read(CAMPAIGNS).set_index("campaign_id")
    hashed = clicks.assign(
        kind=clicks["campaign_id"].map(campaigns["kind"]).astype("str"),
        campaign_name=clicks["campaign_id"].map(campaigns["name"]).astype("str"),
    )
    hashed = hashed[hashed["customer_hash"].notna()].reset_index(drop=True)
    return credit_orders(rows, hashed, window_days)
