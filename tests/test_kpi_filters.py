"""Filters, time slots and weekdays of the period query on small hand-built worlds, expected values by hand.

Europe/Paris: 2026-03-28 (Sat) has 24 hours, 2026-03-29 (Sun) 23 (02:00 → 03:00 local, 01:00Z), 2026-10-25
(Sun) 25 (03:00 → 02:00 local, 01:00Z). Reuses test_kpis' world (`facts`): waiting-list rq-2 created 28,
handled 29 by m-2 (role 2); rq-4 created 29, never handled.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from chatsales import schema
from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis import compute_kpis
from chatsales.kpis.members_list import members_list
from chatsales.period import Periods
from chatsales.publication import attributed_order_rows
from tests.test_kpis import D28, D29, TZ, facts, frame  # noqa: F401  (facts: the fixture)

O25 = date(2026, 10, 25)
MEMBERS = [("m-1", "A", "One", 1, None), ("m-2", "B", "Two", 2, None)]


def world(requests=(), rooms=(), sessions=()):
    """Facts of a chat platform holding only these requests, chatrooms and member sessions (no message, no
    order: build_facts takes an empty platform)."""
    chat = {name: schema.empty(columns) for name, columns in schema.CHAT_TABLES.items()}
    chat["members"] = frame(MEMBERS, schema.CHAT_TABLES["members"])
    chat["conversation_requests"] = frame(list(requests), schema.CHAT_TABLES["conversation_requests"])
    chat["chatrooms"] = frame(list(rooms), schema.CHAT_TABLES["chatrooms"])
    chat["member_sessions"] = frame(list(sessions), schema.CHAT_TABLES["member_sessions"])
    orders = schema.empty(schema.ORDERS)
    return build_facts(chat, attributed_order_rows(orders, attribute(orders, chat, 14), timezone=TZ, pii_key="k"), TZ)


def kpis(facts, first, last, refs, dimensions=("all",), **options):
    """{(kpi, dimension_value): value} of one period."""
    filters = options.pop("filters", None)
    rows = compute_kpis(
        facts, Periods.range(first, last, TZ, **options), dimensions=dimensions, filters=filters, refs=refs
    )
    return {(r.kpi, r.dimension_value): r.value for r in rows.itertuples()}


# --- 1. Wlst-Card-10: member and role filters apply to the total too ---------------------------------------


def test_handled_requests_follow_member_and_role_filters(facts):
    refs = ["Wlst-Card-1", "Wlst-Card-10", "Wlst-Card-12"]
    got = [
        kpis(facts, D28, D29, refs, filters=f)
        for f in (None, {"member": "m-2"}, {"member": "m-1"}, {"role": "2"}, {"role": "1"})
    ]
    assert [g[("Wlst-Card-10", "all")] for g in got] == [1, 1, 0, 1, 0]
    # Wlst-Card-1 and Wlst-Card-12 ignore member and role (kpis.md: not noted): 1 handled / 2 new, filters or not
    assert {g[("Wlst-Card-1", "all")] for g in got} == {2}
    assert {g[("Wlst-Card-12", "all")] for g in got} == {0.5}


def test_handled_requests_breakdowns_are_unchanged(facts):
    rows = compute_kpis(facts, Periods.daily([D28, D29], TZ), dimensions=("member", "role"), refs=["Wlst-Card-10"])
    assert rows[["period", "dimension", "dimension_value", "value"]].values.tolist() == [
        [1, "member", "m-2", 1.0],
        [1, "role", "2", 1.0],
    ]
    assert kpis(facts, D29, D29, ["Wlst-Card-10"], ("member",), filters={"role": "2"}) == {("Wlst-Card-10", "m-2"): 1}


# --- 2. and 3. Amb-Card-52 with a time slot: wall-clock time on DST days, both parts of a wrapping slot -------


def sessions_world(*local_spans):
    """m-1 online over each (day, 'HH:MM', 'HH:MM' or '24:00') span of local time."""

    def instant(day, hhmm):
        if hhmm == "24:00":
            day, hhmm = day + timedelta(days=1), "00:00"
        return pd.Timestamp(f"{day} {hhmm}").tz_localize(TZ, ambiguous=True).tz_convert("UTC")

    return world(sessions=[("m-1", instant(d, a), instant(d, b)) for d, a, b in local_spans])


def activity(facts, day, slot, last=None):
    return kpis(facts, day, last or day, ["Amb-Card-52"], time_slot=slot)[("Amb-Card-52", "all")]


@pytest.mark.parametrize("day", [D28, D29, O25])
def test_activity_time_slot_is_matched_on_wall_clock_time(day):
    assert activity(sessions_world((day, "09:00", "10:00")), day, "09:00-10:00") == 3600


def test_activity_time_slot_on_dst_days_counts_the_hours_that_exist():
    whole = sessions_world((D29, "00:00", "24:00"), (O25, "00:00", "24:00"))
    assert activity(whole, D29, "01:00-04:00") == 2 * 3600  # 02:00–03:00 does not exist
    assert activity(whole, O25, "01:00-04:00") == 4 * 3600  # 02:00–03:00 twice
    assert activity(whole, D29, "02:30-03:30") == 1800  # only 03:00–03:30
    assert activity(whole, O25, "02:30-03:00") == 3600  # 02:30–03:00 twice
    assert activity(whole, O25, "02:30-02:00") == 24 * 3600  # all but 02:00–02:30, which comes twice
    assert activity(whole, D29, "00:00-23:59") == 23 * 3600 - 60
    assert activity(whole, O25, "00:00-23:59") == 25 * 3600 - 60


def test_activity_time_counts_both_parts_of_a_slot_wrapping_midnight():
    assert activity(sessions_world((D28, "05:00", "23:00")), D28, "22:00-06:00") == 7200
    assert activity(sessions_world((D28, "05:30", "23:00")), D28, "22:00-06:00") == 5400
    assert activity(sessions_world((D28, "02:00", "04:00")), D28, "22:00-06:00") == 7200  # early part only
    assert activity(sessions_world((D28, "22:30", "24:00")), D28, "22:00-06:00") == 5400  # late part only
    assert activity(sessions_world((D28, "07:00", "21:00")), D28, "22:00-06:00") == 0  # in the gap
    # on the DST days: 00:00–06:00 lasts 5 h, then 7 h, and 22:00–24:00 two hours
    assert activity(sessions_world((D29, "00:00", "24:00")), D29, "22:00-06:00") == 7 * 3600
    assert activity(sessions_world((O25, "00:00", "24:00")), O25, "22:00-06:00") == 9 * 3600


def test_activity_time_union_holds_for_both_parts_of_a_wrapping_slot():
    """Overlapping sessions of a member count once in each part: 05:00–23:00 and 21:00–23:30 and 04:00–05:30
    give 04:00–06:00 and 22:00–23:30; a second day adds its own 05:00–06:00."""
    facts = sessions_world(
        (D28, "05:00", "23:00"),
        (D28, "21:00", "23:30"),
        (D28, "04:00", "05:30"),
        (D29, "05:00", "05:30"),
        (D29, "05:15", "06:30"),
    )
    assert activity(facts, D28, "22:00-06:00") == 2 * 3600 + 5400
    assert activity(facts, D29, "22:00-06:00") == 3600
    assert activity(facts, D28, "22:00-06:00", last=D29) == 3 * 3600 + 5400


def test_turnover_per_hour_and_members_list_use_the_same_activity_time():
    facts = sessions_world((D28, "05:00", "23:00"))
    periods = Periods.range(D28, D28, TZ, time_slot="22:00-06:00")
    rows = compute_kpis(facts, periods, refs=["Amb-Card-52", "Iadv-10"])
    hours = rows.set_index(["kpi", "dimension", "dimension_value"])
    assert hours.loc[("Iadv-10", "member", "m-1"), "denominator"] == 2.0  # production hours
    assert hours.loc[("Iadv-10", "all", "all"), "denominator"] == 2.0
    members = pd.DataFrame({"member_id": ["m-1"], "last_name": ["One"], "first_name": ["A"], "role": [1]})
    assert members_list(rows, members)["activity_seconds"].tolist() == [7200.0]


# --- 4. Wlst-Card-11: "handled within the period" under the period's slot and weekdays ---------------------


def waiting(request_id, created, handled):
    return (
        request_id,
        "v-1",
        "waiting_list",
        pd.Timestamp(created),
        None,
        None,
        None if handled is None else pd.Timestamp(handled),
        None if handled is None else "m-1",
    )


WAITING = world(
    requests=[
        waiting("w-1", "2026-03-28T09:00Z", "2026-03-28T19:00Z"),  # Sat 10:00 → Sat 20:00 local
        waiting("w-2", "2026-03-28T09:30Z", "2026-03-28T10:00Z"),  # Sat 10:30 → Sat 11:00
        waiting("w-3", "2026-03-28T10:00Z", "2026-03-29T08:00Z"),  # Sat 11:00 → Sun 10:00
        waiting("w-4", "2026-03-28T10:30Z", None),
    ]
)  # Sat 11:30, never handled

WLST = ["Wlst-Card-1", "Wlst-Card-10", "Wlst-Card-11", "Wlst-Card-13"]


def test_not_handled_uses_the_period_time_slot_and_weekdays():
    def cards(**options):
        return [kpis(WAITING, D28, D29, WLST, **options)[(ref, "all")] for ref in WLST]

    assert cards() == [4, 3, 1, 3600 * (10 + 0.5 + 22) / 3]  # w-3 waits 22 h (clocks go forward)
    assert cards(time_slot="09:00-12:00") == [4, 2, 2, 3600 * 22.5 / 2]  # w-1 handled at 20:00: not within
    assert cards(weekdays="sat") == [4, 2, 2, 3600 * 10.5 / 2]  # w-3 handled on Sunday
    assert cards(time_slot="09:00-12:00", weekdays="sat") == [4, 1, 3, 1800]
    daily = compute_kpis(WAITING, Periods.daily([D28, D29], TZ), dimensions=("all",), refs=["Wlst-Card-11"])
    assert daily["value"].tolist() == [2, 0]  # w-3 handled on the next day


# --- 5. requests of internal chatrooms are left out ------------------------------------------------------


def test_requests_of_internal_chatrooms_are_excluded():
    t = pd.Timestamp("2026-03-28T09:00Z")
    facts = world(
        requests=[
            ("rq-1", "v-1", "direct", t, None, None, t, "m-1"),
            ("rq-i", "v-2", "direct", t, None, None, t, "m-2"),  # internal chatroom
            ("rq-w", "v-2", "waiting_list", t, None, None, t, "m-2"),  # internal chatroom
            ("rq-c", "v-3", "waiting_list", t, None, t, None, None),
        ],  # canceled, no chatroom
        rooms=[
            ("cr-1", "rq-1", "v-1", "m-1", "direct", "web", t, False, False),
            ("cr-i", "rq-i", "v-2", "m-2", "direct", "app", t, True, False),
            ("cr-w", "rq-w", "v-2", "m-2", "waiting_list", "web", t, True, False),
        ],
    )
    assert facts.requests["request_id"].tolist() == ["rq-1", "rq-c"]
    got = kpis(facts, D28, D28, ["Chat-Card-0", "Chat-Card-11", "Wlst-Card-1", "Wlst-Card-10", "Wlst-Card-11"])
    assert got == {
        ("Chat-Card-0", "all"): 2,
        ("Chat-Card-11", "all"): 0,
        ("Wlst-Card-1", "all"): 1,
        ("Wlst-Card-10", "all"): 0,
        ("Wlst-Card-11", "all"): 1,
    }
    rows = compute_kpis(facts, Periods.range(D28, D28, TZ), refs=["Chat-Card-11", "Chat-Card-12"], dimensions=("all",))
    assert rows["denominator"].tolist() == [2.0, 2.0]
