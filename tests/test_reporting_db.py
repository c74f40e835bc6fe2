"""The reporting database: whole days replaced in one transaction, the ledger, rejects, facts stored once,
publications refused when a source collapsed, schema changes by Alembic; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from chatsales.reporting import tables as t
from chatsales.reporting.engine import make_engine
from chatsales.reporting.store import PublicationRefused, ReportingDb

D1, D2 = date(2026, 3, 28), date(2026, 3, 29)
T = pd.Timestamp("2026-03-28T10:00:00Z")


def _orders(rows):
    base = dict(
        sales_channel="web",
        placed_at=T,
        day=D1,
        customer_hash="h",
        total=10.0,
        net_total=10.0,
        currency="EUR",
        is_cancelled=False,
        is_first_order=True,
        attributed=True,
        reason=None,
        chatroom_id="cr-1",
        member_id="m-1",
        source="direct",
        touchpoint="web",
        match_key="email",
        last_message_at=T,
        window_days=14,
        store_id=None,
    )
    return pd.DataFrame([{**base, **r} for r in rows])


def _kpis(day, value):
    return pd.DataFrame(
        [
            {
                "day": day,
                "kpi": "Chat-Card-1",
                "dimension": "all",
                "dimension_value": "all",
                "value": value,
                "numerator": None,
                "denominator": None,
                "is_fluctuating": False,
            }
        ]
    )


def _counts(day, web=10, store=2, messages=100, clicks=5):
    return pd.DataFrame(
        [{"day": day, "web_orders": web, "store_receipts": store, "messages": messages, "campaign_clicks": clicks}]
    )


def test_publish_replaces_whole_days_and_keeps_others(reporting_url):
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1, D2], run_id="r1", tables={"kpi_daily": pd.concat([_kpis(D1, 3.0), _kpis(D2, 4.0)])})
        db.publish_days([D1], run_id="r2", tables={"kpi_daily": _kpis(D1, 5.0)})
        rows = db.read_table("kpi_daily").sort_values("day")
    assert rows[["day", "value", "run_id"]].values.tolist() == [[D1, 5.0, "r2"], [D2, 4.0, "r1"]]


def test_publish_refuses_rows_of_other_days_and_writes_nothing(reporting_url):
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1], run_id="r1", tables={"kpi_daily": _kpis(D1, 1.0)})
        with pytest.raises(ValueError, match="outside the publication"):
            db.publish_days([D1], run_id="r2", tables={"kpi_daily": pd.concat([_kpis(D1, 9.0), _kpis(D2, 9.0)])})
        assert db.read_table("kpi_daily")["value"].tolist() == [1.0]


def test_failed_publication_rolls_back_every_table(reporting_url):
    with ReportingDb(reporting_url) as db:
        db.publish_days(
            [D1], run_id="r1", tables={"attributed_orders": _orders([{"order_id": "o1"}]), "kpi_daily": _kpis(D1, 1.0)}
        )
        with pytest.raises(ValueError):
            db.publish_days(
                [D1],
                run_id="r2",
                tables={
                    "attributed_orders": _orders([{"order_id": "o2"}]),
                    "kpi_daily": pd.concat([_kpis(D1, 2.0), _kpis(D2, 2.0)]),
                },
            )
        assert db.read_table("attributed_orders")["order_id"].tolist() == ["o1"]
        assert db.read_table("kpi_daily")["value"].tolist() == [1.0]
        assert len(db.read_table("attribution_ledger")) == 1


def test_ledger_records_each_change_once(reporting_url):
    first = _orders(
        [
            {"order_id": "o1"},
            {"order_id": "o2", "attributed": False, "reason": "no_dialogue", "chatroom_id": None, "member_id": None},
        ]
    )
    second = first.copy()
    second.loc[0, ["chatroom_id", "member_id"]] = ["cr-2", "m-2"]
    second.loc[1, ["attributed", "reason", "chatroom_id", "member_id"]] = [True, None, "cr-1", "m-1"]
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1], run_id="r1", tables={"attributed_orders": first})
        db.publish_days([D1], run_id="r2", tables={"attributed_orders": first})  # unchanged: nothing added
        db.publish_days([D1], run_id="r3", tables={"attributed_orders": second}, counts=_counts(D1), force=True)
        ledger = db.read_table("attribution_ledger").sort_values(["run_id", "order_id"])
    shown = ledger[["run_id", "order_id", "change", "old_chatroom_id", "new_chatroom_id"]]
    assert shown.astype(object).where(shown.notna(), None).values.tolist() == [
        ["r1", "o1", "first", None, "cr-1"],
        ["r1", "o2", "first", None, None],
        ["r3", "o1", "moved", "cr-1", "cr-2"],
        ["r3", "o2", "gained", None, "cr-1"],
    ]
    assert ledger["forced"].tolist() == [False, False, True, True]


def test_day_facts_are_replaced_by_day_and_stored_once(reporting_url):
    """The facts live only as one Arrow stream per fact and day: no row table per fact."""
    ts = pd.Series(pd.to_datetime(["2026-03-28T23:30:00Z", "2026-03-29T01:00:00Z"], utc=True))
    messages = pd.DataFrame({"day": [D1, D2], "chatroom_id": ["a", "b"], "sent_at": ts, "n": [1, 2]})
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1, D2], run_id="r1", day_facts={"messages": messages})
        db.publish_days([D2], run_id="r2", day_facts={"messages": messages.iloc[[1, 1]]})
        streamed = db.read_facts()["messages"]
        assert not [name for name in db.table_names() if name.startswith("fact_") and name != "fact_streams"]
    assert streamed["chatroom_id"].tolist() == ["a", "b", "b"]
    assert streamed["sent_at"].tolist() == [ts[0], ts[1], ts[1]]
    assert streamed["day"].tolist() == [D1, D2, D2]


def test_state_facts_rewrite_only_the_days_whose_rows_changed(reporting_url):
    """Requests and chatrooms are state: one row each, as of now. A publication rewrites the streams of the
    days whose rows changed (a chatroom of an earlier day that became a dialogue since), removes the days the
    state no longer has, and leaves the other days' streams as they were."""
    before = pd.DataFrame({"day": [date(2026, 3, 1), D1, D1], "chatroom_id": ["old", "a", "b"], "n": [1, 2, 3]})
    after = pd.DataFrame({"day": [D1, D1, D2], "chatroom_id": ["a", "b", "c"], "n": [2, 4, 3]})
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1], run_id="r1", state_facts={"chatrooms": before.assign(first_sale_at=pd.NaT)})
        written = db.publish_days([D2], run_id="r2", state_facts={"chatrooms": after.assign(first_sale_at=pd.NaT)})
        rooms = db.read_facts()["chatrooms"]
        with db.engine.connect() as conn:
            days = (
                conn.execute(
                    sa.select(t.fact_streams.c.day)
                    .where(t.fact_streams.c.fact == "chatrooms")
                    .order_by(t.fact_streams.c.day)
                )
                .scalars()
                .all()
            )
    assert written["facts.chatrooms"] == 3  # D1 (b changed) and D2 (new); 2026-03-01 removed
    assert rooms[["chatroom_id", "n"]].values.tolist() == [["a", 2], ["b", 4], ["c", 3]]
    assert days == [D1, D2]


def test_a_chatrooms_first_sale_comes_from_what_is_published(reporting_url):
    """Chat-Card-86 of a period reads the chatroom facts' first sale: the publication takes it from
    attributed_orders after writing the day's own rows, so it includes them."""
    rooms = pd.DataFrame({"day": [D1, D1], "chatroom_id": ["cr-1", "cr-2"]})
    orders = _orders(
        [
            {"order_id": "o1", "placed_at": T + pd.Timedelta(hours=2)},
            {"order_id": "o2", "total": 0.0, "net_total": 0.0},  # a zero total is no sale
            {"order_id": "o3", "chatroom_id": "cr-2", "is_cancelled": True},
        ]
    )
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1], run_id="r1", tables={"attributed_orders": orders}, state_facts={"chatrooms": rooms})
        facts = db.read_facts()["chatrooms"].set_index("chatroom_id")["first_sale_at"]
    assert facts["cr-1"] == T + pd.Timedelta(hours=2) and pd.isna(facts["cr-2"])


@pytest.mark.parametrize(("web", "store"), [(0, 2), (10, 0), (4, 2)])
def test_a_source_that_vanished_or_collapsed_is_refused_and_nothing_is_replaced(reporting_url, web, store):
    """A day fed 0 web orders (or receipts), or fewer than half of what it holds, is not replaced: the
    refusal names the source, the day, both counts and the setting; --force publishes anyway."""
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1], run_id="r1", tables={"kpi_daily": _kpis(D1, 1.0)}, counts=_counts(D1))
        with pytest.raises(PublicationRefused, match=r"CHATSALES_MAX_DAY_DROP_PCT=50%") as refused:
            db.publish_days(
                [D1], run_id="r2", tables={"kpi_daily": _kpis(D1, 0.0)}, counts=_counts(D1, web=web, store=store)
            )
        source, old, new, what = (
            ("web_orders", 10, web, "web orders") if web != 10 else ("store_sales", 2, store, "store receipts")
        )
        assert str(refused.value).startswith(
            f"{source}: {D1} would go from {old} {what} to {new}, a fall of more "
            "than CHATSALES_MAX_DAY_DROP_PCT=50%. Nothing was replaced"
        )
        assert db.read_table("kpi_daily")["run_id"].tolist() == ["r1"]
        db.publish_days(
            [D1],
            run_id="r3",
            tables={"kpi_daily": _kpis(D1, 0.0)},
            counts=_counts(D1, web=web, store=store),
            force=True,
        )
        assert db.read_table("kpi_daily")["run_id"].tolist() == ["r3"]
        assert db.read_table("pipeline_days")["web_orders"].tolist() == [web]


def test_rejects_are_replaced_per_location_read_again(reporting_url):
    frame = pd.DataFrame(
        {"location": ["a.csv:3"], "record_key": ["R1"], "reason": ["sold_at: not a valid ISO 8601 timestamp"]}
    )
    with ReportingDb(reporting_url) as db:
        db.replace_rejects("store_sales", frame, run_id="r1", locations=["a.csv"])
        db.replace_rejects("store_sales", frame.assign(location="b.csv", rows=12), run_id="r1", locations=["b.csv"])
        db.replace_rejects("web_orders", frame.assign(location="o.jsonl:1"), run_id="r1")
        db.replace_rejects("store_sales", frame.iloc[0:0], run_id="r2", locations=["a.csv"])  # a.csv fixed
        rows = db.read_table("rejects").sort_values("location")
    assert rows[["source", "location", "rows"]].values.tolist() == [
        ["store_sales", "b.csv", 12],
        ["web_orders", "o.jsonl:1", 1],
    ]


def test_a_first_read_of_years_of_files_replaces_their_rejects(reporting_url):
    """A first read of two years of daily POS files re-reads 730 locations at once: one OR of 730 LIKEs passed
    SQLite's expression depth of 1000 ('Expression tree is too large') and failed the night."""
    files = [f"store-{n:04d}.csv" for n in range(730)]
    frame = pd.DataFrame({"location": [f"{f}:2" for f in files], "record_key": "R", "reason": "bad"})
    with ReportingDb(reporting_url) as db:
        db.replace_rejects("store_sales", frame, run_id="r1", locations=files)
        db.replace_rejects("store_sales", frame.iloc[:10], run_id="r2", locations=files)
        rows = db.read_table("rejects")
    assert sorted(rows["location"]) == sorted(f"{f}:2" for f in files[:10])
    assert set(rows["run_id"]) == {"r2"}


def test_postgres_timestamps_do_not_depend_on_the_server_timezone(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"ALTER DATABASE \"{engine.url.database}\" SET timezone TO 'America/New_York'"))
    engine.dispose()
    with ReportingDb(pg_url) as db:
        db.publish_days([D1], run_id="r1", tables={"attributed_orders": _orders([{"order_id": "o1"}])})
        assert db.read_table("attributed_orders")["placed_at"].tolist() == [T]


def test_a_reader_connection_cannot_write(reporting_url):
    """The read-only connection of the dashboard: SQLite opened with mode=ro, a PostgreSQL session in
    read-only mode. A write through it fails."""
    with ReportingDb(reporting_url) as db:
        db.publish_days([D1], run_id="r1", tables={"kpi_daily": _kpis(D1, 1.0)})
    with ReportingDb(reporting_url, read_only=True) as reader:
        assert reader.read_table("kpi_daily")["value"].tolist() == [1.0]
        with pytest.raises(sa.exc.DBAPIError, match="(?i)read.?only"):
            with reader.engine.begin() as conn:
                conn.execute(t.kpi_daily.delete())


def test_a_sqlite_connection_waits_for_a_writer_of_a_database_not_yet_in_wal_mode(tmp_path):
    """SQLite answers the switch to WAL with an immediate 'database is locked', whatever the busy timeout,
    when another connection holds the write lock of a database still in rollback mode (a first publisher
    writing the WAL header of a fresh file). Checked by removal: with a plain `PRAGMA journal_mode=WAL`,
    connect() raises OperationalError at once and this test fails."""
    import sqlite3
    import threading

    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # RESERVED on an empty, rollback-mode database
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:  # waits for the holder instead of failing
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert not release.is_alive()  # it connected only once the holder had committed
    finally:
        release.join()
        engine.dispose()
        holder.close()
    reader = sqlite3.connect(path)  # WAL is the file's mode now, not only that connection's
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reader.close()
