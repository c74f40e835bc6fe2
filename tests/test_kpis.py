"""KPIs on a small hand-built world, every expected value worked out by hand.

Europe/Paris; 2026-03-28 has 24 hours, 2026-03-29 has 23 (clocks go forward at 01:00 UTC).
  cr-1  direct / web / m-1: visitor 03-28 10:01Z, member 10:05Z (dialogue on 28), visitor 03-29 09:00Z
  cr-2  waiting_list / messenger / m-2: request 03-28 22:30Z (23:30 local, day 28), handled and started
        23:30Z (00:30 local, day 29); visitor 23:31Z (day 29), member 03-29 08:00Z (dialogue on 29)
  cr-3  direct / web / m-1: started 03-29 12:00Z, visitor only
  cr-9  internal: excluded from everything
Orders on 03-29: o-1 100 € → cr-1 (email), o-2 50 € no identity, o-3 cancelled → cr-1, R-1 store return
−20 € → cr-1, o-4 80 € refunded 30 € → cr-2 (visitor id).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from chatsales import schema
from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis import REGISTRY, compute_kpis, kpi_reference_markdown
from chatsales.period import Periods
from chatsales.publication import attributed_order_rows

TZ = "Europe/Paris"
D28, D29 = date(2026, 3, 28), date(2026, 3, 29)


def frame(rows, columns):
    df = pd.DataFrame(rows, columns=list(columns))
    for name in [c for c, t in columns.items() if t == schema.TS]:
        df[name] = pd.to_datetime(df[name], utc=True)
    return schema.conform(df, columns)


@pytest.fixture(scope="module")
def facts():
    T = lambda s: f"2026-03-{s}"  # noqa: E731
    chat = {
        "members": frame([("m-1", "A", "One", 1, None), ("m-2", "B", "Two", 2, None)], schema.CHAT_TABLES["members"]),
        "visitors": frame(
            [
                ("v-1", "jane@example.com", None, T("01T00:00:00Z")),
                ("v-2", None, None, T("01T00:00:00Z")),
                ("v-3", None, None, T("01T00:00:00Z")),
            ],
            schema.CHAT_TABLES["visitors"],
        ),
        "conversation_requests": frame(
            [
                ("rq-1", "v-1", "direct", T("28T10:00:00Z"), None, None, T("28T10:00:00Z"), "m-1"),
                ("rq-2", "v-2", "waiting_list", T("28T22:30:00Z"), None, None, T("28T23:30:00Z"), "m-2"),
                ("rq-3", "v-3", "direct", T("29T12:00:00Z"), None, None, T("29T12:00:00Z"), "m-1"),
                ("rq-4", "v-3", "waiting_list", T("29T09:00:00Z"), T("31T08:00:00Z"), T("29T09:10:00Z"), None, None),
            ],
            schema.CHAT_TABLES["conversation_requests"],
        ),
        "chatrooms": frame(
            [
                ("cr-1", "rq-1", "v-1", "m-1", "direct", "web", T("28T10:00:00Z"), False, False),
                ("cr-2", "rq-2", "v-2", "m-2", "waiting_list", "messenger", T("28T23:30:00Z"), False, False),
                ("cr-3", "rq-3", "v-3", "m-1", "direct", "web", T("29T12:00:00Z"), False, True),  # blocked
                ("cr-9", None, "v-3", "m-2", "direct", "app", T("29T12:00:00Z"), True, False),
            ],
            schema.CHAT_TABLES["chatrooms"],
        ),
        "messages": frame(
            [
                ("ms-1", "cr-1", "visitor", T("28T10:01:00Z"), False, "text", None, None),
                ("ms-2", "cr-1", "member", T("28T10:05:00Z"), False, "product", "p-1", None),
                ("ms-3", "cr-1", "visitor", T("29T09:00:00Z"), False, "text", None, None),
                ("ms-4", "cr-2", "visitor", T("28T23:31:00Z"), False, "text", None, None),
                ("ms-5", "cr-2", "member", T("29T08:00:00Z"), False, "text", None, None),
                ("ms-6", "cr-3", "visitor", T("29T12:01:00Z"), False, "text", None, None),
                ("ms-7", "cr-3", "member", T("29T12:02:00Z"), True, "text", None, None),  # automatic
                ("ms-8", "cr-9", "visitor", T("29T12:01:00Z"), False, "text", None, None),
                ("ms-9", "cr-9", "member", T("29T12:02:00Z"), False, "text", None, None),
            ],
            schema.CHAT_TABLES["messages"],
        ),
        "ratings": frame(
            [
                ("ra-1", "cr-1", "m-1", T("28T11:00:00Z"), T("31T08:00:00Z"), 4),  # answered 3 days later
                ("ra-2", "cr-2", "m-2", T("29T09:00:00Z"), None, None),  # never answered
                ("ra-3", "cr-9", "m-2", T("29T09:00:00Z"), T("29T09:01:00Z"), 1),
            ],  # internal room
            schema.CHAT_TABLES["ratings"],
        ),
        "hook_events": frame(
            [
                ("he-1", "m-1", None, "triggered", T("29T10:00:00Z")),
                ("he-2", "m-1", "v-1", "displayed", T("29T10:00:02Z")),
                ("he-3", "m-1", None, "triggered", T("29T10:30:00Z")),
                ("he-4", "m-1", "v-1", "displayed", T("29T10:30:02Z")),
                ("he-5", "m-1", "v-3", "displayed", T("29T10:30:03Z")),
                ("he-6", "m-1", "v-1", "clicked", T("29T10:31:00Z")),
                ("he-7", "m-2", None, "triggered", T("29T11:00:00Z")),
            ],
            schema.CHAT_TABLES["hook_events"],
        ),
        "member_sessions": frame(
            [
                ("m-1", T("28T08:00:00Z"), T("28T10:00:00Z")),
                ("m-1", T("28T09:00:00Z"), T("28T11:00:00Z")),
                ("m-2", T("28T22:00:00Z"), T("29T00:00:00Z")),
            ],
            schema.CHAT_TABLES["member_sessions"],
        ),
        "identity_links": schema.empty(schema.CHAT_TABLES["identity_links"]),
    }
    base = dict(
        updated_at=T("29T00:00:00Z"),
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
        visitor_id=None,
        sales_channel="web",
    )
    orders = pd.DataFrame(
        [
            {**base, "order_id": "o-1", "placed_at": T("29T10:00:00Z"), "email": " Jane@example.com", "total": 100.0},
            {**base, "order_id": "o-2", "placed_at": T("29T15:00:00Z"), "total": 50.0},
            {
                **base,
                "order_id": "o-3",
                "placed_at": T("29T16:00:00Z"),
                "email": "jane@example.com",
                "total": 70.0,
                "status": "cancelled",
            },
            {
                **base,
                "order_id": "R-1",
                "placed_at": T("29T17:00:00Z"),
                "email": "jane@example.com",
                "total": -20.0,
                "status": "return",
                "sales_channel": "store",
            },
            {
                **base,
                "order_id": "o-4",
                "placed_at": T("29T20:00:00Z"),
                "visitor_id": "v-2",
                "total": 80.0,
                "refunded": 30.0,
                "status": "partially_refunded",
            },
        ]
    )
    orders = frame(orders.to_dict("records"), schema.ORDERS)
    rows = attributed_order_rows(orders, attribute(orders, chat, 14), timezone=TZ, pii_key="k")
    rooms = rows.set_index("order_id")["chatroom_id"]
    assert rooms.drop("o-2").to_dict() == {"o-1": "cr-1", "o-3": "cr-1", "R-1": "cr-1", "o-4": "cr-2"}
    assert pd.isna(rooms["o-2"]) and rows.set_index("order_id").loc["o-2", "reason"] == "no_identity"
    return build_facts(chat, rows, TZ)


_DAILY: dict[int, pd.DataFrame] = {}


def daily(facts):
    """The whole catalog over both days and every breakdown, computed once for the module's world."""
    if id(facts) not in _DAILY:
        rows = compute_kpis(facts, Periods.daily([D28, D29], TZ))
        rows["day"] = rows["period"].map({0: D28, 1: D29})
        _DAILY[id(facts)] = rows.set_index(["kpi", "dimension", "dimension_value", "day"])
    return _DAILY[id(facts)]


def value(rows, ref, day, dimension="all", dv="all"):
    return rows.loc[(ref, dimension, dv, day), "value"]


def test_conversation_counts_follow_local_days_across_dst(facts):
    rows = daily(facts)
    assert [value(rows, "Chat-Card-0", d) for d in (D28, D29)] == [2, 2]
    assert [value(rows, "Chat-Card-1", d) for d in (D28, D29)] == [1, 2]
    assert [value(rows, "Chat-Card-10", d) for d in (D28, D29)] == [1, 1]
    assert [value(rows, "Chat-Card-20", d) for d in (D28, D29)] == [1, 2]
    assert value(rows, "Chat-Card-1", D29, "source", "waiting_list") == 1
    assert value(rows, "Chat-Card-0", D28, "member", "m-2") == 1
    assert value(rows, "Chat-Card-20", D29, "channel", "messenger") == 1
    assert value(rows, "Chat-Card-1", D29, "role", "1") == 1


def test_sales_gross_net_count_average(facts):
    rows = daily(facts)
    assert value(rows, "Chat-Card-81", D29) == 2  # o-1 and o-4; o-3 cancelled, R-1 a return
    assert value(rows, "Chat-Card-80", D29) == 180.0
    assert value(rows, "Chat-Card-80-net", D29) == 100.0 + (80.0 - 30.0) - 20.0
    assert rows.loc[("Chat-Card-82", "all", "all", D29), ["value", "numerator", "denominator"]].tolist() == [
        90.0,
        180.0,
        2.0,
    ]
    assert value(rows, "Chat-Card-80", D29, "member", "m-2") == 80.0
    assert value(rows, "Chat-Card-80", D29, "channel", "web") == 100.0
    assert value(rows, "Chat-Card-81", D28) == 0
    assert pd.isna(value(rows, "Chat-Card-82", D28))  # zero denominator → null, not 0
    assert rows.loc[("Chat-Card-82", "all", "all", D28), "denominator"] == 0


def test_conversion_rates(facts):
    rows = daily(facts)
    assert value(rows, "Chat-Card-85", D29) == 1.0  # 2 sales / 2 active dialogues
    assert value(rows, "Chat-Card-86", D28) == 1.0  # cr-1 established on 28, a sale on 29
    assert value(rows, "Chat-Card-86", D29) == 1.0
    assert rows.loc[("Chat-Card-86", "all", "all", D29), "is_fluctuating"]


def test_iadvize_indicators(facts):
    rows = daily(facts)
    assert value(rows, "Iadv-1", D29) == 2.0  # 2 sales / 1 contact handled (cr-2): may exceed 1
    assert value(rows, "Iadv-3", D29) == 230.0  # o-1 + o-2 + o-4, every visitor
    assert value(rows, "Iadv-5", D29) == 3
    assert value(rows, "Iadv-7", D29) == pytest.approx(230 / 3)
    assert value(rows, "Iadv-8", D29) == (86_340 + 73_740) / 2
    assert value(rows, "Iadv-9", D29) == 180.0
    assert ("Iadv-3", "member", "m-1", D29) not in rows.index  # website totals have no breakdown


def test_share_of_turnover_after_a_contact_web_and_store(facts):
    """kpis.md, iAdvize: "the share of the website's turnover that comes after a contact (Iadv-2 / Iadv-3),
    and the same for stores"."""
    rows = daily(facts)
    assert rows.loc[("Iadv-2-share-web", "all", "all", D29), ["numerator", "denominator"]].tolist() == [180.0, 230.0]
    assert value(rows, "Iadv-2-share-web", D29) == 180 / 230  # o-1 + o-4 of o-1 + o-2 + o-4
    assert value(rows, "Iadv-2-share-web", D29, "member", "m-2") == 80 / 230  # a member's share of the whole
    assert value(rows, "Iadv-2-share-web", D29, "source", "direct") == 100 / 230
    assert rows.loc[("Iadv-2-share-web", "all", "all", D28), ["numerator", "denominator"]].tolist() == [0.0, 0.0]
    assert pd.isna(value(rows, "Iadv-2-share-store", D29))  # R-1 is a return: no store sale
    period = compute_kpis(
        facts, Periods.range(D28, D29, TZ), dimensions=("all",), filters={"member": "m-1"}, refs=["Iadv-2-share-web"]
    ).iloc[0]
    assert (period["numerator"], period["denominator"]) == (100.0, 230.0)  # the filter narrows the sales after


def test_activity_time_unions_overlaps_and_splits_at_local_midnight(facts):
    rows = daily(facts)
    assert value(rows, "Amb-Card-52", D28) == 3 * 3600 + 3600  # m-1 08–11 union, m-2 23:00–24:00 local
    assert value(rows, "Amb-Card-52", D29, "member", "m-2") == 3600
    assert value(rows, "Iadv-10", D29, "member", "m-2") == 80.0  # 80 € in one hour online


def test_time_slot_excludes_events_and_one_day_period_equals_the_daily_rows(facts):
    slot = compute_kpis(
        facts, Periods.range(D28, D29, TZ, time_slot="09:00-12:00"), refs=["Chat-Card-1"], dimensions=("all",)
    )
    assert slot["value"].tolist() == [1.0]  # only cr-1, started 11:00 local
    rows = daily(facts).reset_index()
    rows = rows.astype({"dimension_value": "str"})
    one = compute_kpis(facts, Periods.range(D29, D29, TZ)).assign(day=D29)
    pd.testing.assert_frame_equal(
        one.drop(columns="period").set_index(["kpi", "dimension", "dimension_value", "day"]).sort_index(),
        rows[rows["day"] == D29]
        .drop(columns="period")
        .set_index(["kpi", "dimension", "dimension_value", "day"])
        .sort_index(),
    )


def test_waiting_list(facts):
    """rq-2: created 23:30 local on 28, handled 00:30 local on 29; rq-4: created 29, question two days
    later, canceled ten minutes later, never handled."""
    rows = daily(facts)
    assert [value(rows, "Wlst-Card-1", d) for d in (D28, D29)] == [1, 1]
    assert [value(rows, "Wlst-Card-2", d) for d in (D28, D29)] == [0, 1]  # the late question counts
    assert [value(rows, "Wlst-Card-3", d) for d in (D28, D29)] == [0, 1]
    assert [value(rows, "Wlst-Card-10", d) for d in (D28, D29)] == [0, 1]
    assert value(rows, "Wlst-Card-10", D29, "member", "m-2") == 1
    assert ("Wlst-Card-1", "member", "m-2", D29) not in rows.index  # member does not apply
    assert [value(rows, "Wlst-Card-11", d) for d in (D28, D29)] == [1, 1]  # not new − handled
    assert value(rows, "Wlst-Card-12", D28) == 0.0 and value(rows, "Wlst-Card-12", D29) == 1.0
    assert pd.isna(value(rows, "Wlst-Card-13", D28))  # handled on another day
    both = compute_kpis(
        facts, Periods.range(D28, D29, TZ), refs=["Wlst-Card-13", "Wlst-Card-14"], dimensions=("all",)
    ).set_index("kpi")["value"]
    assert both.to_dict() == {"Wlst-Card-13": 3600.0, "Wlst-Card-14": 3600.0}


def test_hook(facts):
    rows = daily(facts)
    assert value(rows, "Hook-Card-2", D29) == 2
    assert value(rows, "Hook-Card-3", D29) == 3
    assert value(rows, "Hook-Card-4", D29) == 2  # v-1 twice, v-3: distinct
    assert value(rows, "Hook-Card-5", D29) == 1
    assert value(rows, "Hook-Card-10", D29) == 0.5
    assert value(rows, "Hook-Card-3", D29, "member", "m-1") == 2
    assert value(rows, "Hook-Card-3", D28) == 0


def test_ratings_by_request_day(facts):
    rows = daily(facts)
    assert [value(rows, "Chat-Card-71", d) for d in (D28, D29)] == [1, 1]  # the internal room's is out
    assert [value(rows, "Chat-Card-70", d) for d in (D28, D29)] == [1, 1]
    assert [value(rows, "Chat-Card-72", d) for d in (D28, D29)] == [1, 0]  # given three days later
    assert rows.loc[("Chat-Card-73", "all", "all", D28), ["value", "numerator", "denominator"]].tolist() == [
        4.0,
        4.0,
        1.0,
    ]
    assert pd.isna(value(rows, "Chat-Card-73", D29))
    assert value(rows, "Chat-Card-71", D29, "channel", "messenger") == 1


def test_new_conversations_and_response(facts):
    rows = daily(facts)
    assert [value(rows, "Chat-Card-2", d) for d in (D28, D29)] == [0, 0]
    assert [value(rows, "Chat-Card-3", d) for d in (D28, D29)] == [0, 1]  # cr-3: visitor only
    assert [value(rows, "Chat-Card-4", d) for d in (D28, D29)] == [0, 0]  # cr-3's member message is automatic
    assert [value(rows, "Chat-Card-8", d) for d in (D28, D29)] == [1.0, 0.5]
    assert [value(rows, "Chat-Card-9", d) for d in (D28, D29)] == [0.0, 0.5]  # cr-3 never answered


def test_establishment(facts):
    rows = daily(facts)
    assert [value(rows, "Chat-Card-11", d) for d in (D28, D29)] == [0.5, 0.5]
    assert [value(rows, "Chat-Card-12", d) for d in (D28, D29)] == [1.0, 0.0]  # rq-2 became a dialogue on 29
    assert [value(rows, "Chat-Card-14", d) for d in (D28, D29)] == [300.0, 30_600.0]
    assert [value(rows, "Chat-Card-15", d) for d in (D28, D29)] == [300.0, 30_600.0]
    assert [value(rows, "Chat-Card-16", d) for d in (D28, D29)] == [300.0, 34_200.0]
    assert [value(rows, "Chat-Card-18", d) for d in (D28, D29)] == [300.0, 30_600.0]


def test_active_dialogues_by_member_and_kinds(facts):
    rows = daily(facts)
    assert [value(rows, "Chat-Card-21", d) for d in (D28, D29)] == [1, 1]  # on 29 only cr-2's member wrote
    assert [value(rows, "Chat-Card-22", d) for d in (D28, D29)] == [1.0, 1.0]
    assert value(rows, "Amb-Card-23", D29) == 1.0
    assert [value(rows, "Chat-Card-30", d) for d in (D28, D29)] == [1, 0]  # the product was shared on 28
    assert [value(rows, "Chat-Card-50", d) for d in (D28, D29)] == [0, 1]  # cr-3 is blocked


def test_registry_and_reference():
    required = {
        "Chat-Card-0",
        "Chat-Card-1",
        "Chat-Card-10",
        "Chat-Card-20",
        "Chat-Card-80",
        "Chat-Card-81",
        "Chat-Card-82",
        "Chat-Card-85",
        "Chat-Card-86",
        *(f"Iadv-{i}" for i in range(1, 11)),
    }
    assert required <= set(REGISTRY)
    table = kpi_reference_markdown()
    assert all(f"| {ref} |" in table for ref in REGISTRY)


def test_members_list_is_the_member_breakdown_side_by_side(facts):
    from chatsales.kpis.members_list import members_list

    rows = compute_kpis(facts, Periods.daily([D28, D29], TZ))
    members = pd.DataFrame(
        {"member_id": ["m-1", "m-2"], "last_name": ["One", "Two"], "first_name": ["A", "B"], "role": [1, 2]}
    )
    got = members_list(rows, members).set_index(["period", "member_id"])
    assert got.loc[
        (1, "m-2"), ["last_name", "activity_seconds", "active_dialogues", "sales_count", "sales_total"]
    ].tolist() == ["Two", 3600.0, 1.0, 1.0, 80.0]
    assert got.loc[(0, "m-1"), ["conversations_closed", "average_rating", "sales_count"]].tolist() == [1.0, 4.0, 0.0]
    assert pd.isna(got.loc[(1, "m-2"), "average_rating"])  # requested, never answered


def test_a_days_members_list_does_not_depend_on_the_days_computed_with_it():
    """Chat-List-1 lists the members with a figure in the window. Checked by removal: with the pivot of
    before (every member of any window, in every window) m-2 got an all-zero row on day 0 and m-1 on day 1
    when the two days were computed together, and none when each day was computed alone, so a one-day
    re-run changed member_daily."""
    from chatsales.kpis.members_list import members_list

    members = pd.DataFrame(
        {"member_id": ["m-1", "m-2"], "last_name": ["One", "Two"], "first_name": ["A", "B"], "role": [1, 2]}
    )
    rows = pd.DataFrame(
        {
            "period": [0, 0, 1],
            "kpi": ["Amb-Card-52", "Chat-Card-73", "Chat-Card-81"],
            "dimension": "member",
            "dimension_value": ["m-1", "m-1", "m-2"],
            "value": [3600.0, float("nan"), 2.0],
        }
    )
    both = members_list(rows, members)
    assert both[["period", "member_id", "activity_seconds", "sales_count"]].values.tolist() == [
        [0, "m-1", 3600.0, 0.0],
        [1, "m-2", 0.0, 2.0],
    ]
    assert pd.isna(both.loc[0, "average_rating"])  # a rating requested, never answered
    alone = members_list(rows[rows["period"] == 1], members)
    pd.testing.assert_frame_equal(alone, both[both["period"] == 1].reset_index(drop=True))


def test_the_catalog_does_not_depend_on_the_order_of_the_messages(facts):
    """window_activity reduces runs of one room's messages where they follow each other (the facts' own
    order) before grouping: messages in another order (newest first, rooms interleaved, a room's messages
    of one day apart) must give the same cards and chart buckets, over daily windows and over a period with
    a time slot and a filter."""
    from chatsales.facts import Facts
    from chatsales.kpis.charts import compute_charts

    shuffled = Facts(**{**facts.tables(), "messages": facts.messages.sort_values("sent_at", ascending=False)})
    assert shuffled.messages["room"].tolist() != facts.messages["room"].tolist()
    for periods, filters in (
        (Periods.daily([D28, D29], TZ), {}),
        (Periods.range(D28, D29, TZ, time_slot="09:00-13:00"), {"channel": "web"}),
    ):
        pd.testing.assert_frame_equal(
            compute_kpis(shuffled, periods, filters=filters),
            compute_kpis(facts, periods, filters=filters),
            check_exact=True,
        )
        pd.testing.assert_frame_equal(
            compute_charts(shuffled, periods, filters=filters),
            compute_charts(facts, periods, filters=filters),
            check_exact=True,
        )
    # and the values are the hand-worked ones: cr-1 and cr-2 are active dialogues on the 29th
    assert value(daily(facts), "Chat-Card-20", D29) == 2
