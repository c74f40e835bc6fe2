"""The demo dataset follows the data contract, holds every case the rule and KPIs distinguish, and is
byte-identical for the same seed."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from chatsales.demo import generate_demo
from chatsales.demo.arrivals import sources_as_of
from chatsales.sources.chat_db import read_chat_db
from chatsales.sources.orders import read_orders_dir
from chatsales.sources.store_sales import read_store_sales_dir

FIRST = date(2026, 10, 20)  # 10 days that include the autumn DST change (2026-10-25)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return generate_demo(
        tmp_path_factory.mktemp("d") / "demo", FIRST, days=10, scale=0.06, seed=5, withhold_late_store_file=True
    )


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".db":
            with sqlite3.connect(path) as conn:
                out[path.name] = hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
        elif path.is_file():
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_same_seed_same_bytes(demo, tmp_path):
    again = generate_demo(tmp_path / "again", FIRST, days=10, scale=0.06, seed=5, withhold_late_store_file=True)
    assert _digest(demo.out_dir) == _digest(again.out_dir)
    other = generate_demo(tmp_path / "other", FIRST, days=10, scale=0.06, seed=6)
    assert _digest(other.out_dir)["chat.db"] != _digest(demo.out_dir)["chat.db"]


def test_follows_the_contract(demo):
    chat = read_chat_db(f"sqlite:///{demo.chat_db_path}")
    assert chat.rejects.empty
    orders = read_orders_dir(demo.orders_dir, "EUR")
    assert set(orders.rejects["reason"]) <= {"currency: not the reporting currency EUR 'USD'"}
    receipts = read_store_sales_dir(demo.store_sales_dir, "Europe/Paris", "EUR")
    assert receipts.rejects.empty
    assert len(orders.frames["orders"]) == demo.counts["web_orders"] - len(orders.rejects)
    assert sorted(p.name for p in demo.orders_dir.iterdir())[0].startswith("orders-2026-10-20")


def _count(demo, sql):
    with sqlite3.connect(demo.chat_db_path) as conn:
        return conn.execute(sql).fetchone()[0]


@pytest.mark.parametrize(
    "case,sql",
    [
        ("every source", "select count(distinct source) = 4 from chatrooms"),
        ("every channel", "select count(distinct channel) = 7 from chatrooms"),
        (
            "waiting list handled after a day",
            "select count(*) from conversation_requests where source='waiting_list' "
            "and julianday(handled_at) - julianday(created_at) > 1",
        ),
        (
            "waiting list never handled",
            "select count(*) from conversation_requests where source='waiting_list' "
            "and handled_at is null and canceled_at is null",
        ),
        ("canceled", "select count(*) from conversation_requests where canceled_at is not null"),
        (
            "late question",
            "select count(*) from conversation_requests where julianday(question_at) - julianday(created_at) > 1",
        ),
        (
            "dialogue established days later",
            "select count(*) from messages a join messages b using (chatroom_id) "
            "where a.sender='visitor' and b.sender='member' and not b.is_automatic "
            "and julianday(b.sent_at) - julianday(a.sent_at) > 1",
        ),
        ("automatic messages", "select count(*) from messages where is_automatic"),
        ("system messages", "select count(*) from messages where sender='system'"),
        ("every message kind", "select count(distinct kind) = 8 from messages"),
        (
            "email filled days later",
            "select count(*) from messages where julianday(email_filled_at) - julianday(sent_at) > 1",
        ),
        (
            "rating given days later",
            "select count(*) from ratings where julianday(given_at) - julianday(requested_at) > 1",
        ),
        ("rating never given", "select count(*) from ratings where given_at is null"),
        ("hook clicks", "select count(*) from hook_events where event='clicked'"),
        ("internal chatrooms", "select count(*) from chatrooms where is_internal"),
        ("blocked chatrooms", "select count(*) from chatrooms where is_blocked"),
        ("offsite identity links", "select count(*) from identity_links"),
        (
            "session crossing midnight",
            "select count(*) from member_sessions where time(started_at) > '20:00' and time(ended_at) < '04:00'",
        ),
    ],
)
def test_every_chat_case_is_present(demo, case, sql):
    assert _count(demo, sql) > 0, case


def test_every_order_case_is_present(demo):
    orders = read_orders_dir(demo.orders_dir, "EUR").frames["orders"]
    assert {"paid", "cancelled", "refunded", "partially_refunded"} <= set(orders["status"])
    assert orders["email"].str.contains(r"^\s|\s$|[A-Z]", regex=True).fillna(False).any()  # dirty emails
    no_identity = orders["email"].isna() & orders["customer_id"].isna() & orders["visitor_id"].isna()
    assert no_identity.any()
    assert orders["visitor_id"].str.startswith("v-b").fillna(False).any()  # linked browsers
    assert orders["is_first_order"].isna().any() and orders["is_first_order"].notna().any()
    receipts = read_store_sales_dir(demo.store_sales_dir, "Europe/Paris", "EUR").frames["orders"]
    assert (receipts["status"] == "return").any() and receipts["email"].isna().any()
    dst = receipts[receipts["order_id"].str.startswith("R-dst")]
    withheld = demo.late_store_file.read_text().count("R-dst-")  # one store's file arrives late
    assert len(dst) + withheld == 3 and dst["placed_at"].dt.tz_convert("Europe/Paris").dt.hour.tolist() == [2] * len(
        dst
    )


def test_the_late_store_file_is_withheld(demo):
    assert demo.late_store_file.parent.name == "late" and demo.late_store_file.exists()
    assert not (demo.store_sales_dir / demo.late_store_file.name).exists()


def test_chat_reader_gives_the_same_frames_from_postgresql(demo, pg_url):
    """Any SQLAlchemy URL: the demo's chat tables copied into PostgreSQL (native TIMESTAMP and BOOLEAN
    columns) read into exactly the frames the SQLite file gives."""
    import pandas as pd
    import sqlalchemy as sa

    from chatsales.demo.generator import CHAT_DDL

    engine = sa.create_engine(pg_url)
    with sqlite3.connect(demo.chat_db_path) as src, engine.begin() as dst:
        for table, ddl in CHAT_DDL.items():
            dst.execute(sa.text(f"CREATE TABLE {table} ({ddl})"))
            frame = pd.read_sql(f"SELECT * FROM {table}", src)
            for column in frame.columns:
                if "TIMESTAMP" in ddl.split(column + " ", 1)[-1].split(",", 1)[0]:
                    frame[column] = pd.to_datetime(frame[column])
                if "BOOLEAN" in ddl.split(column + " ", 1)[-1].split(",", 1)[0]:
                    frame[column] = frame[column].astype(bool)
            frame.to_sql(table, dst, if_exists="append", index=False)
    engine.dispose()
    from_pg = read_chat_db(pg_url)
    from_sqlite = read_chat_db(f"sqlite:///{demo.chat_db_path}")
    assert from_pg.rejects.empty
    for table, frame in from_sqlite.frames.items():
        pd.testing.assert_frame_equal(from_pg.frames[table], frame, obj=table)
    # the sensor asks both the same question (per table and day, counts and newest instants since a date)
    from chatsales.extract.chat import TOUCHED_BY, fingerprints

    since = datetime(2026, 10, 24)
    on_pg, on_sqlite = fingerprints(pg_url, since), fingerprints(f"sqlite:///{demo.chat_db_path}", since)
    assert set(on_sqlite["table"]) == {
        "messages",
        "ratings",
        "conversation_requests",
        "hook_events",
        "member_sessions",
        "identity_links",
        "chatrooms",
        "visitors",
    }
    assert on_sqlite["day"].min() == "2026-10-19" and len(on_sqlite) > 100  # UTC days: earlier rows touched later
    pd.testing.assert_frame_equal(on_pg, on_sqlite)
    rows = on_sqlite[on_sqlite["measure"] == "rows"].astype({"value": int}).groupby("table")["value"].sum()
    with sqlite3.connect(demo.chat_db_path) as conn:
        for table, instants in TOUCHED_BY.items():  # each row touched is counted once
            where = " OR ".join(f"{instant} >= ?" for instant in instants)
            count = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", [str(since)] * len(instants))
            assert rows[table] == count.fetchone()[0], table
    # the night reads the same touched rows from both, and no table is scanned whole for them (SQLite)
    from chatsales import schema
    from chatsales.extract.chat import _days_clause, scope_queries, scoped
    from chatsales.lake.datasets import CHAT_PARTITION

    queries = scope_queries(since)
    late = scoped(queries, {table: _days_clause(CHAT_PARTITION[table], ["2026-10-02"]) for table in TOUCHED_BY})
    with sqlite3.connect(demo.chat_db_path) as conn, engine.connect() as pg:
        for table, (where, params) in [*queries.items(), *late.items()]:  # a loop over sixteen queries
            plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {where}", params)]
            assert not [step for step in plan if step.startswith("SCAN")], (table, plan)
            key = (schema.CHAT_KEYS[table] or ("count(*)",))[0]  # the keys read, or how many rows
            select = f"SELECT {key} AS k FROM {table} WHERE {where}"
            from_sqlite = sorted(pd.read_sql(select, conn, params=params)["k"])
            assert from_sqlite and from_sqlite[0], table
            assert sorted(pd.read_sql(sa.text(select), pg, params=params)["k"]) == from_sqlite, table
    engine.dispose()


def test_sources_as_of_a_night_drop_the_copies_killed_writers_left(demo, tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        into = tmp_path / "sources"
        into.mkdir()
        orphan = into / f"chat.db.{dead.pid}.part"
        orphan_journal = into / f"chat.db.{dead.pid}.part-journal"
        busy = into / f"chat.db.{alive.pid}.part"
        for path in (orphan, orphan_journal, busy):
            path.write_bytes(b"a copy being written")
        night = FIRST + timedelta(days=3)
        paths = sources_as_of(demo, night, into, "Europe/Paris")
        assert sorted(p.name for p in into.glob("chat.db*")) == ["chat.db", busy.name]
        with sqlite3.connect(paths["chat_db"]) as conn:
            last = conn.execute("SELECT max(sent_at) FROM messages").fetchone()[0]
        assert last is not None and last < str(night + timedelta(days=1))
    finally:
        alive.kill()
        alive.wait()
