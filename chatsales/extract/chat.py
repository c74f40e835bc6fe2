"""The chat platform, read incrementally: the rows touched inside the late horizon, checked, upserted.

A chat table has no "updated at" column, but every change the contract allows sets or adds an instant (a
message sent, an email filled in, a rating given, a request handled or canceled, a session ended, a link
clicked). So a night reads the rows with any of those instants inside the scope (the late horizon before the
previous read), plus the chatrooms and visitors those rows belong to, and compares them with the lake: what
differs is what changed. A message inserted late with an old `sent_at` is seen as long as that instant is
inside the horizon. The first read, and a read after a gap longer than the horizon, take everything.
Index the instant columns in the platform's database (the demo does): the scope queries filter on them.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from chatsales import schema
from chatsales.contract import concat_rejects
from chatsales.extract import Extracted
from chatsales.extract.changes import combine, local_dates, shifted, spans
from chatsales.lake.catalog import Catalog
from chatsales.lake.datasets import CHAT_DATASETS
from chatsales.lake.store import Lake, Upserted
from chatsales.pii import hash_emails, normalise_emails
from chatsales.sources.chat_db import ORDER, SOURCE, _read_raw, _validate, check_reachable

# the instants that mark a row as touched: created, or changed later (data contract: what may change)
TOUCHED_BY = {
    "messages": ("sent_at", "email_filled_at"),
    "ratings": ("requested_at", "given_at"),
    "conversation_requests": ("created_at", "question_at", "canceled_at", "handled_at"),
    "hook_events": ("at",),
    "member_sessions": ("started_at", "ended_at"),
    "identity_links": ("linked_at",),
    "chatrooms": ("started_at",),
    "visitors": ("created_at",),
}
INDEXED = [(table, column) for table, columns in TOUCHED_BY.items() for column in columns]
FOREVER = date(9999, 12, 31)


def _touched(table: str) -> str:
    return "(" + " OR ".join(f"{column} >= :since" for column in TOUCHED_BY[table]) + ")"


def scope_queries(since: datetime) -> dict[str, tuple[str, dict]]:
    """WHERE clauses of the rows touched since `since` (UTC), with the rooms and visitors they belong to."""
    rooms = (f"{_touched('chatrooms')} OR chatroom_id IN (SELECT chatroom_id FROM messages WHERE "
             f"{_touched('messages')}) OR chatroom_id IN (SELECT chatroom_id FROM ratings WHERE {_touched('ratings')})")
    visitors = (f"{_touched('visitors')} OR visitor_id IN (SELECT visitor_id FROM chatrooms WHERE {rooms}) "
                f"OR visitor_id IN (SELECT visitor_id FROM conversation_requests WHERE "
                f"{_touched('conversation_requests')})")
    params = {"since": since.strftime("%Y-%m-%d %H:%M:%S")}
    where = {table: _touched(table) for table in TOUCHED_BY}
    where.update(chatrooms=rooms, visitors=visitors)
    return {table: (clause, params) for table, clause in where.items()}


EVERYTHING = datetime(2000, 1, 1)


def signature(url: str, since: datetime | None) -> str:
    """A digest of what the scope holds now: rows and newest instant of every touched column per table. A
    late row, a new message, a rating given or an email filled in changes it; the sensor compares it with
    the one the last extraction recorded, without reading a row."""
    since = since or EVERYTHING
    selects = []
    for table, columns in TOUCHED_BY.items():
        aggregates = ", ".join(f"count({c}), max({c})" for c in columns)
        selects.append(f"SELECT '{table}', count(*), {aggregates} FROM {table} WHERE {_touched(table)}")
    check_reachable(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = [tuple(conn.execute(sa.text(query), {"since": since.strftime("%Y-%m-%d %H:%M:%S")}).one())
                     for query in selects]
    finally:
        engine.dispose()
    return hashlib.sha1(repr(found).encode()).hexdigest()


def scope_start(catalog: Catalog, now: datetime, horizon_days: int) -> datetime | None:
    """Where tonight's read starts: the horizon before the previous read (None: read everything)."""
    last = catalog.last_extraction(SOURCE)
    if last is None:
        return None
    previous = min(datetime.fromisoformat(last["started_at"]), now)
    return (previous - timedelta(days=horizon_days)).replace(tzinfo=None)


def read_chat(url: str, lake: Lake, since: datetime | None, pii_key: str) -> tuple[dict[str, pd.DataFrame],
                                                                                      pd.DataFrame]:
    """The validated rows in scope (lake shapes: emails hashed) and the rejects. References are checked
    against the rows read and the lake (a message's chatroom may have been read on an earlier night)."""
    raw = _read_raw(url, None if since is None else scope_queries(since))
    valid: dict[str, pd.DataFrame] = {}
    rejects = []
    known = {"conversation_requests": "request_id", "chatrooms": "chatroom_id"}
    for table in ORDER:
        checked, bad = _validate(table, raw[table], valid)
        rejects.append(bad)
        if table in known and since is not None:
            stored = lake.read(CHAT_DATASETS[table], columns=[known[table]])
            valid[table] = pd.concat([checked, stored], ignore_index=True)
        else:
            valid[table] = checked
        raw[table] = checked
    visitors = raw["visitors"]
    raw["visitors"] = pd.DataFrame({"visitor_id": visitors["visitor_id"],
                                    "email_hash": hash_emails(normalise_emails(visitors["email"]), pii_key),
                                    "customer_id": visitors["customer_id"], "created_at": visitors["created_at"]})
    return raw, concat_rejects(rejects)


def row_changes(upserted: dict[str, Upserted], timezone: str, window_days: int, catalog: Catalog,
                today: date) -> pd.DataFrame:
    """The reporting days each new or changed row affects, by the date bases of the KPIs and the rule of
    attribution (state changes, such as a dialogue established, are computed with the state)."""
    parts = []

    def day(frame: pd.DataFrame, column: str) -> pd.Series:
        return local_dates(frame[column], timezone)

    def split(table: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(rows never stored before, changed rows, their stored versions aligned on the key)."""
        up = upserted[table]
        key = list(CHAT_DATASETS[table].key)
        old = up.old.set_index(key)
        is_new = ~up.new.set_index(key).index.isin(old.index)
        changed = up.new[~is_new]
        return up.new[is_new], changed, old.reindex(changed.set_index(key).index).reset_index()

    new, changed, before = split("messages")
    parts += [spans("new_message", day(new, "sent_at")),
              spans("message_before_orders", day(new, "sent_at"), shifted(day(new, "sent_at"), window_days + 1))]
    filled = changed["email_filled_at"].ne(before["email_filled_at"]).to_numpy()
    parts += [spans("late_email_fill", day(changed[filled], "sent_at")),
              spans("message_changed", day(changed[~filled], "sent_at"))]

    new, changed, before = split("ratings")
    parts += [spans("new_rating_request", day(new, "requested_at")), spans("late_rating", day(changed, "requested_at"))]

    new, changed, before = split("conversation_requests")
    parts.append(spans("new_request", day(new, "created_at")))
    for column, what in (("question_at", "late_question"), ("handled_at", "request_handled_late"),
                         ("canceled_at", "request_canceled_late")):
        moved = changed[column].ne(before[column]).to_numpy() | (changed[column].isna() != before[column].isna())
        rows = changed[moved]
        parts.append(spans(what, day(rows, "created_at")))
        if column != "question_at":
            parts += [spans(what, day(rows, column)), spans(what, day(before[moved], column))]

    new, changed, _ = split("hook_events")
    parts.append(spans("hook_event", day(pd.concat([new, changed]), "at")))

    up = upserted["member_sessions"]
    for frame in (up.new, up.old):
        parts.append(spans("member_session", day(frame, "started_at"),
                           day(frame, "ended_at")))

    links = upserted["identity_links"].new
    if len(links):
        orders = catalog.orders_of("visitor_id", links["linked_visitor_id"])
        placed = pd.to_datetime(orders["placed_at"], unit="us", utc=True)
        after = orders.assign(placed=placed).merge(links, left_on="visitor_id", right_on="linked_visitor_id")
        after = after[after["placed"] > after["linked_at"]]
        parts.append(spans("identity_link", pd.to_datetime(after["day"]).dt.date))

    visitors = pd.concat([upserted["visitors"].new, upserted["visitors"].old], ignore_index=True)
    if len(visitors):
        found = [catalog.orders_of(column, visitors[column]).assign(_by=column)
                 for column in ("visitor_id", "customer_id")]
        found.append(catalog.orders_of("customer_hash", visitors["email_hash"]).assign(_by="email_hash"))
        hits = pd.concat(found, ignore_index=True)
        if len(hits):
            keyed = pd.concat([hits[hits["_by"] == c].merge(visitors[[c, "created_at"]].rename(columns={c: "_k"}),
                                                            left_on=c if c != "email_hash" else "customer_hash",
                                                            right_on="_k") for c in ("visitor_id", "customer_id",
                                                                                     "email_hash")])
            placed = pd.to_datetime(keyed["placed_at"], unit="us", utc=True)
            keyed = keyed[keyed["created_at"].isna() | (placed >= keyed["created_at"])]
            parts.append(spans("visitor_identity", pd.to_datetime(keyed["day"]).dt.date))

    if upserted["members"]:
        parts.append(spans("member_changed", [date(2000, 1, 1)], [today]))
    return combine(parts)


def count_rows(frames: dict[str, pd.DataFrame]) -> int:
    return int(sum(len(f) for f in frames.values()))


def extract_chat(url: str, lake: Lake, catalog: Catalog, *, pii_key: str, horizon_days: int, window_days: int,
                 now: datetime, run_id: str | None = None) -> tuple[Extracted, dict[str, Upserted]]:
    """Read the chat platform since its watermark into the lake; returns what it did and what changed
    (the upserts feed the conversation state)."""
    since = scope_start(catalog, now, horizon_days)
    marked = f"{(since or EVERYTHING).isoformat()}|{signature(url, since)}"   # before the read: never later
    rows, rejects = read_chat(url, lake, since, pii_key)
    upserted = {table: lake.plan_upsert(CHAT_DATASETS[table], frame) for table, frame in rows.items()}
    changes = row_changes(upserted, lake.timezone, window_days, catalog, now.date())
    scope = "every row" if since is None else f"rows touched since {since:%Y-%m-%d %H:%M} UTC"
    result = Extracted(SOURCE, count_rows(rows), rejects, {t: len(u.new) for t, u in upserted.items()},
                       changes, scope, details={"signature": marked})
    return result, upserted


def empty_upserts() -> dict[str, Upserted]:
    return {table: Upserted(schema.empty(dict(ds.columns)), schema.empty(dict(ds.columns)), [])
            for table, ds in CHAT_DATASETS.items()}


__all__ = ["FOREVER", "INDEXED", "extract_chat", "read_chat", "row_changes", "scope_queries", "scope_start"]
