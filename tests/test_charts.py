"""Charts and the seed's own examples, on a small hand-built week, through the reporting database on SQLite
and PostgreSQL: the facts are published, then the period query reads them back. Every expected value is
worked out by hand below.

Europe/Paris. SUN = 2026-03-29 (23 hours: clocks go forward at 01:00 UTC), MON 03-30, TUE 03-31, WED 04-01.
Direct (m-1, web; request created = chatroom started):
  d-s1..d-s5  started SUN 10:00Z; visitor MON 09:00Z, member MON 10:00Z: established MON, after exactly 1 day
  d-m1..d-m10 started MON 06:00Z; visitor +1 s, member +59, +60, +119, +120, +300, +599, +600, +1800, +3600,
              +7200 s (= establishment time and, on MON, dialogue duration); d-m10 also has an automatic member
              message at +5 s; d-m1 a visitor message TUE 06:00Z (one day after its start)
  d-e1        started TUE 12:00Z, only an automatic member message: an empty conversation
Hook h-1 (m-2, no request) started TUE 12:00Z: visitor +10 s, member +610 s.
Internal i-1 started MON 06:00Z, both parties wrote: excluded from everything.
Waiting list (handled by m-2): w-1 created FRI 03-27 10:00Z, handled WED 10:00Z (5 days); w-2 created TUE
  10:00Z, handled WED 10:00Z (1 day); w-3 created WED 09:00Z, handled +60 s, chatroom cw-3 started at the
  handling, visitor +30 s, member +50 s; w-4 created WED 09:10Z, handled +59 s; w-5 created WED 09:20Z,
  canceled 09:30Z, never handled.
Orders by visitor id: o-1 (d-m1) MON 07:00:59Z, o-2 (d-m2) MON 06:30Z, o-3 (d-s2) TUE 10:00Z, o-4 (d-s1)
  04-06 10:00Z, o-5 (d-e1, no dialogue: not attributed).
Rating ra-1 on d-m3 requested MON 12:00Z, answered 5 three days later (THU 04-02).
Session m-1 SAT 22:00Z → SUN 23:00Z: one hour on SAT, the whole 23-hour SUN, one hour on MON.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from chatsales import schema
from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis import REGISTRY, compute_kpis
from chatsales.kpis.charts import (
    CHARTS,
    DELAY_BUCKETS,
    DURATION_BUCKETS,
    HANDLING_BUCKETS,
    LINE_BY_SOURCE,
    LINE_SERIES,
    compute_charts,
    line_series,
)
from chatsales.period import Periods
from chatsales.publication import attributed_order_rows
from chatsales.query import period_charts, period_kpis
from chatsales.reporting.store import ReportingDb as ReportingStore

TZ = "Europe/Paris"
SUN, MON, TUE, WED = date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1)
EST_SECONDS = [59, 60, 119, 120, 300, 599, 600, 1800, 3600, 7200]
SOURCES = ["waiting_list", "direct", "hook", "phygital"]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _frame(rows, table):
    columns = schema.CHAT_TABLES[table] if isinstance(table, str) else table
    df = pd.DataFrame(rows, columns=list(columns))
    for name in [c for c, t in columns.items() if t == schema.TS]:
        df[name] = pd.to_datetime(df[name], utc=True, format="ISO8601")
    return schema.conform(df, columns)


def build_world(rating_given: bool = True):
    """The chat tables and published order rows of the week described in the module docstring."""
    requests, rooms, messages = [], [], []
    n = iter(range(10_000))

    def msg(room, sender, at, automatic=False):
        messages.append((f"ms-{next(n)}", room, sender, at, automatic, "text", None, None))

    def direct(room, started, visitor_after=None, member_after=None):
        requests.append((f"rq-{room}", f"v-{room}", "direct", started, None, None, started, "m-1"))
        rooms.append((room, f"rq-{room}", f"v-{room}", "m-1", "direct", "web", started, False, False))
        if visitor_after is not None:
            msg(room, "visitor", started + pd.Timedelta(seconds=visitor_after))
        if member_after is not None:
            msg(room, "member", started + pd.Timedelta(seconds=member_after))

    for i in range(1, 6):
        direct(f"d-s{i}", ts("2026-03-29T10:00Z"), 23 * 3600, 24 * 3600)
    mon = ts("2026-03-30T06:00Z")
    for i, seconds in enumerate(EST_SECONDS, start=1):
        direct(f"d-m{i}", mon, 1, seconds)
    msg("d-m10", "member", mon + pd.Timedelta(seconds=5), automatic=True)
    msg("d-m1", "visitor", ts("2026-03-31T06:00Z"))
    direct("d-e1", ts("2026-03-31T12:00Z"))
    msg("d-e1", "member", ts("2026-03-31T12:00:05Z"), automatic=True)
    rooms.append(("h-1", None, "v-h-1", "m-2", "hook", "web", ts("2026-03-31T12:00Z"), False, False))
    msg("h-1", "visitor", ts("2026-03-31T12:00:10Z"))
    msg("h-1", "member", ts("2026-03-31T12:10:10Z"))
    rooms.append(("i-1", None, "v-i-1", "m-2", "direct", "app", mon, True, False))
    msg("i-1", "visitor", mon + pd.Timedelta(seconds=1))
    msg("i-1", "member", mon + pd.Timedelta(seconds=2))
    wed9 = ts("2026-04-01T09:00Z")
    requests += [
        ("w-1", "v-w-1", "waiting_list", ts("2026-03-27T10:00Z"), None, None, ts("2026-04-01T10:00Z"), "m-2"),
        ("w-2", "v-w-2", "waiting_list", ts("2026-03-31T10:00Z"), None, None, ts("2026-04-01T10:00Z"), "m-2"),
        ("w-3", "v-w-3", "waiting_list", wed9, None, None, wed9 + pd.Timedelta(seconds=60), "m-2"),
        ("w-4", "v-w-4", "waiting_list", ts("2026-04-01T09:10Z"), None, None, ts("2026-04-01T09:10:59Z"), "m-2"),
        ("w-5", "v-w-5", "waiting_list", ts("2026-04-01T09:20Z"), None, ts("2026-04-01T09:30Z"), None, None),
    ]
    rooms.append(("cw-3", "w-3", "v-w-3", "m-2", "waiting_list", "web", wed9 + pd.Timedelta(seconds=60), False, False))
    msg("cw-3", "visitor", wed9 + pd.Timedelta(seconds=90))
    msg("cw-3", "member", wed9 + pd.Timedelta(seconds=110))
    visitors = sorted({r[2] for r in rooms} | {r[1] for r in requests})
    rating = (
        ("ra-1", "d-m3", "m-1", ts("2026-03-30T12:00Z"), ts("2026-04-02T08:00Z"), 5)
        if rating_given
        else ("ra-1", "d-m3", "m-1", ts("2026-03-30T12:00Z"), None, None)
    )
    chat = {
        "members": _frame([("m-1", "A", "One", 1, None), ("m-2", "B", "Two", 2, None)], "members"),
        "visitors": _frame([(v, None, None, "2026-03-01T00:00Z") for v in visitors], "visitors"),
        "conversation_requests": _frame(requests, "conversation_requests"),
        "chatrooms": _frame(rooms, "chatrooms"),
        "messages": _frame(messages, "messages"),
        "ratings": _frame([rating], "ratings"),
        "hook_events": schema.empty(schema.CHAT_TABLES["hook_events"]),
        "member_sessions": _frame([("m-1", "2026-03-28T22:00Z", "2026-03-29T23:00Z")], "member_sessions"),
        "identity_links": schema.empty(schema.CHAT_TABLES["identity_links"]),
    }
    base = dict(
        updated_at="2026-03-30T00:00Z",
        customer_id=None,
        currency="EUR",
        refunded=0.0,
        status="paid",
        is_first_order=pd.NA,
        store_id=None,
        store_name=None,
        store_city=None,
        source_location="t",
        email=None,
        sales_channel="web",
        total=10.0,
    )
    orders = _frame(
        [
            {**base, "order_id": o, "visitor_id": v, "placed_at": at}
            for o, v, at in (
                ("o-1", "v-d-m1", "2026-03-30T07:00:59Z"),
                ("o-2", "v-d-m2", "2026-03-30T06:30Z"),
                ("o-3", "v-d-s2", "2026-03-31T10:00Z"),
                ("o-4", "v-d-s1", "2026-04-06T10:00Z"),
                ("o-5", "v-d-e1", "2026-03-31T13:00Z"),
            )
        ],
        schema.ORDERS,
    )
    rows = attributed_order_rows(orders, attribute(orders, chat, 14), timezone=TZ, pii_key="k")
    assert rows.set_index("order_id")["attributed"].to_dict() == {
        "o-1": True,
        "o-2": True,
        "o-3": True,
        "o-4": True,
        "o-5": False,
    }
    return chat, rows


@pytest.fixture(scope="module")
def world():
    chat, rows = build_world()
    return build_facts(chat, rows, TZ)


def publish(url: str, facts, run_id: str = "t") -> list[date]:
    """Every day of the facts into the reporting database, as the pipeline's publication does."""
    tables = facts.tables()
    days = sorted(set().union(*[set(f["day"]) for f in tables.values() if len(f)]))
    with ReportingStore(url) as db:
        db.publish_facts(facts, days, run_id=run_id)
    return days


def buckets(rows: pd.DataFrame, chart: str, period: int = 0, dimension: str = "all", value: str = "all") -> dict:
    picked = rows[
        (rows["chart"] == chart)
        & (rows["period"] == period)
        & (rows["dimension"] == dimension)
        & (rows["dimension_value"] == value)
    ]
    return dict(zip(picked["bucket"], picked["count"].astype(int)))


def nonzero(counts: dict) -> dict:
    return {b: n for b, n in counts.items() if n}


def kpis_of(url, first, last=None, **kw) -> pd.DataFrame:
    return period_kpis(url, first, last or first, TZ, **kw).set_index("kpi")


# --- the seed's examples, through the reporting database ----------------------------------------------


def test_seed_establishment_rate_150_percent(reporting_url, world):
    """'5 new requests on a Sunday, 10 on Monday, all 15 converted into a dialogue on Monday: Monday's
    rate will be 150%' (Chat-Card-11), while the fluctuating rate (Chat-Card-12) credits Sunday's requests."""
    publish(reporting_url, world)
    monday = kpis_of(reporting_url, MON)
    assert monday.loc["Chat-Card-10", "value"] == 15  # the internal chatroom i-1 is not a dialogue
    assert monday.loc["Chat-Card-0", "value"] == 10
    assert monday.loc["Chat-Card-11", ["value", "numerator", "denominator"]].tolist() == [1.5, 15.0, 10.0]
    sunday = kpis_of(reporting_url, SUN)
    assert sunday.loc["Chat-Card-11", "value"] == 0.0
    assert sunday.loc["Chat-Card-12", ["value", "numerator", "denominator"]].tolist() == [1.0, 5.0, 5.0]
    both = kpis_of(reporting_url, SUN, MON)  # over both days: 15 / 15
    assert both.loc["Chat-Card-11", "value"] == 1.0


def test_seed_handling_rate_above_100_percent_and_not_handled_is_not_a_difference(reporting_url, world):
    """Wlst-Card-12 'might be greater than 100%' when older requests are handled; Wlst-Card-11 'is NOT the
    difference between the number of new requests and the number of requests handled'."""
    publish(reporting_url, world)
    wed = kpis_of(reporting_url, WED)
    assert wed.loc["Wlst-Card-1", "value"] == 3  # w-3, w-4, w-5
    assert wed.loc["Wlst-Card-10", "value"] == 4  # w-1 (5 days old), w-2, w-3, w-4
    assert wed.loc["Wlst-Card-12", ["value", "numerator", "denominator"]].tolist() == [4 / 3, 4.0, 3.0]
    assert wed.loc["Wlst-Card-11", "value"] == 1  # w-5; 3 − 4 would be −1
    tue = kpis_of(reporting_url, TUE)
    assert tue.loc["Wlst-Card-11", "value"] == 1  # w-2, handled the next day
    assert tue.loc["Wlst-Card-12", "value"] == 0.0
    assert kpis_of(reporting_url, TUE, WED).loc["Wlst-Card-11", "value"] == 1  # w-2 handled within TUE..WED


def test_seed_late_rating_changes_the_request_day(reporting_url):
    """Chat-Card-72/73 'are based on the date the rating was requested ... may fluctuate, as the rating may
    be given at a later date': the answer of THU changes MONDAY once that day is published again."""
    chat, rows = build_world(rating_given=False)
    publish(reporting_url, build_facts(chat, rows, TZ), run_id="monday-night")
    before = kpis_of(reporting_url, MON)
    assert before.loc["Chat-Card-71", "value"] == 1 and before.loc["Chat-Card-72", "value"] == 0
    assert pd.isna(before.loc["Chat-Card-73", "value"])
    chat, rows = build_world(rating_given=True)
    publish(reporting_url, build_facts(chat, rows, TZ), run_id="thursday-night")
    after = kpis_of(reporting_url, MON)
    assert after.loc["Chat-Card-72", "value"] == 1
    assert after.loc["Chat-Card-73", ["value", "numerator", "denominator"]].tolist() == [5.0, 5.0, 1.0]
    assert kpis_of(reporting_url, date(2026, 4, 2)).loc["Chat-Card-72", "value"] == 0  # not the answer's day


def test_seed_dialogue_duration_is_capped_by_the_period(reporting_url, world):
    """'The maximum duration of the dialogue will never exceed the length of the period selected': d-m1's
    TUE message does not count on MON, and does over MON..TUE."""
    publish(reporting_url, world)
    monday = kpis_of(reporting_url, MON)
    assert monday.loc["Chat-Card-18", ["value", "numerator", "denominator"]].tolist() == [
        sum(EST_SECONDS) / 10,
        float(sum(EST_SECONDS)),
        10.0,
    ]
    assert monday.loc["Chat-Card-19", "value"] == (300 + 599) / 2
    two = kpis_of(reporting_url, MON, TUE)  # d-m1 lasts a day; h-1 610 s joins
    assert two.loc["Chat-Card-18", ["numerator", "denominator"]].tolist() == [
        float(sum(EST_SECONDS) - 59 + 86_400 + 610),
        11.0,
    ]


def test_seed_automatic_messages_and_internal_chatrooms(reporting_url, world):
    """'Automatic messages are excluded' (Chat-Card-2, 4); 'Internal conversations ... are excluded'."""
    publish(reporting_url, world)
    tue = kpis_of(reporting_url, TUE)
    assert tue.loc["Chat-Card-1", "value"] == 2  # d-e1 and h-1
    assert tue.loc["Chat-Card-2", "value"] == 1  # d-e1: only an automatic message
    assert tue.loc["Chat-Card-4", "value"] == 0
    monday = kpis_of(reporting_url, MON)
    assert monday.loc["Chat-Card-1", "value"] == 10  # i-1 started MON too, internal
    assert monday.loc["Chat-Card-20", "value"] == 15
    assert monday.loc["Chat-Card-14", "numerator"] == sum(EST_SECONDS) + 5 * 86_400  # d-m10: 7200 s, not 5


def test_seed_dst_day_has_23_hours(reporting_url, world):
    """A member online through the whole of SUN 2026-03-29 is online 23 hours that day, not 24."""
    publish(reporting_url, world)
    assert kpis_of(reporting_url, SUN).loc["Amb-Card-52", "value"] == 23 * 3600
    assert kpis_of(reporting_url, date(2026, 3, 28)).loc["Amb-Card-52", "value"] == 3600
    assert kpis_of(reporting_url, MON).loc["Amb-Card-52", "value"] == 3600


def test_seed_time_slot_excludes_events(reporting_url, world):
    """A 08:00–09:00 slot on MON (local) keeps the dialogues established from 08:00:00 up to 08:59:59."""
    publish(reporting_url, world)
    slot = kpis_of(reporting_url, MON, time_slot="08:00-09:00")
    assert slot.loc["Chat-Card-10", "value"] == 8  # d-m9 at 09:00 local and later are out
    assert slot.loc["Chat-Card-1", "value"] == 10  # all started 08:00 local
    assert kpis_of(reporting_url, MON, time_slot="13:00-08:00").loc["Chat-Card-10", "value"] == 0
    charts = period_charts(reporting_url, MON, MON, TZ, time_slot="08:00-09:00")
    assert nonzero(buckets(charts, "Chat-Bar-11")) == {
        "<1 min": 1,
        "1–2 min": 2,
        "2–5 min": 1,
        "5–10 min": 2,
        "10–30 min": 1,
        "30 min–1 day": 1,
    }


# --- one test per chart: exact bucket counts, boundary values included ------------------------------------


def test_chat_donut_1_new_conversations_by_source(reporting_url, world):
    publish(reporting_url, world)
    assert buckets(period_charts(reporting_url, TUE, TUE, TZ), "Chat-Donut-1") == {
        "waiting_list": 0,
        "direct": 1,
        "hook": 1,
        "phygital": 0,
    }
    assert buckets(period_charts(reporting_url, SUN, WED, TZ), "Chat-Donut-1") == {
        "waiting_list": 1,
        "direct": 16,
        "hook": 1,
        "phygital": 0,
    }  # i-1 is internal
    direct_only = period_charts(reporting_url, SUN, WED, TZ, filters={"source": "direct"})
    assert nonzero(buckets(direct_only, "Chat-Donut-1")) == {"direct": 16}


def test_chat_donut_2_new_dialogues_by_source_on_the_start_day(reporting_url, world):
    publish(reporting_url, world)
    # d-s1..5 started SUN but became dialogues on MON: not SUN's (fixed), but a SUN..MON period's
    assert nonzero(buckets(period_charts(reporting_url, SUN, SUN, TZ), "Chat-Donut-2")) == {}
    assert buckets(period_charts(reporting_url, SUN, MON, TZ), "Chat-Donut-2") == {
        "waiting_list": 0,
        "direct": 15,
        "hook": 0,
        "phygital": 0,
    }
    assert nonzero(buckets(period_charts(reporting_url, TUE, WED, TZ), "Chat-Donut-2")) == {
        "waiting_list": 1,
        "hook": 1,
    }  # d-e1 is no dialogue


def test_chat_bar_10_handling_time(reporting_url, world):
    publish(reporting_url, world)
    wed = buckets(period_charts(reporting_url, WED, WED, TZ), "Chat-Bar-10")
    assert wed == {
        "<1 min": 1,
        "1–2 min": 1,
        "2–5 min": 0,
        "5–10 min": 0,
        "10–30 min": 0,
        "30 min–1 day": 0,
        "1–3 days": 1,
        ">3 days": 1,
    }  # 59 s, exactly 60 s, exactly 1 day, 5 days
    assert list(wed) == [label for label, _ in HANDLING_BUCKETS]  # the spec's order
    assert nonzero(buckets(period_charts(reporting_url, TUE, TUE, TZ), "Chat-Bar-10")) == {}  # by handled date
    by_m1 = period_charts(reporting_url, WED, WED, TZ, filters={"member": "m-1"})
    assert nonzero(buckets(by_m1, "Chat-Bar-10")) == {}  # all handled by m-2


def test_chat_bar_11_establishment_time_by_source(reporting_url, world):
    publish(reporting_url, world)
    expected_mon = {
        "<1 min": 1,
        "1–2 min": 2,
        "2–5 min": 1,
        "5–10 min": 2,
        "10–30 min": 1,
        "30 min–1 day": 3,
        "1–3 days": 5,
        ">3 days": 0,
    }
    assert buckets(period_charts(reporting_url, MON, MON, TZ), "Chat-Bar-11") == expected_mon
    hook = period_charts(reporting_url, SUN, WED, TZ, filters={"source": "hook"})
    assert nonzero(buckets(hook, "Chat-Bar-11")) == {"10–30 min": 1}  # h-1: 610 s
    # the daily rows carry the source breakdown, every source with every bucket
    daily = compute_charts(world, Periods.daily([MON, TUE, WED], TZ))
    assert buckets(daily, "Chat-Bar-11", 0, "source", "direct") == expected_mon
    assert buckets(daily, "Chat-Bar-11", 0, "source", "hook") == dict.fromkeys(expected_mon, 0)
    assert nonzero(buckets(daily, "Chat-Bar-11", 2, "source", "waiting_list")) == {"<1 min": 1}  # cw-3: 50 s
    assert set(daily.loc[daily["chart"] == "Chat-Bar-11", "dimension_value"]) == {"all", *SOURCES}


def test_chat_bar_12_conversion_time_adds_the_handling(reporting_url, world):
    publish(reporting_url, world)
    assert nonzero(buckets(period_charts(reporting_url, WED, WED, TZ), "Chat-Bar-12")) == {"1–2 min": 1}
    # cw-3: 60 s handling + 50 s establishing = 110 s, where Chat-Bar-11 says "<1 min"
    assert nonzero(buckets(period_charts(reporting_url, TUE, TUE, TZ), "Chat-Bar-12")) == {}  # h-1: no request
    assert sum(buckets(period_charts(reporting_url, MON, MON, TZ), "Chat-Bar-12").values()) == 15


def test_chat_bar_13_conversion_delay(reporting_url, world):
    publish(reporting_url, world)
    assert buckets(period_charts(reporting_url, MON, MON, TZ), "Chat-Bar-13") == {
        "<1 h": 1,
        "1 h–1 day": 1,
        "1–7 days": 0,
        "7–30 days": 0,
        ">30 days": 0,
    }  # 29 min; exactly 1 h
    assert nonzero(buckets(period_charts(reporting_url, TUE, TUE, TZ), "Chat-Bar-13")) == {"1–7 days": 1}
    assert nonzero(buckets(period_charts(reporting_url, date(2026, 4, 6), date(2026, 4, 6), TZ), "Chat-Bar-13")) == {
        "7–30 days": 1
    }  # exactly 7 days


def test_chat_bar_50_new_dialogue_duration(reporting_url, world):
    publish(reporting_url, world)
    assert buckets(period_charts(reporting_url, MON, MON, TZ), "Chat-Bar-50") == {
        "0–2 min": 3,
        "2–5 min": 1,
        "5–10 min": 2,
        "10–30 min": 1,
        "30 min–1 h": 1,
        "1 h–1 day": 2,
        "1–7 days": 0,
        "8–30 days": 0,
        "1–6 months": 0,
        ">6 months": 0,
    }
    assert nonzero(buckets(period_charts(reporting_url, MON, TUE, TZ), "Chat-Bar-50")) == {
        "0–2 min": 2,
        "2–5 min": 1,
        "5–10 min": 2,
        "10–30 min": 2,
        "30 min–1 h": 1,
        "1 h–1 day": 2,
        "1–7 days": 1,
    }  # d-m1 now lasts one day


@pytest.mark.parametrize(
    "ref,edges",
    [
        ("Chat-Bar-10", HANDLING_BUCKETS),
        ("Chat-Bar-11", HANDLING_BUCKETS),
        ("Chat-Bar-12", HANDLING_BUCKETS),
        ("Chat-Bar-13", DELAY_BUCKETS),
        ("Chat-Bar-50", DURATION_BUCKETS),
    ],
)
def test_bucket_bounds_are_lower_inclusive_upper_exclusive(ref, edges):
    chart = CHARTS[ref]
    bounds = np.array([b for _, b in edges[1:]], dtype=np.int64) * 1_000_000
    probe = pd.DataFrame({"us": np.concatenate([[-1, 0], bounds - 1, bounds])})
    got = chart.bucket_of(probe)
    n = len(bounds)
    assert got[:2].tolist() == [0, 0]  # negative skew: the first bucket
    assert got[2 : 2 + n].tolist() == list(range(n))  # a microsecond short: the bucket before
    assert got[2 + n :].tolist() == list(range(1, n + 1))  # exactly the bound: the bucket it opens


def test_bucket_labels_are_the_specs():
    assert CHARTS["Chat-Bar-10"].buckets == (
        "<1 min",
        "1–2 min",
        "2–5 min",
        "5–10 min",
        "10–30 min",
        "30 min–1 day",
        "1–3 days",
        ">3 days",
    )
    assert CHARTS["Chat-Bar-11"].buckets == CHARTS["Chat-Bar-12"].buckets == CHARTS["Chat-Bar-10"].buckets
    assert CHARTS["Chat-Bar-13"].buckets == ("<1 h", "1 h–1 day", "1–7 days", "7–30 days", ">30 days")
    assert CHARTS["Chat-Bar-50"].buckets == (
        "0–2 min",
        "2–5 min",
        "5–10 min",
        "10–30 min",
        "30 min–1 h",
        "1 h–1 day",
        "1–7 days",
        "8–30 days",
        "1–6 months",
        ">6 months",
    )
    assert dict(DURATION_BUCKETS)["8–30 days"] == 7 * 86_400 and dict(DURATION_BUCKETS)[">6 months"] == 180 * 86_400
    assert set(CHARTS) == {
        "Chat-Donut-1",
        "Chat-Donut-2",
        "Chat-Bar-10",
        "Chat-Bar-11",
        "Chat-Bar-12",
        "Chat-Bar-13",
        "Chat-Bar-50",
    }


def test_every_bucket_every_day_published_and_replaced(reporting_url, world):
    """kpi_buckets_daily: the whole grid each day (count 0 when empty), replaced whole on a re-run."""
    days = [SUN, MON, TUE, WED]
    rows = compute_charts(world, Periods.daily(days, TZ))
    rows["day"] = np.array(days, dtype=object)[rows.pop("period").to_numpy()]
    per_day = sum(len(c.buckets) * (1 + 4 * (c.breakdowns == ("all", "source"))) for c in CHARTS.values())
    assert per_day == 2 * 4 + 8 * 3 + 8 * 4 + 5 + 10
    assert len(rows) == 4 * per_day
    store = ReportingStore(reporting_url)
    assert store.publish_days(days, run_id="r1", tables={"kpi_buckets_daily": rows})["kpi_buckets_daily"] == 4 * per_day
    assert (
        store.publish_days([MON], run_id="r2", tables={"kpi_buckets_daily": rows[rows["day"] == MON]})[
            "kpi_buckets_daily"
        ]
        == per_day
    )
    stored = store.read_table("kpi_buckets_daily")
    assert len(stored) == 4 * per_day
    assert set(stored.loc[stored["day"] == MON, "run_id"]) == {"r2"}
    assert set(stored.loc[stored["day"] == SUN, "run_id"]) == {"r1"}
    mon = stored[(stored["day"] == MON) & (stored["chart"] == "Chat-Bar-11") & (stored["dimension"] == "all")]
    assert dict(zip(mon["bucket"], mon["count"])) == buckets(period_charts_from(world, MON), "Chat-Bar-11")
    store.dispose()


def period_charts_from(facts, day):
    return compute_charts(facts, Periods.range(day, day, TZ), dimensions=("all",))


def test_one_day_period_equals_the_daily_buckets(world):
    days = [SUN, MON, TUE, WED]
    daily = compute_charts(world, Periods.daily(days, TZ), dimensions=("all",))
    for i, day in enumerate(days):
        one = period_charts_from(world, day).drop(columns="period").reset_index(drop=True)
        pd.testing.assert_frame_equal(one, daily[daily["period"] == i].drop(columns="period").reset_index(drop=True))


# --- line charts: series of kpi_daily -------------------------------------------------------------------


def test_line_series_are_registered_kpis():
    for ref, series in LINE_SERIES.items():
        for s in series:
            assert s.ref in REGISTRY, f"{ref}: {s.label} has no KPI {s.ref}"
            if s.source is not None or ref in LINE_BY_SOURCE:
                assert "source" in REGISTRY[s.ref].dimensions(), f"{ref}: {s.ref} has no source breakdown"
    assert set(LINE_SERIES) == {"Wlst-Line-1", "Chat-Line-2", "Chat-Line-3", "Chat-Line-5", "Chat-Line-50"}
    assert [s.ref for s in LINE_SERIES["Chat-Line-5"]] == ["Chat-Card-11", "Chat-Card-12"]
    assert [s.ref for s in LINE_SERIES["Chat-Line-50"]] == ["Chat-Card-85", "Chat-Card-86"]


def test_line_series_from_the_daily_kpis(world):
    days = [SUN, MON, TUE, WED]
    rows = compute_kpis(world, Periods.daily(days, TZ))
    rows["day"] = np.array(days, dtype=object)[rows.pop("period").to_numpy()]
    direct = line_series(rows, "Chat-Line-2")
    assert direct.to_dict("list") == {
        "Total new conversations": [5.0, 10.0, 1.0, 0.0],
        "Empty conversations": [5.0, 0.0, 1.0, 0.0],  # SUN: no message on SUN
        "Established dialogues": [0.0, 15.0, 0.0, 0.0],
    }
    waiting = line_series(rows, "Wlst-Line-1")
    assert waiting.to_dict("list") == {
        "New requests": [0.0, 0.0, 1.0, 3.0],
        "Requests handled": [0.0, 0.0, 0.0, 4.0],
        "Established dialogues": [0.0, 0.0, 0.0, 1.0],
    }
    rates = line_series(rows, "Chat-Line-5")
    assert rates["Dialogue establishment rate (fixed)"].tolist() == [0.0, 1.5, 1 / 2, 1 / 3]
    assert rates["Dialogue establishment rate (variable)"].tolist() == [1.0, 1.0, 0.0, 1 / 3]  # w-2: no room
    hook = line_series(rows, "Chat-Line-3", source="hook")
    assert hook.to_dict("list") == {"Active dialogues": [0.0, 0.0, 1.0, 0.0], "New dialogues": [0.0, 0.0, 1.0, 0.0]}
    hook_rates = line_series(rows, "Chat-Line-5", source="hook")
    assert hook_rates.isna().all().all()  # no hook request: 0 / 0 every day
    with pytest.raises(ValueError):
        line_series(rows, "Chat-Line-2", source="hook")
