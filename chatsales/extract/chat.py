"""The chat platform, read incrementally: the rows touched since the previous read, checked, upserted.

A chat table has no "updated at" column, but every change the contract allows sets or adds an instant (a
message sent, an email filled in, a rating given, a request handled or canceled, a session ended, a link
clicked). So a night reads the rows with any of those instants since the latest one the previous read saw
(less an hour for commits in flight), plus the chatrooms and visitors those rows belong to, and compares
them with the lake: what differs is what changed. A row inserted late with an old instant is caught by the
day fingerprints: per table and UTC day of creation inside the late horizon, the row count and the latest of
each instant; a day whose fingerprint differs from the lake's is read whole. The first read takes everything.
Index the instant columns in the platform's database (the demo does): the scope queries filter on them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from chatsales import schema
from chatsales.contract import concat_rejects, parse_instants
from chatsales.extract import Extracted
from chatsales.extract.changes import combine, local_dates, shifted, spans
from chatsales.lake.catalog import Catalog
from chatsales.lake.chat_index import KEYED, ensure_chat_index
from chatsales.lake.datasets import CHAT_DATASETS, CHAT_PARTITION
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


def _touched(table: str) -> str:
    """WHERE clause of the rows of `table` touched since :since. Up to two instants, their OR: SQLite searches
    each instant's index and merges. Beyond two (the requests' four), SQLite, with no statistics, guesses a
    quarter of the table per range and scanned the whole table, on every night and every sensor tick: those
    ask for the keys of one SELECT per instant, each on its own index (for two instants this form costs
    twice the OR: the messages of a 10× month, 1.8 s against 0.9)."""
    instants, key = TOUCHED_BY[table], schema.CHAT_KEYS[table]
    if key is None or len(instants) <= 2:
        return "(" + " OR ".join(f"{instant} >= :since" for instant in instants) + ")"
    (column,) = key
    branches = " UNION ".join(f"SELECT {column} FROM {table} WHERE {instant} >= :since" for instant in instants)
    return f"{column} IN ({branches})"


def scope_queries(since: datetime) -> dict[str, tuple[str, dict]]:
    """WHERE clauses of the rows touched since `since` (UTC), with the rooms and visitors they belong to."""
    rooms = (
        f"{_touched('chatrooms')} OR chatroom_id IN (SELECT chatroom_id FROM messages WHERE "
        f"{_touched('messages')}) OR chatroom_id IN (SELECT chatroom_id FROM ratings WHERE {_touched('ratings')})"
    )
    visitors = (
        f"{_touched('visitors')} OR visitor_id IN (SELECT visitor_id FROM chatrooms WHERE {rooms}) "
        f"OR visitor_id IN (SELECT visitor_id FROM conversation_requests WHERE "
        f"{_touched('conversation_requests')})"
    )
    params = {"since": since.strftime("%Y-%m-%d %H:%M:%S")}
    where = {table: _touched(table) for table in TOUCHED_BY}
    where.update(chatrooms=rooms, visitors=visitors)
    return {table: (clause, params) for table, clause in where.items()}


EVERYTHING = datetime(2000, 1, 1)


def _instant_text(values: pd.Series) -> pd.Series:
    """Instants as the platform may return them (text or datetimes, naive UTC) → one spelling, to compare."""
    return parse_instants(values).dt.strftime("%Y-%m-%d %H:%M:%S.%f").fillna("")


def _measures(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Wide per-day aggregates (day, rows, n_<c>, max_<c>) → long rows (table, day, measure, value) as text."""
    for column in TOUCHED_BY[table]:
        frame[f"max_{column}"] = _instant_text(frame[f"max_{column}"])
    long = frame.astype({"day": "str"}).melt(id_vars="day", var_name="measure", value_name="value")
    return long.assign(table=table, value=long["value"].astype("str"))[["table", "day", "measure", "value"]]


def fingerprints(url: str, since: datetime) -> pd.DataFrame:
    """Per table and UTC day of creation, of the rows touched since `since`: how many, and the count and
    newest value of every instant that marks a change (an answer, a rating given, an email filled in...).
    One aggregate query per table, on indexed columns; no row is read."""
    check_reachable(url)
    frames = []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for table, columns in TOUCHED_BY.items():  # a loop over tables
                created = CHAT_PARTITION[table]
                aggregates = ", ".join(f"count({c}) AS n_{c}, max({c}) AS max_{c}" for c in columns)
                query = (
                    f"SELECT date({created}) AS day, count(*) AS rows, {aggregates} FROM {table} "
                    f"WHERE {_touched(table)} GROUP BY date({created})"
                )
                frames.append(
                    _measures(
                        pd.read_sql(sa.text(query), conn, params={"since": since.strftime("%Y-%m-%d %H:%M:%S")}), table
                    )
                )
    finally:
        engine.dispose()
    return pd.concat(frames, ignore_index=True).sort_values(["table", "day", "measure"], ignore_index=True)


def signature(url: str, since: datetime | None) -> str:
    """A digest of the fingerprints of the scope: a late row, a new message, a rating given or an email
    filled in changes it; the sensor compares it with the one the last extraction recorded."""
    return _digest(fingerprints(url, since or EVERYTHING))


def _digest(prints: pd.DataFrame) -> str:
    return hashlib.sha1(prints.to_csv(index=False).encode()).hexdigest()


def lake_fingerprints(lake: Lake, first: date) -> pd.DataFrame:
    """The same fingerprints, of the rows the lake holds, for the UTC days from `first`."""
    until = datetime.now(UTC).date() + timedelta(days=2)
    labels = [d.isoformat() for d in pd.date_range(first - timedelta(days=1), until).date]
    frames = []
    for table, columns in TOUCHED_BY.items():  # a loop over tables
        created = CHAT_PARTITION[table]
        rows = lake.read(CHAT_DATASETS[table], labels, columns=list(dict.fromkeys([created, *columns])))
        # grouped by the UTC day's start, each day spelled once (strftime on every row cost seconds at 30×)
        grouped = rows.groupby(rows[created].dt.tz_convert("UTC").dt.floor("D").rename("day"))
        wide = pd.DataFrame({"rows": grouped.size()})
        for column in columns:
            wide[f"n_{column}"] = grouped[column].count()
            wide[f"max_{column}"] = grouped[column].max()
        wide.index = wide.index.strftime("%Y-%m-%d")
        frames.append(_measures(wide.reset_index(), table))
    prints = pd.concat(frames, ignore_index=True)
    return prints[prints["day"] >= first.isoformat()]


def late_days(platform: pd.DataFrame, lake: Lake, horizon: datetime) -> dict[str, list[str]]:
    """Per table, the UTC days after the horizon's whose fingerprints differ between the platform and the
    lake: a row inserted, or changed, late, with instants older than the previous read. Read whole."""
    first = (horizon + timedelta(days=1)).date()
    ours = lake_fingerprints(lake, first)
    theirs = platform[platform["day"] >= first.isoformat()]
    both = theirs.merge(ours, on=["table", "day", "measure"], how="outer", suffixes=("", "_lake"))
    differ = both[both["value"].fillna("") != both["value_lake"].fillna("")]
    differ = differ[differ["value"].notna()]  # days the platform no longer has: nothing to read
    return {table: sorted(set(group["day"])) for table, group in differ.groupby("table")}


OVERLAP = timedelta(hours=1)  # a row committed late with an instant just before the previous read
TOUCHED_KEY = "chat_touched_through"  # catalog meta: the latest instant the previous read saw


@dataclass(frozen=True)
class Scope:
    """What a night reads: every row with an instant set since `touched_since`, and the whole days since
    `horizon` whose fingerprints differ from the lake's (rows inserted or changed late, with older
    instants). None: every row."""

    touched_since: datetime | None
    horizon: datetime | None


def scope_of(catalog: Catalog, now: datetime, horizon_days: int) -> Scope:
    """Tonight's scope. Rows touched since the latest instant the previous read saw (the platform's clock,
    not ours: a skewed clock on either side loses nothing), less an hour for commits in flight."""
    last = catalog.last_extraction(SOURCE)
    if last is None:
        return Scope(None, None)
    previous = min(datetime.fromisoformat(last["started_at"]), now).replace(tzinfo=None)
    seen = catalog.get(TOUCHED_KEY)
    through = min(datetime.fromisoformat(seen), previous) if seen else previous
    return Scope(through - OVERLAP, previous - timedelta(days=horizon_days))


def touched_through(rows: dict[str, pd.DataFrame], now: datetime) -> str | None:
    """The latest instant among the rows read (never after `now`: a row dated in the future must not
    move the next read past rows not yet written), naive UTC; None when nothing was read."""
    latest = [
        rows[table][column].max() for table, columns in TOUCHED_BY.items() for column in columns if len(rows[table])
    ]
    latest = [value for value in latest if pd.notna(value)]
    if not latest:
        return None
    return min(
        max(latest).tz_convert("UTC").tz_localize(None), pd.Timestamp(now).tz_convert("UTC").tz_localize(None)
    ).isoformat()


def _days_clause(column: str, days: list[str]) -> tuple[str, dict]:
    """WHERE `column` falls on one of the UTC `days` ('YYYY-MM-DD'; the platform stores naive UTC)."""
    params = {}
    for n, day in enumerate(days):
        params[f"d{n}"] = day
        params[f"e{n}"] = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return " OR ".join(f"({column} >= :d{n} AND {column} < :e{n})" for n in range(len(days))), params


def scoped(touched: dict[str, tuple[str, dict]], late: dict[str, tuple[str, dict]]) -> dict[str, tuple[str, dict]]:
    """Each table's WHERE clause: touched, or inserted late."""
    out = dict(touched)
    for table, (clause, params) in late.items():
        base, base_params = out[table]
        out[table] = (f"({base}) OR ({clause})", {**base_params, **params})
    return out


def read_chat(
    url: str, catalog: Catalog, scope: Scope, pii_key: str, late: dict[str, list[str]] | None = None
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The validated rows in scope and of the `late` days (lake shapes: emails hashed), and the rejects.
    References are checked against the rows read and the catalog's keys (a message's chatroom may have been
    read on an earlier night)."""
    since = scope.touched_since
    whole_days = {table: _days_clause(CHAT_PARTITION[table], days) for table, days in (late or {}).items()}
    queries = None if since is None else scoped(scope_queries(since), whole_days)
    raw = _read_raw(url, queries)
    referenced = {  # what the rows read point at, in the tables validated before them
        "conversation_requests": raw["chatrooms"]["request_id"],
        "chatrooms": pd.concat([raw["messages"]["chatroom_id"], raw["ratings"]["chatroom_id"]]),
    }
    valid: dict[str, pd.DataFrame] = {}
    rejects = []
    for table in ORDER:
        checked, bad = _validate(table, raw[table], valid)
        rejects.append(bad)
        if table in KEYED and scope.touched_since is not None:
            stored = catalog.known_chat_ids(table, referenced[table].dropna().astype(str))
            valid[table] = pd.concat([checked, pd.DataFrame({KEYED[table]: stored})], ignore_index=True)
        else:
            valid[table] = checked
        raw[table] = checked
    visitors = raw["visitors"]
    raw["visitors"] = pd.DataFrame(
        {
            "visitor_id": visitors["visitor_id"],
            "email_hash": hash_emails(normalise_emails(visitors["email"]), pii_key),
            "customer_id": visitors["customer_id"],
            "created_at": visitors["created_at"],
        }
    )
    return raw, concat_rejects(rejects)


def row_changes(
    upserted: dict[str, Upserted], timezone: str, window_days: int, catalog: Catalog, today: date
) -> pd.DataFrame:
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
        changed = up.new[~is_new].reset_index(drop=True)  # aligned with the stored versions, row by row
        return up.new[is_new], changed, old.reindex(changed.set_index(key).index).reset_index()

    new, changed, before = split("messages")
    parts += [
        spans("new_message", day(new, "sent_at")),
        spans("message_before_orders", day(new, "sent_at"), shifted(day(new, "sent_at"), window_days + 1)),
    ]
    filled = changed["email_filled_at"].ne(before["email_filled_at"]).to_numpy()
    parts += [
        spans("late_email_fill", day(changed[filled], "sent_at")),
        spans("message_changed", day(changed[~filled], "sent_at")),
    ]

    new, changed, before = split("ratings")
    parts += [spans("new_rating_request", day(new, "requested_at")), spans("late_rating", day(changed, "requested_at"))]

    new, changed, before = split("conversation_requests")
    parts.append(spans("new_request", day(new, "created_at")))
    for column, what in (
        ("question_at", "late_question"),
        ("handled_at", "request_handled_late"),
        ("canceled_at", "request_canceled_late"),
    ):
        moved = changed[column].ne(before[column]).to_numpy() | (changed[column].isna() != before[column].isna())
        rows = changed[moved]
        parts.append(spans(what, day(rows, "created_at")))
        if column != "question_at":
            parts += [spans(what, day(rows, column)), spans(what, day(before[moved], column))]

    new, changed, _ = split("hook_events")
    parts.append(spans("hook_event", day(pd.concat([new, changed]), "at")))

    up = upserted["member_sessions"]
    for frame in (up.new, up.old):
        parts.append(spans("member_session", day(frame, "started_at"), day(frame, "ended_at")))

    links = upserted["identity_links"].new
    if len(links):
        orders = catalog.orders_of("visitor_id", links["linked_visitor_id"])
        placed = pd.to_datetime(orders["placed_at"], unit="us", utc=True)
        after = orders.assign(placed=placed).merge(links, left_on="visitor_id", right_on="linked_visitor_id")
        after = after[after["placed"] > after["linked_at"]]
        parts.append(spans("identity_link", pd.to_datetime(after["day"]).dt.date))

    visitors = pd.concat([upserted["visitors"].new, upserted["visitors"].old], ignore_index=True)
    if len(visitors):
        found = [
            catalog.orders_of(column, visitors[column]).assign(_by=column) for column in ("visitor_id", "customer_id")
        ]
        found.append(catalog.orders_of("customer_hash", visitors["email_hash"]).assign(_by="email_hash"))
        hits = pd.concat(found, ignore_index=True)
        if len(hits):
            keyed = pd.concat(
                [
                    hits[hits["_by"] == c].merge(
                        visitors[[c, "created_at"]].rename(columns={c: "_k"}),
                        left_on=c if c != "email_hash" else "customer_hash",
                        right_on="_k",
                    )
                    for c in ("visitor_id", "customer_id", "email_hash")
                ]
            )
            placed = pd.to_datetime(keyed["placed_at"], unit="us", utc=True)
            keyed = keyed[keyed["created_at"].isna() | (placed >= keyed["created_at"])]
            parts.append(spans("visitor_identity", pd.to_datetime(keyed["day"]).dt.date))

    if upserted["members"]:
        parts.append(spans("member_changed", [date(2000, 1, 1)], [today]))
    return combine(parts)


def count_rows(frames: dict[str, pd.DataFrame]) -> int:
    return int(sum(len(f) for f in frames.values()))


def extract_chat(
    url: str,
    lake: Lake,
    catalog: Catalog,
    *,
    pii_key: str,
    horizon_days: int,
    window_days: int,
    now: datetime,
    run_id: str | None = None,
) -> tuple[Extracted, dict[str, Upserted]]:
    """Read the chat platform since its watermark into the lake; returns what it did and what changed
    (the upserts feed the conversation state)."""
    scope = scope_of(catalog, now, horizon_days)
    prints = fingerprints(url, scope.horizon or EVERYTHING)  # before the read: never later than it
    marked = f"{(scope.horizon or EVERYTHING).isoformat()}|{_digest(prints)}"
    late = {} if scope.touched_since is None else late_days(prints, lake, scope.horizon)
    ensure_chat_index(lake, catalog)
    rows, rejects = read_chat(url, catalog, scope, pii_key, late)
    upserted = {table: lake.plan_upsert(CHAT_DATASETS[table], frame) for table, frame in rows.items()}
    changes = row_changes(upserted, lake.timezone, window_days, catalog, now.date())
    read = (
        "every row"
        if scope.touched_since is None
        else (
            f"rows touched since {scope.touched_since:%Y-%m-%d %H:%M} UTC"
            + "".join(f"; {table} of {', '.join(days)} whole (changed late)" for table, days in late.items())
        )
    )
    result = Extracted(
        SOURCE,
        count_rows(rows),
        rejects,
        {t: len(u.new) for t, u in upserted.items()},
        changes,
        read,
        details={"signature": marked, "touched_through": touched_through(rows, now)},
    )
    return result, upserted


def empty_upserts() -> dict[str, Upserted]:
    return {
        table: Upserted(schema.empty(dict(ds.columns)), schema.empty(dict(ds.columns)), [])
        for table, ds in CHAT_DATASETS.items()
    }
