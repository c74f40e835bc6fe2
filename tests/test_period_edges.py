"""Indicators whose definition looks past the end of the period (a member's answer within 24 h, a dialogue or a
sale that comes later, a question, a handling, an email fill or a rating given later, a blocked room's last
message as of now) or before its start (the attribution window of Iadv-8, products shown before an order):
over a period of several days the period query (`chatsales kpis`, from the reporting database) gives what
the definition gives on the whole data, at the period's edges.

A small demo runs from 10-20 to 10-25, and the pipeline publishes 10-20..10-23 only, as on the morning of
10-24: the days after the last published day are in the sources but not in the reporting database. Written
into its chat, for member m-edge, on each edge day E (10-21, inside the published days, and 10-23, the last
published one), local times (UTC+2):
  9a  visitor 23:30 E, member 00:10 E+1                  → answered within 24 h (Chat-Card-9)
  9b  visitor 23:30 E, member 23:31 E+1                  → not answered within 24 h
  12  request 23:00 E, visitor 23:05 E, member 00:20 E+1 → a dialogue, established after the period (12, 20)
  38  visitor 20:01 E, email request 20:02 filled at E+1 08:00 (Chat-Card-38); rating requested 23:45 E,
      given E+2 10:00, score 4 (Chat-Card-72/73)
  50  blocked: visitor 22:00 E, member 22:01 E, visitor 09:00 E+1 (Chat-Card-50: last message after the end)
  86  dialogue established 12:01 E; web order of its visitor at E+1 10:00, 100 € (Chat-Card-86: a later sale),
      refunded 40 € on 10-24 (Chat-Card-80-net)
  wq  waiting-list request 22:00 E, question at E+1 01:00 (Wlst-Card-2)
  wh  waiting-list request 23:50 E handled by m-edge at E+1 00:05 (Wlst-Card-11: not handled in the period)
and once, before the first day: bk, visitor 10-15 10:00, member shares p-0001 at 10:01; its visitor orders
p-0001 on 10-20 at 12:00, 60 € (Iadv-8 and Insi-7 look back beyond the days the period reads).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from chatsales.demo import generate_demo
from chatsales.facts import Facts, build_facts, facts_from_stored
from chatsales.kpis import compute_kpis
from chatsales.kpis.charts import compute_charts
from chatsales.period import Periods
from chatsales.query import period_charts, period_kpis, stored_facts
from chatsales.reporting.store import ReportingDb
from chatsales.settings import load_settings
from chatsales.sources.chat_db import read_chat_db
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB
from pipelines.partitions import range_tags

TZ = "Europe/Paris"
FIRST, MID, LAST = date(2026, 10, 20), date(2026, 10, 21), date(2026, 10, 23)
EDGES = (MID, LAST)
MEMBER = {"member": "m-edge"}


def utc(day: date, hhmm: str, days: int = 0) -> str:
    """The chat database's text of local `hhmm` on `day` + `days` (all before the 10-25 change: UTC+2)."""
    local = pd.Timestamp(f"{day + timedelta(days=days)} {hhmm}", tz=TZ)
    return local.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S.%f")


def _write_edges(chat_db, orders_dir) -> None:
    people, requests, rooms, messages, ratings, orders = [], [], [], [], [], []

    def room(cr: str, started: str, said, *, blocked=False, source="direct", request_at=None):
        """A chatroom of m-edge opened at `started` by its request (created then, or at `request_at`)."""
        visitor = f"v-edge-{cr}"
        created = request_at or started
        people.append((visitor, None, None, created))
        requests.append((f"rq-edge-{cr}", visitor, source, created, None, None, started, "m-edge"))
        rooms.append((f"cr-edge-{cr}", f"rq-edge-{cr}", visitor, "m-edge", source, "web", started, 0, int(blocked)))
        for n, (sender, at, kind, extra) in enumerate(said):
            messages.append(
                (f"ms-edge-{cr}-{n}", f"cr-edge-{cr}", sender, at, 0, kind, extra.get("product"), extra.get("filled"))
            )

    def order(cr: str, placed: str, total: float, product: str) -> None:
        orders.append(
            {
                "order_id": f"edge-{cr}",
                "placed_at": placed.replace(" ", "T")[:19] + "Z",
                "updated_at": placed.replace(" ", "T")[:19] + "Z",
                "email": None,
                "customer_id": None,
                "visitor_id": f"v-edge-{cr}",
                "currency": "EUR",
                "total": f"{total:.2f}",
                "status": "paid",
                "cancelled_at": None,
                "refunded": "0.00",
                "lines": [
                    {
                        "product_id": product,
                        "sku": "SKU-EDGE",
                        "title": "Edge item",
                        "category": "skincare",
                        "quantity": 1,
                        "unit_price": f"{total:.2f}",
                    }
                ],
            }
        )

    for k, e in enumerate(EDGES):
        room(
            f"9a-{k}",
            utc(e, "23:29"),
            [("visitor", utc(e, "23:30"), "text", {}), ("member", utc(e, "00:10", 1), "text", {})],
        )
        room(
            f"9b-{k}",
            utc(e, "23:29"),
            [("visitor", utc(e, "23:30"), "text", {}), ("member", utc(e, "23:31", 1), "text", {})],
        )
        room(
            f"12-{k}",
            utc(e, "23:00"),
            [("visitor", utc(e, "23:05"), "text", {}), ("member", utc(e, "00:20", 1), "text", {})],
        )
        room(
            f"38-{k}",
            utc(e, "20:00"),
            [
                ("visitor", utc(e, "20:01"), "text", {}),
                ("member", utc(e, "20:02"), "email_request", {"filled": utc(e, "08:00", 1)}),
            ],
        )
        ratings.append((f"ra-edge-{k}", f"cr-edge-38-{k}", "m-edge", utc(e, "23:45"), utc(e, "10:00", 2), 4))
        room(
            f"50-{k}",
            utc(e, "21:00"),
            [
                ("visitor", utc(e, "22:00"), "text", {}),
                ("member", utc(e, "22:01"), "text", {}),
                ("visitor", utc(e, "09:00", 1), "text", {}),
            ],
            blocked=True,
        )
        room(
            f"86-{k}",
            utc(e, "12:00"),
            [("visitor", utc(e, "12:00:30"), "text", {}), ("member", utc(e, "12:01"), "text", {})],
        )
        order(f"86-{k}", utc(e, "10:00", 1), 100.0, "p-0002")
        orders.append(
            {
                **orders[-1],
                "status": "partially_refunded",
                "refunded": "40.00",
                "updated_at": f"{LAST + timedelta(days=1)}T08:00:00Z",
            }
        )
        people.append((f"v-edge-wq-{k}", None, None, utc(e, "22:00")))
        requests.append(
            (f"rq-edge-wq-{k}", f"v-edge-wq-{k}", "waiting_list", utc(e, "22:00"), utc(e, "01:00", 1), None, None, None)
        )
        room(f"wh-{k}", utc(e, "00:05", 1), [], source="waiting_list", request_at=utc(e, "23:50"))
    before = FIRST - timedelta(days=5)
    room(
        "bk",
        utc(before, "09:59"),
        [
            ("visitor", utc(before, "10:00"), "text", {}),
            ("member", utc(before, "10:01"), "product", {"product": "p-0001"}),
        ],
    )
    order("bk", utc(FIRST, "12:00"), 60.0, "p-0001")

    with sqlite3.connect(chat_db) as db:
        db.execute("INSERT INTO members VALUES ('m-edge', 'Eda', 'Edge', 2, NULL)")
        for table, rows in (
            ("visitors", people),
            ("conversation_requests", requests),
            ("chatrooms", rooms),
            ("messages", messages),
            ("ratings", ratings),
        ):
            db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    (orders_dir / "orders-edge.jsonl").write_text("".join(json.dumps(o) + "\n" for o in orders))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(reporting url, the facts of the whole data): the chat facts built from every row of the chat
    database, the order facts as the published days attributed them (the sales of unpublished days are not
    attributed anywhere yet)."""
    home = tmp_path_factory.mktemp("edges")
    demo = generate_demo(home / "demo", FIRST, days=6, scale=0.03, seed=5)
    _write_edges(demo.chat_db_path, demo.orders_dir)
    settings = load_settings(
        {
            "CHATSALES_HOME": str(home),
            "CHATSALES_START_DATE": str(FIRST),
            "CHATSALES_TIMEZONE": TZ,
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
            "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
            "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir),
            "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
            "CHATSALES_REPORTING_DB_URL": f"sqlite:///{home / 'reporting.db'}",
        }
    )
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=range_tags(FIRST, LAST)).success
    url = settings.reporting_db_url
    with ReportingDb(url) as db:
        stored = facts_from_stored(db.read_facts())
    read = read_chat_db(f"sqlite:///{demo.chat_db_path}")
    chat = read.frames
    assert not read.rejects["record_key"].astype(str).str.contains("edge").any()
    assert chat["messages"]["sent_at"].max() > pd.Timestamp(f"{LAST + timedelta(days=1)}", tz=TZ)
    whole = build_facts(chat, stored.orders, TZ)
    return url, Facts(**{**whole.tables(), "order_lines": stored.order_lines})


def _definition(facts: Facts, first: date, last: date, refs=None, filters=None, time_slot=None) -> pd.DataFrame:
    periods = Periods.range(first, last, TZ, time_slot=time_slot)
    return compute_kpis(facts, periods, dimensions=("all",), filters=filters or {}, refs=refs)


def _triples(rows: pd.DataFrame) -> dict[str, tuple]:
    return {
        ref: tuple(None if pd.isna(v) else round(float(v), 9) for v in row)
        for ref, row in rows.set_index("kpi")[["value", "numerator", "denominator"]].iterrows()
    }


def _count(n):
    return (n, None, None)


# Every indicator whose definition reaches past the period's end (or before its start, beyond the days a
# period query reads): how to single out the edge rows (m-edge's chatrooms and sales; the waiting list, which
# no member filter narrows, by a time slot of one minute), and the value, numerator and denominator then.
EDGE_CARDS = {
    "Chat-Card-9": (MEMBER, {MID: (1 / 6, 1, 6), LAST: (2 / 12, 2, 12)}),  # 9b only: 9a's answer is after the end
    "Chat-Card-12": (MEMBER, {MID: (6 / 7, 6, 7), LAST: (12 / 14, 12, 14)}),  # 9a, 9b, 12 established later
    # dialogues by the period's end: 38, 50, 86 (120, 3660, 60 s); to 10-23 also 10-21's 9a, 9b, 12 (2460,
    # 86520, 4800 s) and 50's message of 10-22 (43200 s)
    "Chat-Card-18": (MEMBER, {MID: (1280, 3840, 3), LAST: (141000 / 9, 141000, 9)}),
    "Chat-Card-20": (MEMBER, {MID: _count(3), LAST: _count(9)}),  # 9a, 9b, 12 of 10-21 are by 10-23
    "Chat-Card-38": (MEMBER, {MID: _count(1), LAST: _count(2)}),
    "Chat-Card-50": (MEMBER, {MID: _count(0), LAST: _count(1)}),  # 50's last message is on E+1
    "Chat-Card-72": (MEMBER, {MID: _count(1), LAST: _count(2)}),
    "Chat-Card-73": (MEMBER, {MID: (4, 4, 1), LAST: (4, 8, 2)}),
    "Chat-Card-86": (MEMBER, {MID: (1 / 3, 1, 3), LAST: (1 / 9, 1, 9)}),  # 86's sale on 10-24 is not published
    "Chat-Card-80-net": (MEMBER, {MID: _count(60), LAST: _count(120)}),  # 86 of 10-21 refunded 40 on 10-24
    "Wlst-Card-2": ({"time_slot": "22:00-22:01"}, {MID: _count(1), LAST: _count(2)}),  # wq
    "Wlst-Card-11": ({"time_slot": "23:50-23:51"}, {MID: _count(1), LAST: _count(2)}),  # wh
    "Iadv-8": (MEMBER, {MID: (439200, 439200, 1), LAST: (259185, 518370, 2)}),  # bk: 5 days 2 hours
    "Insi-7": (MEMBER, {MID: (1, 1, 1), LAST: (0.5, 1, 2)}),  # bk's p-0001 was shown before its order
}


@pytest.mark.parametrize("last", EDGES, ids=str)
@pytest.mark.parametrize("ref", list(EDGE_CARDS))
def test_an_indicator_looking_past_the_period_agrees_with_its_definition(world, ref, last):
    url, whole = world
    got = _triples(period_kpis(url, FIRST, last, TZ).query("kpi == @ref"))
    assert got == _triples(_definition(whole, FIRST, last, refs=[ref]))
    options, values = EDGE_CARDS[ref]
    filters = {key: value for key, value in options.items() if key != "time_slot"}
    time_slot = options.get("time_slot")
    edge = _triples(period_kpis(url, FIRST, last, TZ, filters=filters, time_slot=time_slot).query("kpi == @ref"))
    assert edge == _triples(_definition(whole, FIRST, last, [ref], filters, time_slot))
    assert edge[ref] == tuple(None if v is None else round(float(v), 9) for v in values[last])


def test_an_answer_after_the_last_published_day_is_an_answer(world):
    """Issue 14's case: a chat starts 23:30 on the period's last day and the member answers at 00:10 the next
    day, a day not published yet. Before chatrooms carried `answered_24h`, the period query found the answer
    only in the messages of published days, and 9a of 10-23 counted as not answered (3 of 12, not 2)."""
    url, whole = world
    with ReportingDb(url) as db:
        stored = db.read_facts()
    assert stored["messages"]["day"].max() == LAST  # the answer's day is not in the reporting database
    rooms = stored["chatrooms"].set_index("chatroom_id")
    assert rooms.loc[["cr-edge-9a-1", "cr-edge-12-1"], "answered_24h"].tolist() == [True, True]
    assert not rooms.loc["cr-edge-9b-1", "answered_24h"]
    for first, want in ((LAST, (1 / 6, 1, 6)), (FIRST, (2 / 12, 2, 12))):
        got = period_kpis(url, first, LAST, TZ, filters=MEMBER).set_index("kpi").loc["Chat-Card-9"]
        assert tuple(got[["value", "numerator", "denominator"]]) == pytest.approx(want)
        assert got["numerator"] == _definition(whole, first, LAST, ["Chat-Card-9"], MEMBER)["numerator"].iloc[0]


def test_the_whole_catalog_and_charts_at_the_edges_agree_with_the_definitions(world):
    """Every card and chart over periods ending at an edge day, or at the day before it, from the reporting
    database, equals the definitions computed on the whole data."""
    url, whole = world
    for first, last in ((FIRST, MID), (FIRST, LAST), (MID, LAST), (FIRST, LAST - timedelta(days=1))):
        got = period_kpis(url, first, last, TZ)
        want = _definition(whole, first, last)
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, obj=f"{first}..{last}")
        periods = Periods.range(first, last, TZ)
        charts = compute_charts(whole, periods, dimensions=("all",), filters={})
        pd.testing.assert_frame_equal(period_charts(url, first, last, TZ), charts, obj=f"charts {first}..{last}")
    assert np.isfinite(got.set_index("kpi").loc["Iadv-8", "value"])


def test_chatrooms_published_before_answered_24h_are_looked_up_in_the_messages(world):
    """A reporting database published before chatrooms carried `answered_24h` (the column missing, or null on
    the days not re-published since) still gives Chat-Card-9 from the messages the period query reads, two
    days past its end: inside the published days, the same as the definition."""
    url, whole = world
    stored = stored_facts(url, FIRST, MID)
    rooms = stored.chatrooms
    older = rooms["answered_24h"].astype("boolean").mask(rooms["started_at"] < pd.Timestamp(str(MID), tz=TZ))
    for chatrooms in (rooms.drop(columns="answered_24h"), rooms.assign(answered_24h=older)):
        facts = Facts(**{**stored.tables(), "chatrooms": chatrooms})
        for filters in ({}, MEMBER):
            got = period_kpis(url, FIRST, MID, TZ, filters=filters, facts=facts).query("kpi == 'Chat-Card-9'")
            assert _triples(got) == _triples(_definition(whole, FIRST, MID, ["Chat-Card-9"], filters))
    assert older.isna().any() and older.notna().any()
