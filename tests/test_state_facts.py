"""The state facts are published by month: a publication builds the months whose state rows changed since
they were published and the days of the chatrooms whose first sale it may move, and nothing else; what every
fact depends on (members' roles) and a rebuild take every month again."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from chatsales import schema
from chatsales.conversation_state import REQUEST_STATE, ROOM_STATE, ROOMS
from chatsales.lake.store import Lake
from chatsales.reporting import tables as t
from chatsales.reporting.store import ReportingDb
from chatsales.state_facts import StateFacts, month_labels
from tests.test_reporting_db import _orders

TZ = "Europe/Paris"
JAN, MAR = pd.Timestamp("2026-01-15T10:00:00Z"), pd.Timestamp("2026-03-28T10:00:00Z")
D_JAN, D_MAR = date(2026, 1, 15), date(2026, 3, 28)


def _rooms(*rows: dict) -> pd.DataFrame:
    base = dict(request_id="rq", visitor_id="v", member_id="m-1", source="direct", channel="web")
    base |= dict(is_internal=False, is_blocked=False, answered_24h=False)
    frame = pd.DataFrame([{**base, **row} for row in rows])
    return pd.concat([schema.empty(ROOM_STATE), frame], ignore_index=True).astype(ROOM_STATE)


def _people(role: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {"member_id": ["m-1"], "first_name": ["A"], "last_name": ["B"], "role": [role], "store_id": [""]}
    )


def _state(rooms: pd.DataFrame, role: int = 1) -> StateFacts:
    return StateFacts.of_state(rooms, schema.empty(REQUEST_STATE), _people(role), TZ)


def _published_rooms(db: ReportingDb) -> pd.DataFrame:
    return db.read_facts()["chatrooms"].set_index("chatroom_id")


def _months(db: ReportingDb) -> dict[str, str]:
    with db.engine.connect() as conn:
        s = t.state_sources.c
        return dict(conn.execute(sa.select(s.part, s.digest).where(s.fact == "chatrooms")).all())


def test_month_labels_are_local_months():
    instants = pd.Series(pd.to_datetime(["2026-01-31T23:30:00Z", "2026-02-01T00:30:00Z", None], utc=True))
    assert month_labels(instants, TZ).tolist() == ["2026-02", "2026-02", "undated"]
    assert month_labels(instants, "UTC").tolist() == ["2026-01", "2026-02", "undated"]


def test_only_changed_months_and_credited_chatrooms_are_rebuilt(reporting_url):
    """January is published, then left alone while March changes; an order credited to a January chatroom
    moves that chatroom's first sale, so its day is rebuilt although its month did not change."""
    old = _rooms({"chatroom_id": "jan", "started_at": JAN}, {"chatroom_id": "mar", "started_at": MAR})
    with ReportingDb(reporting_url) as db:
        first = db.publish_days([D_MAR], run_id="r1", state_facts=_state(old))
        months = _months(db)
        assert first["facts.chatrooms"] == 2 and set(months) == {"2026-01", "2026-03"}

        # a later message in March: only March is built; January's stream and digest stay as they were
        later = pd.concat([old, _rooms({"chatroom_id": "mar2", "started_at": MAR + pd.Timedelta(hours=1)})])
        second = db.publish_days([D_MAR], run_id="r2", state_facts=_state(later))
        assert second["facts.chatrooms"] == 2  # mar and mar2: the day's stream holds the whole day
        assert _months(db)["2026-01"] == months["2026-01"] and _months(db)["2026-03"] != months["2026-03"]

        # an order of March credited to the January chatroom: its first sale moves, its month did not
        sale = _orders([{"order_id": "o1", "chatroom_id": "jan", "placed_at": MAR, "day": D_MAR}])
        third = db.publish_days([D_MAR], run_id="r3", tables={"attributed_orders": sale}, state_facts=_state(later))
        assert third["facts.chatrooms"] == 1
        assert _published_rooms(db).loc["jan", "first_sale_at"] == MAR

        # the order moves to another chatroom: January's first sale goes away again
        moved = sale.assign(chatroom_id="mar")
        db.publish_days([D_MAR], run_id="r4", tables={"attributed_orders": moved}, state_facts=_state(later))
        rooms = _published_rooms(db)
    assert pd.isna(rooms.loc["jan", "first_sale_at"]) and rooms.loc["mar", "first_sale_at"] == MAR
    assert sorted(rooms.index) == ["jan", "mar", "mar2"]


def test_a_clean_month_is_not_rebuilt_unless_the_members_change_or_a_rebuild_asks(reporting_url):
    """The proof that a month is left alone: its stream, removed behind the publication's back, stays removed
    by a night that does not touch it; a change of a member's role, or a rebuild, brings it back."""
    rooms = _rooms({"chatroom_id": "jan", "started_at": JAN}, {"chatroom_id": "mar", "started_at": MAR})
    with ReportingDb(reporting_url) as db:
        db.publish_days([D_MAR], run_id="r1", state_facts=_state(rooms))

        def drop_january():
            with db.engine.begin() as conn:
                conn.execute(t.fact_streams.delete().where(t.fact_streams.c.day == D_JAN))

        drop_january()
        db.publish_days([D_MAR], run_id="r2", state_facts=_state(rooms))
        assert sorted(_published_rooms(db).index) == ["mar"]

        db.publish_days([D_MAR], run_id="r3", state_facts=_state(rooms), rebuild_state=True)
        assert sorted(_published_rooms(db).index) == ["jan", "mar"]

        drop_january()
        db.publish_days([D_MAR], run_id="r4", state_facts=_state(rooms, role=2))
        published = _published_rooms(db)
    assert sorted(published.index) == ["jan", "mar"] and published["role"].tolist() == [2, 2]


def test_a_month_the_state_no_longer_has_is_removed(reporting_url):
    rooms = _rooms({"chatroom_id": "jan", "started_at": JAN}, {"chatroom_id": "mar", "started_at": MAR})
    with ReportingDb(reporting_url) as db:
        db.publish_days([D_MAR], run_id="r1", state_facts=_state(rooms))
        written = db.publish_days([D_MAR], run_id="r2", state_facts=_state(rooms.iloc[1:]))
        assert written["facts.chatrooms"] == 0
        assert sorted(_published_rooms(db).index) == ["mar"] and set(_months(db)) == {"2026-03"}


def test_the_state_read_from_the_lake_builds_what_the_rows_in_memory_build(tmp_path):
    """The publication reads from the lake only the months it rebuilds and the days of the credited
    chatrooms; it builds what the same rows held in memory build, for months and for those days, and its
    month digests come from the lake's files."""
    from chatsales.days import state_facts

    lake = Lake(tmp_path, TZ)
    rooms = _rooms(
        {"chatroom_id": "jan", "started_at": JAN},
        {"chatroom_id": "jan2", "started_at": JAN + pd.Timedelta(days=3)},
        {"chatroom_id": "feb", "started_at": pd.Timestamp("2026-01-31T23:30:00Z")},  # February in Paris
        {"chatroom_id": "feb2", "started_at": pd.Timestamp("2026-02-02T10:00:00Z")},
        {"chatroom_id": "mar", "started_at": MAR},
    )
    lake.upsert(ROOMS, rooms)
    stored = lake.read(ROOMS)
    requests = schema.empty(REQUEST_STATE)
    by_lake = state_facts(lake, _people(), TZ)
    in_memory = StateFacts.of_state(stored, requests, _people(), TZ)
    assert list(by_lake.month_digests("chatrooms")) == ["2026-01", "2026-02", "2026-03"]
    assert by_lake.month_digests("requests") == {}
    cases = (({"2026-02"}, ()), ({"2026-03"}, ("jan",)), (set(), ("jan2", "feb")), (set(), ()), ({"2026-01"}, ("feb",)))
    for wanted, credited in cases:
        built = by_lake.build("chatrooms", wanted, credited)
        pd.testing.assert_frame_equal(built, in_memory.build("chatrooms", wanted, credited))
    assert by_lake.build("chatrooms", {"2026-03"}, ("jan",))["chatroom_id"].tolist() == ["jan", "mar"]
    assert by_lake.build("chatrooms", {"2026-02"})["chatroom_id"].tolist() == ["feb", "feb2"]
    assert by_lake.build("chatrooms", set(), ("feb",))["chatroom_id"].tolist() == ["feb"]  # its day, not its month


def test_many_chatrooms_take_their_first_sales_from_the_days_since_the_first_started(reporting_url, monkeypatch):
    """Past FIRST_SALES_BY_INDEX chatrooms the first sales come from one pass over the orders, from the day
    before the first of them started: the same sales as the lookup by chatroom, the older days not read."""
    from chatsales.reporting import store

    sales = _orders(
        [
            {"order_id": "o1", "chatroom_id": "jan", "placed_at": JAN + pd.Timedelta(days=1), "day": D_JAN},
            {"order_id": "o2", "chatroom_id": "mar", "placed_at": MAR, "day": D_MAR},
            {"order_id": "o3", "chatroom_id": "mar", "placed_at": MAR + pd.Timedelta(hours=2), "day": D_MAR},
        ]
    )
    rooms = _rooms({"chatroom_id": "jan", "started_at": JAN}, {"chatroom_id": "mar", "started_at": MAR})
    with ReportingDb(reporting_url) as db:
        db.publish_days([D_JAN, D_MAR], run_id="r1", tables={"attributed_orders": sales})
        with db.engine.connect() as conn:
            by_index = store.first_sales_of(conn, ["jan", "mar"])
            monkeypatch.setattr(store, "FIRST_SALES_BY_INDEX", 0)
            sent = []
            listen = lambda *args: sent.append(args[2:4])  # noqa: E731 (statement, parameters)
            sa.event.listen(db.engine, "before_cursor_execute", listen)
            whole = store.first_sales_of(conn, ["jan", "mar"], since=D_JAN)
            sa.event.remove(db.engine, "before_cursor_execute", listen)
            if db.engine.dialect.name == "sqlite":  # the days by their index, not every order by chatroom
                ((statement, parameters),) = sent
                plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
                assert any(
                    step.startswith("SEARCH attributed_orders USING INDEX ix_attributed_orders_day") for step in plan
                )
                assert not [step for step in plan if step.startswith("SCAN attributed_orders")], plan
            recent = store.first_sales_of(conn, ["mar"], since=D_MAR)
        assert by_index.to_dict() == whole.to_dict() == {"jan": JAN + pd.Timedelta(days=1), "mar": MAR}
        assert recent.to_dict() == {"mar": MAR}  # January's order was not read
        db.publish_days([D_MAR], run_id="r2", state_facts=_state(rooms))
        assert _published_rooms(db)["first_sale_at"].to_dict() == {"jan": JAN + pd.Timedelta(days=1), "mar": MAR}
