"""What the pipeline has seen of each source, and what arrived since: the late-data sensor's eyes.

`Watermarks` is small and JSON-able, so it lives in the Dagster sensor cursor (the instance), not in a file
of ours: per chat table and timestamp column the largest value the database held, per orders / POS file
its content hash, the newest order `updated_at`, and the last publication seen in the reporting database.

Each scan returns the changes as rows (source, what, day, forward): `day` is the reporting day whose
attributions or fluctuating indicators the change affects, by the date bases of kpis.md (a late rating →
the day of its rating request, a late question → the request's day, a new message in an old chatroom →
the chatroom's and its request's days, a late store file → its receipts' days...). `forward` marks a change
that affects that day and every later one (an identity link re-attributes the visitor's later orders).

Chat marks are read first and the changes selected between the old and the new mark, so a row written
while the scan runs is seen by the next scan, never lost and never counted twice.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from chatsales.contract import parse_instants

CHANGE_COLUMNS = ["source", "what", "day", "forward"]

# (table, column) → the query of what changed: each selected column is an instant whose reporting day is
# affected, named by the change it stands for. :old and :new bound the marked column.
CHAT_CHANGES: dict[tuple[str, str], str] = {
    ("messages", "sent_at"):
        "SELECT m.sent_at AS new_message, c.started_at AS message_in_older_chatroom, "
        "r.created_at AS message_on_older_request FROM messages m "
        "JOIN chatrooms c ON c.chatroom_id = m.chatroom_id "
        "LEFT JOIN conversation_requests r ON r.request_id = c.request_id WHERE {range}",
    ("messages", "email_filled_at"): "SELECT sent_at AS late_email_fill FROM messages WHERE {range}",
    ("ratings", "requested_at"): "SELECT requested_at AS new_rating_request FROM ratings WHERE {range}",
    ("ratings", "given_at"): "SELECT requested_at AS late_rating FROM ratings WHERE {range}",
    ("conversation_requests", "created_at"): "SELECT created_at AS new_request FROM conversation_requests "
                                             "WHERE {range}",
    ("conversation_requests", "question_at"): "SELECT created_at AS late_question FROM conversation_requests "
                                              "WHERE {range}",
    ("conversation_requests", "handled_at"): "SELECT created_at AS request_handled_late, handled_at AS "
                                             "request_handled FROM conversation_requests WHERE {range}",
    ("conversation_requests", "canceled_at"): "SELECT created_at AS request_canceled FROM conversation_requests "
                                              "WHERE {range}",
    ("chatrooms", "started_at"): "SELECT c.started_at AS new_chatroom, r.created_at AS chatroom_of_older_request "
                                 "FROM chatrooms c LEFT JOIN conversation_requests r "
                                 "ON r.request_id = c.request_id WHERE {range}",
    ("hook_events", "at"): "SELECT at AS hook_event FROM hook_events WHERE {range}",
    ("member_sessions", "ended_at"): "SELECT started_at AS member_session, ended_at AS member_session_end "
                                     "FROM member_sessions WHERE {range}",
    ("identity_links", "linked_at"): "SELECT linked_at AS identity_link FROM identity_links WHERE {range}",
}
FORWARD = {"identity_link"}


@dataclass
class Watermarks:
    chat: dict[str, str | None] = field(default_factory=dict)        # "table.column" → max value as stored
    order_files: dict[str, str] = field(default_factory=dict)        # file name → sha256
    store_files: dict[str, str] = field(default_factory=dict)        # file name → sha256
    orders_updated_at: str | None = None                             # live form (Shopify): newest updated_at
    published_at: str | None = None                                  # newest attributed_orders.computed_at

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "Watermarks | None":
        """None for no cursor yet (the first tick only records where the sources are)."""
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"late-data sensor cursor is not a Watermarks JSON ({exc}): {text[:120]!r}") from exc


def empty_changes() -> pd.DataFrame:
    return pd.DataFrame({"source": pd.Series(dtype="str"), "what": pd.Series(dtype="str"),
                         "day": pd.Series(dtype="object"), "forward": pd.Series(dtype="bool")})


def local_days(instants: pd.Series, timezone: str) -> pd.Series:
    """UTC instants (as stored: text or datetimes) → reporting-timezone dates."""
    return parse_instants(instants.reset_index(drop=True)).dt.tz_convert(timezone).dt.date


def _changes(source: str, frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """Wide frame (one instant column per kind of change) → distinct (source, what, day, forward) rows."""
    if frame.empty:
        return empty_changes()
    long = frame.melt(var_name="what", value_name="at").dropna(subset=["at"])
    long = long.assign(day=local_days(long["at"], timezone).to_numpy()).drop(columns="at").dropna(subset=["day"])
    long = long.drop_duplicates()
    return long.assign(source=source, forward=long["what"].isin(FORWARD))[CHANGE_COLUMNS]


def chat_marks(conn: sa.Connection) -> dict[str, str | None]:
    """The largest value of each watched column, as the database stores it."""
    selects = ", ".join(f"(SELECT max({column}) FROM {table}) AS m{i}"
                        for i, (table, column) in enumerate(CHAT_CHANGES))
    row = conn.execute(sa.text(f"SELECT {selects}")).one()
    return {f"{table}.{column}": (None if value is None else str(value))
            for (table, column), value in zip(CHAT_CHANGES, row)}


def scan_chat(url: str, old: Mapping[str, str | None], timezone: str) -> tuple[dict[str, str | None], pd.DataFrame]:
    """New marks, and the changes of the chat database between `old` and them."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            new = chat_marks(conn)
            parts = []
            for (table, column), query in CHAT_CHANGES.items():
                key = f"{table}.{column}"
                if new[key] is None or new[key] == old.get(key):
                    continue
                # the marked column exists in one table of each query, so it needs no qualifier
                bounds = f"{column} <= :new" + ("" if old.get(key) is None else f" AND {column} > :old")
                frame = pd.read_sql(sa.text(query.format(range=bounds)), conn,
                                    params={"old": old.get(key), "new": new[key]})
                parts.append(_changes("chat_platform", frame, timezone))
    finally:
        engine.dispose()
    return new, pd.concat([empty_changes(), *parts], ignore_index=True)


def file_hashes(folder: Path, pattern: str) -> dict[str, str]:
    """sha256 of every file of the folder matching `pattern` (a missing folder holds no files)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob(pattern))}


def changed_files(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Files that are new or whose content changed (a re-delivery with a correction)."""
    return sorted(name for name, digest in new.items() if old.get(name) != digest)


def order_changes(orders: pd.DataFrame, source: str, what: str, timezone: str) -> pd.DataFrame:
    """Each new or updated order (or receipt) affects the day it was placed."""
    return _changes(source, pd.DataFrame({what: orders["placed_at"]}), timezone)


def sales_on_older_dialogues(sales: pd.DataFrame, chatrooms: pd.DataFrame, kpi_computed: pd.DataFrame,
                             timezone: str) -> pd.DataFrame:
    """Chat-Card-86 counts the dialogues established in the period to which a sale was attributed, ever:
    a sale published after the KPI rows of its dialogue's establishment day changes that day.

    `sales`: chatroom_id, computed_at of attributed orders published since the last scan; `chatrooms`:
    chatroom_id, established_at (fact_chatrooms); `kpi_computed`: day, computed_at of Chat-Card-86."""
    if sales.empty:
        return empty_changes()
    latest = sales.groupby("chatroom_id", as_index=False)["computed_at"].max()
    rooms = latest.merge(chatrooms.dropna(subset=["established_at"]), on="chatroom_id")
    if rooms.empty:
        return empty_changes()
    rooms = rooms.assign(day=local_days(rooms["established_at"], timezone).to_numpy())
    known = kpi_computed.assign(day=pd.to_datetime(kpi_computed["day"]).dt.date)
    rooms = rooms.merge(known, on="day", how="inner", suffixes=("", "_kpi"))
    stale = parse_instants(rooms["computed_at_kpi"]).to_numpy() < parse_instants(rooms["computed_at"]).to_numpy()
    days = pd.Series(np.unique(rooms.loc[stale, "day"].to_numpy()), dtype="object")
    # kpi_daily is where the recomputation starts: the sources and the attribution are already current
    return pd.DataFrame({"source": "kpi_daily", "what": "sale_on_older_dialogue", "day": days,
                         "forward": False}, columns=CHANGE_COLUMNS)
