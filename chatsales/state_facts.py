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
    """One state fact: the rows it is built from, what dates them, and its builder (rows → facts with `day`)."""

    rows: pd.DataFrame
    dated_by: str
    build: Callable[[pd.DataFrame], pd.DataFrame]


class StateFacts:
    """The state facts of a publication, built on demand for the months and chatrooms it names."""

    def __init__(
        self,
        facts: Mapping[str, StateFact],
        timezone: str,
        stamp: str,
        read_months: Mapping[str, Mapping[str, tuple[str, int]]] | None = None,
    ):
        self.facts, self.timezone, self.stamp = dict(facts), timezone, stamp
        self.read_months = dict(read_months or {})
        self._labels: dict[str, np.ndarray] = {}

    def _month_rows(self, name: str, months: Collection[str]) -> np.ndarray:
        """The positions of the fact's rows dated in `months`: slices of the rows as read, month by month,
        when the read says where each month is; else found by each row's month."""
        if name in self.read_months:
            bounds, start = {}, 0
            for label, (_, rows) in self.read_months[name].items():  # a loop over months
                bounds[label], start = (start, start + rows), start + rows
            parts = [np.arange(*bounds[m]) for m in sorted(months) if m in bounds]
            return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        if name not in self._labels:
            fact = self.facts[name]
            self._labels[name] = month_labels(fact.rows[fact.dated_by], self.timezone)
        return np.flatnonzero(is_in(pd.Series(self._labels[name]), list(months)))

    @classmethod
    def of_state(
        cls,
        rooms: pd.DataFrame,
        requests: pd.DataFrame,
        people: pd.DataFrame,
        timezone: str,
        read_months: Mapping[str, Mapping[str, tuple[str, int]]] | None = None,
    ) -> StateFacts:
        """The facts of the conversation state (the chatrooms' first sales are added by the publication, from
        what it publishes). `read_months`: per fact and local month, in the order read, a digest of the
        month's rows as read and their number (the state's files are partitioned by the local month of what
        dates the facts): what spares hashing the rows and finding each row's month."""
        no_sales = pd.Series(dtype=schema.TS)
        facts = {
            "requests": StateFact(requests, "created_at", lambda rows: request_facts(rows, people, timezone)),
            "chatrooms": StateFact(
                rooms,
                "started_at",
                lambda rows: chatroom_facts(rows, people, no_sales, timezone).drop(columns="first_sale_at"),
            ),
        }
        return cls(facts, timezone, digest(BUILDERS_VERSION, timezone, frame_digest(people)), read_months)

    @classmethod
    def of_facts(cls, tables: Mapping[str, pd.DataFrame]) -> StateFacts:
        """State facts already built (tests, benchmarks): their `day` is what dates them."""
        facts = {
            name: StateFact(
                frame.assign(_dated=pd.to_datetime(frame["day"]).dt.tz_localize("UTC")),
                "_dated",
                lambda rows: rows.drop(columns="_dated"),
            )
            for name, frame in tables.items()
        }
        return cls(facts, "UTC", digest(BUILDERS_VERSION))

    def names(self) -> list[str]:
        return list(self.facts)

    def month_digests(self, name: str) -> dict[str, str]:
        """Per local month of the fact's rows, a digest of those rows and of what every fact depends on."""
        if name in self.read_months:
            return {label: digest(self.stamp, read) for label, (read, _) in self.read_months[name].items()}
        fact = self.facts[name]
        if name not in self._labels:
            self._labels[name] = month_labels(fact.rows[fact.dated_by], self.timezone)
        months = self._labels[name]
        hashed = pd.util.hash_pandas_object(fact.rows, index=False).to_numpy()
        shape = repr(list(fact.rows.dtypes.astype(str).items()))
        order = np.argsort(months, kind="stable")
        labels, starts = np.unique(months[order], return_index=True)
        groups = np.split(hashed[order], starts[1:])
        return {label: digest(self.stamp, shape, rows.tobytes()) for label, rows in zip(labels, groups)}

    def build(self, name: str, months: Collection[str], chatroom_ids: Collection[str] = ()) -> pd.DataFrame:
        """The facts of every row of `months`, and of every row of the days of `chatroom_ids`'s chatrooms
        (a day's stream holds all its rows)."""
        fact = self.facts[name]
        rows, dated = fact.rows, fact.rows[fact.dated_by]
        keep = np.zeros(len(rows), dtype=bool)
        keep[self._month_rows(name, months)] = True
        if len(chatroom_ids) and "chatroom_id" in rows:
            days = set(local_day(dated[is_in(rows["chatroom_id"], list(chatroom_ids))], self.timezone).dropna())
            others = self._month_rows(name, {f"{d:%Y-%m}" for d in days})
            others = others[~keep[others]]
            keep[others[local_day(dated.iloc[others], self.timezone).isin(days).to_numpy()]] = True
        return fact.build(rows[keep].reset_index(drop=True))
