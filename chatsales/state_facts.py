"""The state facts (one row per chatroom and per request, as of now) built only for what a publication must
rewrite, so that publishing a night costs what changed rather than the whole history.

The reporting database keeps each state fact as one stream per reporting day, and remembers, per local month,
a digest of the rows the month's facts were built from (`state_sources`). A publication rebuilds the months
whose digest moved (the current month, where tonight's chatrooms start, and the months whose chatrooms or
requests late messages changed) and the days of the chatrooms whose first attributed sale it may move. Every
month's digest also holds what all facts depend on (the members' roles, the time zone, the version of the
fact builders), so a change there rebuilds everything once, as an upgrade that changes the facts does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.arrays import is_in
from chatsales.facts import chatroom_facts, request_facts
from chatsales.publication import local_day

# bump when chatroom_facts or request_facts compute other values from the same state rows (a changed set of
# columns or dtypes is seen without it): every published month is then rebuilt once
BUILDERS_VERSION = "1"
NO_MONTH = "undated"


def month_labels(instants: pd.Series, timezone: str) -> np.ndarray:
    """The local month (YYYY-MM) of each UTC instant; NO_MONTH where there is none."""
    local = instants.dt.tz_convert(timezone)
    number = (local.dt.year * 100 + local.dt.month).fillna(0).astype("int64").to_numpy()
    found, codes = np.unique(number, return_inverse=True)
    names = np.array([f"{n // 100:04d}-{n % 100:02d}" if n else NO_MONTH for n in found], dtype=object)
    return names[codes.reshape(-1)]


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha1()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """The digest of a small frame's content, columns and dtypes included."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy() if len(frame) else np.empty(0, "uint64")
    return digest(repr(list(frame.dtypes.astype(str).items())), hashed.tobytes())


@dataclass(frozen=True)
class StateFact:
    """One state fact: what dates its rows, its builder (rows → facts with `day`), and how its rows are found:
    `digests` (per local month, a digest of the month's rows), `load` (the rows dated in some months or on
    some local days) and `days_of` (the local days of the rows of some chatrooms)."""

    dated_by: str
    build: Callable[[pd.DataFrame], pd.DataFrame]
    digests: Callable[[], dict[str, str]]
    load: Callable[[Collection[str], Collection[date]], pd.DataFrame]
    days_of: Callable[[Collection[str]], set[date]]


def in_memory(rows: pd.DataFrame, dated_by: str, build: Callable, timezone: str) -> StateFact:
    """A state fact whose rows are all in memory (tests, benchmarks, facts built whole)."""
    dated = rows[dated_by]
    months = month_labels(dated, timezone)

    def digests() -> dict[str, str]:
        hashed = pd.util.hash_pandas_object(rows, index=False).to_numpy()
        shape = repr(list(rows.dtypes.astype(str).items()))
        order = np.argsort(months, kind="stable")
        labels, starts = np.unique(months[order], return_index=True)
        parts = np.split(hashed[order], starts[1:])
        return {label: digest(shape, part.tobytes()) for label, part in zip(labels, parts)}

    def load(wanted: Collection[str], days: Collection[date]) -> pd.DataFrame:
        keep = is_in(pd.Series(months), list(wanted))
        if len(days):
            keep |= local_day(dated, timezone).isin(set(days)).to_numpy()
        return rows[keep].reset_index(drop=True)

    def days_of(chatroom_ids: Collection[str]) -> set[date]:
        return set(local_day(dated[is_in(rows["chatroom_id"], list(chatroom_ids))], timezone).dropna())

    return StateFact(dated_by, build, digests, load, days_of)


def builders(people: pd.DataFrame, timezone: str) -> dict[str, tuple[str, Callable]]:
    """Per state fact, what dates its rows and its builder (the chatrooms' first sales are added by the
    publication, from what it publishes)."""
    no_sales = pd.Series(dtype=schema.TS)
    return {
        "requests": ("created_at", lambda rows: request_facts(rows, people, timezone)),
        "chatrooms": (
            "started_at",
            lambda rows: chatroom_facts(rows, people, no_sales, timezone).drop(columns="first_sale_at"),
        ),
    }


class StateFacts:
    """The state facts of a publication, built on demand for the months and chatrooms it names."""

    def __init__(self, facts: Mapping[str, StateFact], timezone: str, stamp: str):
        self.facts, self.timezone, self.stamp = dict(facts), timezone, stamp

    @staticmethod
    def stamp_of(people: pd.DataFrame, timezone: str) -> str:
        """What every state fact depends on besides its rows: the builders' version, the zone, the members."""
        return digest(BUILDERS_VERSION, timezone, frame_digest(people))

    @classmethod
    def of_state(cls, rooms: pd.DataFrame, requests: pd.DataFrame, people: pd.DataFrame, timezone: str) -> StateFacts:
        """The facts of the conversation state held in memory."""
        rows = {"requests": requests, "chatrooms": rooms}
        facts = {
            name: in_memory(rows[name], dated_by, build, timezone)
            for name, (dated_by, build) in builders(people, timezone).items()
        }
        return cls(facts, timezone, cls.stamp_of(people, timezone))

    @classmethod
    def of_facts(cls, tables: Mapping[str, pd.DataFrame]) -> StateFacts:
        """State facts already built (tests, benchmarks): their `day` is what dates them."""
        facts = {
            name: in_memory(
                frame.assign(_dated=pd.to_datetime(frame["day"]).dt.tz_localize("UTC")),
                "_dated",
                lambda rows: rows.drop(columns="_dated"),
                "UTC",
            )
            for name, frame in tables.items()
        }
        return cls(facts, "UTC", digest(BUILDERS_VERSION))

    def names(self) -> list[str]:
        return list(self.facts)

    def month_digests(self, name: str) -> dict[str, str]:
        """Per local month of the fact's rows, a digest of those rows and of what every fact depends on."""
        return {label: digest(self.stamp, rows) for label, rows in self.facts[name].digests().items()}

    def build(self, name: str, months: Collection[str], chatroom_ids: Collection[str] = ()) -> pd.DataFrame:
        """The facts of every row of `months`, and of every row of the days of `chatroom_ids`'s chatrooms
        (a day's stream holds all its rows)."""
        fact = self.facts[name]
        days = fact.days_of(chatroom_ids) if len(chatroom_ids) else set()
        return fact.build(fact.load(months, days))
