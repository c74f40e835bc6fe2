"""The chain for a range of reporting days: what each step reads of the lake and the state, and computes.

Day-local: a day reads its own orders and chat activity, the chat activity of the attribution window before
it (and of two days after it, for the 24-hour answer of Chat-Card-9), and the state tables: chatrooms and
requests with their milestones, room days, products shown, the order index for first orders. The Dagster
assets and the re-attribution job both call these functions, so there is one chain.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
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
    counted_messages,
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
from chatsales.lake.store import Dataset, Lake
from chatsales.lake.where import dated_within, key_in
from chatsales.period import local_midnight_us
from chatsales.publication import attributed_order_rows, local_day
from chatsales.state_facts import StateFact, StateFacts, builders

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
    def bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The local midnights that open the first day and close the last one (UTC)."""
        start = pd.Timestamp(local_midnight_us(self.first, self.timezone), unit="us", tz="UTC")
        return start, self.end

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


def rooms_by_id(lake: Lake, ids) -> pd.DataFrame:
    """The state's chatrooms among `ids`: a lookup by key, whatever the length of the history."""
    return lake.read_matching(ROOMS, "chatroom_id", ids)


def chat_activity(lake: Lake, days: DayRange) -> pd.DataFrame:
    """The counted messages of the external chatrooms sent on the days (the messages fact)."""
    messages = lake.read_days(CHAT_DATASETS["messages"], days.first, days.last)
    rooms = rooms_by_id(lake, messages["chatroom_id"])
    return message_facts(messages, rooms[~rooms["is_internal"].to_numpy(bool)], days.timezone)


WINDOW_COLUMNS = ["chatroom_id", "sent_at", "sender"]


def window_activity(lake: Lake, days: DayRange) -> pd.DataFrame:
    """What attribution reads of the counted messages of external chatrooms sent on the days (its window,
    weeks of messages): chatroom, instant and sender, in the lake's order, read without the other columns."""
    messages = lake.read_days(
        CHAT_DATASETS["messages"], days.first, days.last, columns=[*WINDOW_COLUMNS, "is_automatic"]
    )
    messages = counted_messages(messages)
    rooms = lake.read_matching(ROOMS, "chatroom_id", messages["chatroom_id"], columns=["chatroom_id", "is_internal"])
    external = rooms.loc[~rooms["is_internal"].to_numpy(bool), "chatroom_id"]
    return messages.loc[is_in(messages["chatroom_id"], external), WINDOW_COLUMNS].reset_index(drop=True)


def members(lake: Lake) -> pd.DataFrame:
    return lake.read(CHAT_DATASETS["members"])


# --- identity and attribution ------------------------------------------------------------------------------


def identities(orders: pd.DataFrame, lake: Lake, catalog: Catalog) -> pd.DataFrame:
    """One row per (order, candidate chatroom) with the strongest key reaching it (identity.py). Only the
    visitors and links the orders' keys reach are looked up in the catalog, and only their chatrooms in the
    state, whatever the history."""
    ensure_chat_index(lake, catalog)
    visitors, links = visitors_reaching(catalog, orders), links_reaching(catalog, orders)
    reachable = pd.concat([orders["visitor_id"], visitors["visitor_id"], links["visitor_id"]], ignore_index=True)
    rooms = rooms_by_id(lake, catalog.rooms_of_visitors(reachable))  # a chatroom is reached by its visitor
    rooms = rooms[is_in(rooms["visitor_id"], reachable)]
    return order_candidates(orders, visitors, rooms, links)


def identity_summary(orders: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    return order_identities(orders, candidates)


def attribution_window(lake: Lake, rooms: pd.DataFrame, activity: pd.DataFrame) -> ChatWindow:
    """The chat an attribution of some days reads: the chatrooms' milestones, the window's counted messages,
    and the room days for a chatroom silent through the whole window."""
    return ChatWindow(
        rooms,
        activity[WINDOW_COLUMNS],
        older=lambda ids, before: last_message_before(lake, ids, before),
    )


def first_order_flags(orders: pd.DataFrame, catalog: Catalog) -> pd.Series:
    """Whether each order is its customer's first sale among every order read (NA: no customer known)."""
    customers = customer_key(orders)
    first = index_first_sales(catalog.first_sales(customers.dropna()))
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
    """The attributed_orders rows of the days' orders (only the candidate chatrooms, those of `window`, can
    claim one)."""
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
    rated = rooms_by_id(lake, ratings["chatroom_id"])
    external = rated[~rated["is_internal"].to_numpy(bool)]
    hooks = lake.read_days(CHAT_DATASETS["hook_events"], days.first, days.last)
    sessions = lake.read_days(CHAT_DATASETS["member_sessions"], days.first - timedelta(days=session_days), days.last)
    pieces = session_facts(sessions, people, tz)
    pieces = pieces[pieces["day"].isin(set(days.days))].reset_index(drop=True)
    orders = order_facts(rows, window_messages, people.set_index("member_id")["role"])
    credited = rows.loc[rows["attributed"].astype(bool), "chatroom_id"]
    shown = lake.read_matching(ROOM_PRODUCT, "chatroom_id", credited)
    return {
        "ratings": rating_facts(ratings, external, people, tz),
        "hook_events": hook_facts(hooks, people, tz),
        "member_sessions": pieces,
        "orders": orders,
        "order_lines": order_line_facts(orders, lines, shown=shown),
    }


ROOM_INSTANTS = ("started_at", "established_at", "first_visitor_at", "last_message_at")
REQUEST_INSTANTS = ("created_at", "handled_at", "canceled_at")


def relevant_state(
    lake: Lake, days: DayRange, activity: pd.DataFrame, ratings: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chatrooms and requests a KPI of the days can read: those with a date basis inside them (a day of
    margin each side), and the chatrooms of their messages and ratings. The others cannot change a KPI of
    these days, so they are not read: a day's KPIs cost the same whatever the length of the history."""
    start = pd.Timestamp(local_midnight_us(days.first - timedelta(days=1), days.timezone), unit="us", tz="UTC")
    end = days.end + pd.Timedelta(days=1)
    ids = pd.concat([activity["chatroom_id"], ratings["chatroom_id"]], ignore_index=True)
    rooms = lake.read(ROOMS, where=dated_within(ROOM_INSTANTS, start, end) | key_in("chatroom_id", ids))
    return rooms, lake.read(REQUESTS, where=dated_within(REQUEST_INSTANTS, start, end))


def kpi_facts(
    rooms: pd.DataFrame,
    requests: pd.DataFrame,
    people: pd.DataFrame,
    first_sales: pd.Series,
    activity: pd.DataFrame,
    facts: dict[str, pd.DataFrame],
    timezone: str,
) -> Facts:
    """Everything the KPIs of the days read: the state's chatrooms and requests (`relevant_state`), the
    chat activity of the days and of the two days after them, the days' other facts."""
    return Facts(
        requests=request_facts(requests, people, timezone),
        chatrooms=chatroom_facts(rooms, people, first_sales, timezone),
        messages=activity,
        **facts,
    )


def state_facts(lake: Lake, people: pd.DataFrame, timezone: str) -> StateFacts:
    """The state facts of a publication, read from the state's files only where it needs them: each month's
    digest is made from its file's bytes; the rows are read for the months it rebuilds and the days of the
    chatrooms it names."""

    def fact(ds: Dataset, dated_by: str, build) -> StateFact:
        def load(months, days) -> pd.DataFrame:
            labels = {f"{day:%Y-%m}" for day in days} - set(months)
            whole = lake.read(ds, sorted(months))
            if not labels:
                return whole
            on_days = functools.reduce(
                operator.or_,
                (dated_within([dated_by], *DayRange(d, d, timezone).bounds) for d in sorted(days)),
            )
            found = lake.read(ds, sorted(labels), where=on_days)
            found = found[local_day(found[dated_by], timezone).isin(set(days)).to_numpy()]
            parts = pd.concat([whole, found], ignore_index=True)
            order = np.argsort(lake.labels_for(ds, parts), kind="stable")
            return parts.iloc[order].reset_index(drop=True)

        def days_of(ids) -> set[date]:
            return set(local_day(lake.read_matching(ds, "chatroom_id", ids)[dated_by], timezone).dropna())

        return StateFact(dated_by, build, lambda: lake.digests(ds), load, days_of)

    datasets = {"requests": REQUESTS, "chatrooms": ROOMS}
    facts = {name: fact(datasets[name], *how) for name, how in builders(people, timezone).items()}
    return StateFacts(facts, timezone, StateFacts.stamp_of(people, timezone))


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
