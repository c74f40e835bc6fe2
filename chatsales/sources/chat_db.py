"""The chat platform's database (data-contract.md §1), any SQLAlchemy URL: each table read in one query,
validated, and cut down to rows whose references hold (a message of a rejected chatroom is rejected too)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from chatsales import schema
from chatsales.contract import Checks, SourceError, SourceFrames, SourceSetupError, concat_rejects, text_column

SOURCE = "chat_platform"
TIMESTAMPS = {  # column: required
    "visitors": {"created_at": False},
    "conversation_requests": {"created_at": True, "question_at": False, "canceled_at": False, "handled_at": False},
    "chatrooms": {"started_at": True},
    "messages": {"sent_at": True, "email_filled_at": False},
    "ratings": {"requested_at": True, "given_at": False},
    "hook_events": {"at": True},
    "member_sessions": {"started_at": True, "ended_at": True},
    "identity_links": {"linked_at": True},
}
ENUMS = {
    "conversation_requests": {"source": schema.REQUEST_SOURCES},
    "chatrooms": {"source": schema.REQUEST_SOURCES, "channel": schema.CHANNELS},
    "messages": {"sender": schema.SENDERS, "kind": schema.MESSAGE_KINDS},
    "hook_events": {"event": schema.HOOK_EVENTS},
}
REQUIRED = {
    "chatrooms": ("visitor_id", "member_id"),
    "messages": ("chatroom_id",),
    "ratings": ("chatroom_id",),
    "hook_events": ("member_id",),
    "member_sessions": ("member_id",),
    "identity_links": ("visitor_id", "linked_visitor_id"),
    "conversation_requests": ("visitor_id",),
}
BOOLEANS = {"chatrooms": ("is_internal", "is_blocked"), "messages": ("is_automatic",)}
# validation order: a table's references point to tables validated before it
ORDER = (
    "members",
    "visitors",
    "conversation_requests",
    "chatrooms",
    "messages",
    "ratings",
    "hook_events",
    "member_sessions",
    "identity_links",
)


NOT_UTF8_MARK = "\ufffenot UTF-8\ufffe"  # stands for a value whose bytes are not UTF-8 text


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_UTF8_MARK


def _read_table(conn: sa.Connection, table: str, where: str = "", params: dict | None = None) -> pd.DataFrame:
    """One table. SQLite can hold text that is not UTF-8 (and BLOBs anywhere): such values become
    NOT_UTF8_MARK, and _validate rejects their rows instead of failing the whole source."""
    query = sa.text(f"SELECT * FROM {table}" + (f" WHERE {where}" if where else ""))
    try:
        frame = pd.read_sql(query, conn, params=params)
    except sa.exc.OperationalError as exc:
        if conn.dialect.name != "sqlite" or "decode to UTF-8" not in str(exc):
            raise
        conn.rollback()
        driver = conn.connection.driver_connection
        driver.text_factory = _text
        try:
            frame = pd.read_sql(query, conn, params=params)
        finally:
            driver.text_factory = str
    for column in frame.columns[frame.dtypes == object]:  # noqa: E721 (pandas compares each dtype)
        if pd.api.types.infer_dtype(frame[column], skipna=True) not in ("string", "empty"):
            frame[column] = frame[column].map(lambda v: _text(v) if isinstance(v, bytes) else v)
    return frame


def check_reachable(url: str) -> None:
    """A SQLite chat database must exist: connecting to a missing file would create an empty one there."""
    parsed = sa.engine.make_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not parsed.database.startswith("file:")
        and not Path(parsed.database).is_file()
    ):
        raise SourceSetupError(f"{SOURCE}: the SQLite database {parsed.database} does not exist")


def _read_raw(url: str, scopes: dict[str, tuple[str, dict]] | None = None) -> dict[str, pd.DataFrame]:
    """Every chat table, or for the tables in `scopes` only the rows of their (WHERE clause, parameters),
    read in one transaction so the tables agree with each other."""
    check_reachable(url)
    try:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                if conn.dialect.name == "postgresql":  # one snapshot for every table
                    conn.execution_options(isolation_level="REPEATABLE READ")
                present = set(sa.inspect(conn).get_table_names())
                missing = [t for t in schema.CHAT_TABLES if t not in present]
                if missing:
                    raise SourceSetupError(
                        f"{SOURCE} ({engine.url.render_as_string(hide_password=True)}): missing tables {missing}"
                    )
                raw = {t: _read_table(conn, t, *(scopes or {}).get(t, ("", None))) for t in schema.CHAT_TABLES}
        finally:  # also when a table is missing
            engine.dispose()
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(
            f"{SOURCE}: cannot read {sa.engine.make_url(url).render_as_string(hide_password=True)}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    for table, frame in raw.items():
        lacking = [c for c in schema.CHAT_TABLES[table] if c not in frame.columns]
        if lacking:
            raise SourceSetupError(f"{SOURCE}: table {table} lacks columns {lacking}")
    return raw


def _key(table: str, frame: pd.DataFrame) -> pd.Series:
    keys = schema.CHAT_KEYS[table]
    if keys:
        return frame[keys[0]].astype("str")
    first = list(schema.CHAT_TABLES[table])[:2]
    return frame[first[0]].astype("str") + "/" + frame[first[1]].astype("str")


def _validate(table: str, raw: pd.DataFrame, valid: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    checks = Checks(raw, SOURCE, f"table {table}", _key(table, raw.reset_index(drop=True)))
    for column in raw.columns:
        if raw[column].dtype == object or pd.api.types.is_string_dtype(raw[column].dtype):
            marked = raw[column].eq(NOT_UTF8_MARK).fillna(False).to_numpy(dtype=bool)
            checks.fail(marked, f"{column}: not valid UTF-8 text")
    keys = schema.CHAT_KEYS[table]
    if keys:
        checks.required(*keys)
    checks.required(*REQUIRED.get(table, ()))
    for column, required in TIMESTAMPS.get(table, {}).items():
        checks.timestamp(column, required=required)
    for column, allowed in ENUMS.get(table, {}).items():
        checks.enum(column, allowed)
    for column in BOOLEANS.get(table, ()):
        checks.boolean(column)
    if table == "members":
        checks.number("role", required=True, minimum=0, integer=True)
        checks.fail(checks.parsed["role"] > 6, "role: above 6", checks.col("role"))
    if table == "ratings":
        score = checks.number("score", required=False, minimum=1, integer=True)
        checks.fail(score > 5, "score: above 5", checks.col("score"))
    if table == "chatrooms":
        checks.member_of("request_id", valid["conversation_requests"]["request_id"], "request", nullable=True)
    if table in ("messages", "ratings"):
        checks.member_of("chatroom_id", valid["chatrooms"]["chatroom_id"], "chatroom")
    if table == "member_sessions":
        checks.fail(
            checks.parsed["ended_at"] < checks.parsed["started_at"],
            "ended_at: before started_at",
            checks.col("ended_at"),
        )
    if keys:
        checks.unique(*keys)
    ok = checks.ok
    out = {}
    for column, dtype in schema.CHAT_TABLES[table].items():
        if column in checks.parsed:
            out[column] = checks.parsed[column][ok].reset_index(drop=True)
        elif dtype == "str":
            out[column] = text_column(checks.raw[column][ok].reset_index(drop=True))
        else:
            out[column] = pd.to_numeric(checks.raw[column][ok], errors="coerce").reset_index(drop=True)
    frame = schema.conform(pd.DataFrame(out), schema.CHAT_TABLES[table])
    return frame, checks.rejects()


def read_chat_db(url: str) -> SourceFrames:
    """All nine tables, validated; rows that break the contract (or point at a rejected row) are rejects."""
    raw = _read_raw(url)
    valid: dict[str, pd.DataFrame] = {}
    rejects = []
    for table in ORDER:
        valid[table], bad = _validate(table, raw[table], valid)
        rejects.append(bad)
    return SourceFrames(valid, concat_rejects(rejects))
