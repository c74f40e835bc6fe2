"""The reporting store: whole days replaced in one transaction, the ledger, rejects; on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import pytest

from resources.reporting_db import ReportingStore, fact_streams

D1, D2 = date(2026, 3, 28), date(2026, 3, 29)
T = pd.Timestamp("2026-03-28T10:00:00Z")


def _orders(rows):
    base = dict(sales_channel="web", placed_at=T, day=D1, customer_hash="h", total=10.0, net_total=10.0,
                currency="EUR", is_cancelled=False, is_first_order=True, attributed=True, reason=None,
                chatroom_id="cr-1", member_id="m-1", source="direct", touchpoint="web",
                match_key="email", last_message_at=T, window_days=14, store_id=None)
    return pd.DataFrame([{**base, **r} for r in rows])


def _kpis(day, value):
    return pd.DataFrame([{"day": day, "kpi": "Chat-Card-1", "dimension": "all", "dimension_value": "all",
                          "value": value, "numerator": None, "denominator": None, "is_fluctuating": False}])


def test_publish_replaces_whole_days_and_keeps_others(reporting_url):
    store = ReportingStore(reporting_url)
    store.publish_days([D1, D2], run_id="r1", kpis=pd.concat([_kpis(D1, 3.0), _kpis(D2, 4.0)]))
    store.publish_days([D1], run_id="r2", kpis=_kpis(D1, 5.0))
    rows = store.read_table("kpi_daily").sort_values("day")
    assert rows["value"].tolist() == [5.0, 4.0]
    assert rows["run_id"].tolist() == ["r2", "r1"]
    assert rows["day"].tolist() == [D1, D2]


def test_publish_rejects_rows_of_other_days_and_writes_nothing(reporting_url):
    store = ReportingStore(reporting_url)
    store.publish_days([D1], run_id="r1", kpis=_kpis(D1, 1.0))
    with pytest.raises(ValueError, match="outside the publication"):
        store.publish_days([D1], run_id="r2", kpis=pd.concat([_kpis(D1, 9.0), _kpis(D2, 9.0)]))
    assert store.read_table("kpi_daily")["value"].tolist() == [1.0]


def test_failed_publication_rolls_back_every_table(reporting_url):
    store = ReportingStore(reporting_url)
    store.publish_days([D1], run_id="r1", attribution=_orders([{"order_id": "o1"}]), kpis=_kpis(D1, 1.0))
    bad_facts = {"messages": pd.DataFrame({"day": [D2], "x": [1]})}   # a stray day fails after the KPIs
    with pytest.raises(ValueError):
        store.publish_days([D1], run_id="r2", attribution=_orders([{"order_id": "o2"}]),
                           kpis=_kpis(D1, 7.0), facts=bad_facts)
    assert store.read_table("kpi_daily")["value"].tolist() == [1.0]
    assert store.read_table("attributed_orders")["order_id"].tolist() == ["o1"]
    assert "fact_messages" not in store.table_names()


def test_ledger_records_each_change_once(reporting_url):
    store = ReportingStore(reporting_url)
    first = _orders([{"order_id": "o1"},
                     {"order_id": "o2", "attributed": False, "reason": "no_dialogue", "chatroom_id": None,
                      "member_id": None}])
    store.publish_days([D1], run_id="r1", attribution=first)
    store.publish_days([D1], run_id="r2", attribution=first)          # unchanged: nothing added
    second = _orders([{"order_id": "o1", "chatroom_id": "cr-2", "member_id": "m-2"},
                      {"order_id": "o2"}])
    store.publish_days([D1], run_id="r3", attribution=second)
    ledger = store.read_table("attribution_ledger").sort_values(["run_id", "order_id"])
    assert ledger[["run_id", "order_id", "change", "old_chatroom_id", "new_chatroom_id", "old_reason",
                   "new_reason"]].astype(object).where(ledger.notna(), None).values.tolist() == [
        ["r1", "o1", "first", None, "cr-1", None, None],
        ["r1", "o2", "first", None, None, None, "no_dialogue"],
        ["r3", "o1", "moved", "cr-1", "cr-2", None, None],
        ["r3", "o2", "gained", None, "cr-1", "no_dialogue", None],
    ]


def test_fact_tables_are_created_and_replaced_by_day(reporting_url):
    store = ReportingStore(reporting_url)
    ts = pd.Series(pd.to_datetime(["2026-03-28T23:30:00Z", "2026-03-29T01:00:00Z"], utc=True))
    facts = {"messages": pd.DataFrame({"day": [D1, D2], "chatroom_id": ["a", "b"], "sent_at": ts,
                                       "is_counted": [True, False], "n": [1, 2]})}
    store.publish_days([D1, D2], run_id="r1", facts=facts)
    store.publish_days([D2], run_id="r2", facts={"messages": facts["messages"].iloc[[1, 1]]})
    rows = store.read_table("fact_messages").sort_values("chatroom_id")
    assert rows["chatroom_id"].tolist() == ["a", "b", "b"]
    assert rows["sent_at"].tolist() == [ts[0], ts[1], ts[1]]
    assert rows["n"].tolist() == [1, 2, 2]


def test_rejects_are_replaced_per_source(reporting_url):
    store = ReportingStore(reporting_url)
    frame = pd.DataFrame({"location": ["a.csv:3"], "record_key": ["R1"], "reason": ["bad sold_at"]})
    store.replace_rejects("store_sales", frame, run_id="r1")
    store.replace_rejects("web_orders", frame.assign(location="o.jsonl:1"), run_id="r1")
    store.replace_rejects("store_sales", frame.iloc[0:0], run_id="r2")
    rows = store.read_table("rejects")
    assert rows[["source", "location", "reason"]].values.tolist() == [["web_orders", "o.jsonl:1", "bad sold_at"]]


def test_postgres_timestamps_do_not_depend_on_the_server_timezone(pg_url):
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER DATABASE \"{engine.url.database}\" SET timezone TO 'America/New_York'"))
    engine.dispose()
    store = ReportingStore(pg_url)
    ts = pd.Series(pd.to_datetime(["2026-03-28T23:30:00Z"], utc=True))
    store.publish_days([D1], run_id="r1", facts={"messages": pd.DataFrame({"day": [D1], "sent_at": ts})})
    assert store.read_table("fact_messages")["sent_at"].tolist() == [ts[0]]


def _plain(values: pd.Series) -> list:
    return values.astype(object).where(values.notna(), None).tolist()


def _room_facts(day, rooms, roles, sent):
    return pd.DataFrame({"day": [day] * len(rooms), "chatroom_id": rooms,
                         "role": pd.array(roles, dtype="Int64"), "is_counted": [True] * len(rooms),
                         "sent_at": pd.to_datetime(sent, utc=True, format="ISO8601").astype("datetime64[us, UTC]")})


def test_fact_streams_hold_exactly_the_published_rows(reporting_url):
    """The period query reads the per-day streams: the same rows and types as the fact_* table, days
    replaced with it, a day published empty holding no rows, a column added later null before it."""
    from chatsales.facts import restore_types

    store = ReportingStore(reporting_url)
    d1 = _room_facts(D1, ["a", "b"], [1, None], ["2026-03-28T08:00:00Z", "2026-03-28T09:30:00.123456Z"])
    d2 = _room_facts(D2, ["c"], [2], ["2026-03-29T10:00:00Z"])
    store.publish_days([D1, D2], run_id="r1", facts={"messages": pd.concat([d1, d2])})
    store.publish_days([D2], run_id="r2", facts={"messages": d2.iloc[0:0]})          # D2 now empty
    store.publish_days([date(2026, 3, 30)], run_id="r3",
                       facts={"messages": _room_facts(date(2026, 3, 30), [None], [3], ["2026-03-30T07:00:00Z"])
                              .assign(extra=["x"])})
    streamed = store.read_facts()["messages"]
    assert _plain(streamed["chatroom_id"]) == ["a", "b", None]
    assert _plain(streamed["role"]) == [1, None, 3]
    assert streamed["sent_at"].tolist() == [pd.Timestamp("2026-03-28T08:00:00Z"),
                                            pd.Timestamp("2026-03-28T09:30:00.123456Z"),
                                            pd.Timestamp("2026-03-30T07:00:00Z")]
    assert streamed["day"].tolist() == [D1, D1, date(2026, 3, 30)]
    assert _plain(streamed["extra"]) == [None, None, "x"]
    rows = restore_types(store.read_table("fact_messages")).sort_values("sent_at").reset_index(drop=True)
    pd.testing.assert_frame_equal(restore_types(streamed)[rows.columns], rows, check_dtype=False)
    assert restore_types(streamed)["role"].dtype == "Int64"



def test_snapshot_facts_are_replaced_whole_whatever_the_days_published(reporting_url):
    """Requests and chatrooms are published as one snapshot: a publication of one day replaces every row of
    them, of any day (a chatroom of an earlier day that became a dialogue since, one of a day before the
    first partition), rows and streams alike; the day-bound facts keep their other days."""
    store = ReportingStore(reporting_url)
    before = pd.DataFrame({"day": [date(2026, 3, 1), D1], "chatroom_id": ["old", "a"], "n": [1, 2]})
    messages = _room_facts(D1, ["a"], [1], ["2026-03-28T08:00:00Z"])
    store.publish_days([D1], run_id="r1", facts={"messages": messages}, snapshots={"chatrooms": before})
    after = pd.DataFrame({"day": [date(2026, 3, 1), D2], "chatroom_id": ["old", "c"], "n": [5, 3]})
    written = store.publish_days([D2], run_id="r2", facts={"messages": messages.iloc[0:0].assign(day=D2)},
                                 snapshots={"chatrooms": after})
    assert written["fact_chatrooms"] == 2
    rows = store.read_table("fact_chatrooms").sort_values("chatroom_id")
    assert rows[["day", "chatroom_id", "n"]].values.tolist() == [[D2, "c", 3], [date(2026, 3, 1), "old", 5]]
    rooms = store.read_facts()["chatrooms"]
    assert _plain(rooms["chatroom_id"]) == ["old", "c"] and rooms["n"].tolist() == [5, 3]
    assert _plain(store.read_facts()["messages"]["chatroom_id"]) == ["a"]     # D1's messages are still there
    with pytest.raises(ValueError, match="outside the publication"):   # facts= stays strictly the run's days
        store.publish_days([D2], run_id="r3", facts={"chatrooms": after})

def test_fact_rows_of_an_earlier_version_are_streamed_once(reporting_url):
    """A database published before fact_streams existed: opening it converts its fact rows, once, and
    later publications replace their days in both."""
    import sqlalchemy as sa

    old = ReportingStore(reporting_url)
    old.publish_days([D1, D2], run_id="r1", facts={"messages": pd.concat([
        _room_facts(D1, ["a"], [1], ["2026-03-28T08:00:00Z"]), _room_facts(D2, ["b"], [None], ["2026-03-29T08:00:00Z"])])})
    with old.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE fact_streams"))
    old.dispose()
    store = ReportingStore(reporting_url)
    assert store.read_facts()["messages"]["chatroom_id"].tolist() == ["a", "b"]
    store.publish_days([D2], run_id="r2", facts={"messages": _room_facts(D2, ["c", "d"], [2, 2],
                                                                         ["2026-03-29T08:00:00Z"] * 2)})
    streamed = store.read_facts()["messages"]
    assert streamed["chatroom_id"].tolist() == ["a", "c", "d"]
    assert streamed["role"].tolist() == [1, 2, 2]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(fact_streams.c.fact, fact_streams.c.day, fact_streams.c.rows)
                            .order_by(fact_streams.c.day)).all() == [("messages", D1, 1), ("messages", D2, 2)]


def test_a_sqlite_connection_waits_for_a_writer_of_a_database_not_yet_in_wal_mode(tmp_path):
    """SQLite answers the switch to WAL with an immediate 'database is locked', whatever the busy timeout,
    when another connection holds the write lock of a database still in rollback mode (a first publisher
    writing the WAL header of a fresh file): the switch reads the header, then cannot upgrade to a write
    without risking a deadlock, so the busy handler is skipped. Seen in CI as a rare failure of
    test_two_first_publications_on_a_fresh_database_do_not_collide. Checked by removal: with the plain
    `PRAGMA journal_mode=WAL` of before, connect() raises OperationalError at once and this test fails."""
    import sqlite3
    import threading

    from resources.reporting_db import make_engine

    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")          # RESERVED on an empty, rollback-mode database
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:           # waits for the holder instead of failing
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1     # NORMAL
        assert not release.is_alive()            # it connected only once the holder had committed
    finally:
        release.join()
        engine.dispose()
        holder.close()
    reader = sqlite3.connect(path)              # WAL is the file's mode now, not only that connection's
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reader.close()
