"""KPI cards the other KPI tests leave out, each on a tiny hand-built world with its value worked out by hand.

Europe/Paris, summer time (UTC+2, no DST change in the week): SUN = 2026-04-05, MON = 04-06 ... SAT = 04-11,
WEEK_END = 04-12. Timestamps are written in UTC. A World has the members m-1 (role 1), m-2 and m-3 (role 2) and
m-4 (role 3); the visitor of chatroom `x` is `v-x`, its request `rq-x`; orders come by the visitor id.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from chatsales import schema
from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis import compute_kpis
from chatsales.kpis.charts import line_series
from chatsales.kpis.members_list import COLUMNS as MEMBER_FIGURES
from chatsales.kpis.members_list import members_list
from chatsales.period import Periods
from chatsales.publication import attributed_order_rows
from tests.test_kpis import frame

TZ = "Europe/Paris"
SUN, MON, TUE, WED, SAT, WEEK_END = (date(2026, 4, d) for d in (5, 6, 7, 8, 11, 12))
SECOND = pd.Timedelta(seconds=1)
MEMBERS = [
    ("m-1", "Ada", "Lovelace", 1, None),
    ("m-2", "Alan", "Turing", 2, None),
    ("m-3", "Grace", "Hopper", 2, None),
    ("m-4", "Edsger", "Dijkstra", 3, None),
]
ORDER = dict(
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
)


def utc(day: date, clock: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day}T{clock}Z")


def members() -> pd.DataFrame:
    return frame(MEMBERS, schema.CHAT_TABLES["members"])


class World:
    """The chat tables and orders of a small world, added row by row."""

    def __init__(self):
        self.requests, self.rooms, self.messages, self.orders = [], [], [], []

    def room(self, cr, started, member="m-1", *, source="direct", waited=0, request=True):
        """A chatroom; its request (unless `request` is False) created `waited` s before the start, handled at it."""
        if request:
            created = started - waited * SECOND
            self.requests.append((f"rq-{cr}", f"v-{cr}", source, created, None, None, started, member))
        self.rooms.append(
            (cr, f"rq-{cr}" if request else None, f"v-{cr}", member, source, "web", started, False, False)
        )

    def say(self, cr, sender, at, kind="text", *, automatic=False, filled=None):
        self.messages.append((f"ms-{len(self.messages)}", cr, sender, at, automatic, kind, None, filled))

    def dialogue(self, cr, started, member="m-1", *, answer=2, **room):
        """A chatroom where the visitor writes 1 s and the member `answer` s after the start."""
        self.room(cr, started, member, **room)
        self.say(cr, "visitor", started + SECOND)
        self.say(cr, "member", started + answer * SECOND)

    def waiting(self, rq, created, handled, by):
        self.requests.append((rq, f"v-{rq}", "waiting_list", created, None, None, handled, by))

    def order(self, order_id, cr, placed, total=10.0):
        """A paid web order by the visitor of chatroom `cr`."""
        self.orders.append(
            {
                **ORDER,
                "order_id": order_id,
                "visitor_id": f"v-{cr}",
                "placed_at": placed,
                "updated_at": placed,
                "total": total,
            }
        )

    def facts(self):
        visitors = sorted({r[2] for r in self.rooms} | {r[1] for r in self.requests})
        chat = {
            "members": members(),
            "visitors": frame([(v, None, None, "2026-03-01T00:00Z") for v in visitors], schema.CHAT_TABLES["visitors"]),
            "conversation_requests": frame(self.requests, schema.CHAT_TABLES["conversation_requests"]),
            "chatrooms": frame(self.rooms, schema.CHAT_TABLES["chatrooms"]),
            "messages": frame(self.messages, schema.CHAT_TABLES["messages"]),
            **{
                name: schema.empty(schema.CHAT_TABLES[name])
                for name in ("ratings", "hook_events", "member_sessions", "identity_links")
            },
        }
        orders = frame(self.orders, schema.ORDERS)
        rows = attributed_order_rows(orders, attribute(orders, chat, 14), timezone=TZ, pii_key="k")
        return build_facts(chat, rows, TZ)


def period(facts, first, last=None, *, refs, weekdays=None, filters=None) -> pd.DataFrame:
    """The period query (dimension all) over first..last: one row per ref."""
    rows = compute_kpis(
        facts,
        Periods.range(first, last or first, TZ, weekdays=weekdays),
        dimensions=("all",),
        filters=filters,
        refs=refs,
    )
    return rows.set_index("kpi")


def value(rows: pd.DataFrame, ref: str):
    return rows.loc[ref, "value"]


def triple(rows: pd.DataFrame, ref: str) -> list:
    return rows.loc[ref, ["value", "numerator", "denominator"]].tolist()


# --- establishment and handling times: medians that are not means ---------------------------------------


@pytest.fixture(scope="module")
def establishing():
    """r-1..r-4: requests created 600 s before the start, established 60, 120, 300, 1200 s after it on MON;
    h-1: a hook chatroom without a request, established 5000 s after its start."""
    w = World()
    start = utc(MON, "08:00")
    for i, seconds in enumerate((60, 120, 300, 1200), start=1):
        w.dialogue(f"r-{i}", start, answer=seconds, waited=600)
    w.dialogue("h-1", start, answer=5000, source="hook", request=False)
    return period(w.facts(), MON, refs=["Chat-Card-14", "Chat-Card-15", "Chat-Card-16", "Chat-Card-17"])


def test_chat_card_17_median_conversion_time_of_an_even_count(establishing):
    """Chat-Card-17: 'median of the same' as 'mean(established_at − request created_at); chatrooms without a
    request are left out'."""
    assert value(establishing, "Chat-Card-17") == 810.0  # 660, 720 | 900, 1800
    assert triple(establishing, "Chat-Card-16") == [1020.0, 4080.0, 4.0]


def test_chat_card_15_median_time_to_establish(establishing):
    """Chat-Card-15: 'median of the same' as Chat-Card-14's 'mean(established_at − started_at)'."""
    assert value(establishing, "Chat-Card-15") == 300.0  # 60, 120, 300, 1200, 5000
    assert triple(establishing, "Chat-Card-14") == [1336.0, 6680.0, 5.0]


def test_wlst_card_14_median_handling_time():
    """Wlst-Card-14: 'median of the same' as mean(handled_at − created_at), 'created_at and handled_at both in
    period'."""
    w = World()
    created = utc(MON, "08:00")
    for i, seconds in enumerate((60, 180, 300, 3000), start=1):
        w.waiting(f"w-{i}", created, created + seconds * SECOND, "m-2")
    w.waiting("w-5", created, utc(TUE, "08:00"), "m-2")  # handled the next day: out of MON's times
    rows = period(w.facts(), MON, refs=["Wlst-Card-13", "Wlst-Card-14"])
    assert value(rows, "Wlst-Card-14") == 240.0  # 60, 180 | 300, 3000
    assert triple(rows, "Wlst-Card-13") == [885.0, 3540.0, 4.0]


# --- message kinds -------------------------------------------------------------------------------------


def kinds_world(filled_at) -> World:
    """Dialogues k-1..k-4 of MON. k-1: member photo, video, connect request and email request (filled at
    `filled_at`); k-2: the same kinds from the visitor (email filled); k-3: the same from the member but automatic
    (email filled); k-4: a member video and a member email request never filled."""
    w = World()
    start = utc(MON, "08:00")
    later = start + 60 * SECOND
    for cr in ("k-1", "k-2", "k-3", "k-4"):
        w.dialogue(cr, start)
    for kind in ("photo", "video", "connect_request"):
        w.say("k-1", "member", later, kind)
        w.say("k-2", "visitor", later, kind)
        w.say("k-3", "member", later, kind, automatic=True)
    w.say("k-1", "member", later, "email_request", filled=filled_at)
    w.say("k-2", "visitor", later, "email_request", filled=later)
    w.say("k-3", "member", later, "email_request", automatic=True, filled=later)
    w.say("k-4", "member", later, "video")
    w.say("k-4", "member", later, "email_request")
    return w


KIND_CARDS = {
    "Chat-Card-31": 1,
    "Chat-Card-32": 2,
    "Chat-Card-33": 1,
    "Chat-Card-34": 1,
    "Chat-Card-35": 1,
    "Chat-Card-37": 2,
    "Chat-Card-38": 1,
}


@pytest.fixture(scope="module")
def kinds():
    return period(kinds_world(utc(WED, "09:00")).facts(), MON, refs=["Chat-Card-20", *KIND_CARDS])


@pytest.mark.parametrize("ref,expected", KIND_CARDS.items())
def test_kind_cards_count_the_named_party_and_no_automatic_message(kinds, ref, expected):
    """'Kind-based cards (30–38) count only counted messages (an automatic email request does not count)'."""
    assert value(kinds, "Chat-Card-20") == 4
    assert value(kinds, ref) == expected


def test_chat_card_38_counts_an_email_filled_after_the_period():
    """Chat-Card-38 '(F)': '…an `email_request` of the period that has `email_filled_at` (any time)'."""
    before = period(kinds_world(None).facts(), MON, refs=["Chat-Card-38"])
    after = period(kinds_world(utc(WED, "09:00")).facts(), MON, refs=["Chat-Card-38"])
    assert (value(before, "Chat-Card-38"), value(after, "Chat-Card-38")) == (0.0, 1.0)
    assert after.loc["Chat-Card-38", "is_fluctuating"]


# --- sales under the iAdvize refs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selling():
    """MON: s-1 (m-1) sells 100 €, s-2 (m-2) 50 € and 30 €; o-4 (40 €) comes from a visitor with no chatroom."""
    w = World()
    w.dialogue("s-1", utc(MON, "08:00"), "m-1")
    w.dialogue("s-2", utc(MON, "08:00"), "m-2")
    w.order("o-1", "s-1", utc(MON, "10:00"), 100.0)
    w.order("o-2", "s-2", utc(MON, "10:00"), 50.0)
    w.order("o-3", "s-2", utc(MON, "11:00"), 30.0)
    w.order("o-4", "nobody", utc(MON, "11:00"), 40.0)
    return w.facts()


def test_iadv_2_4_6_under_their_own_refs(selling):
    """Iadv-2 '= Chat-Card-80', Iadv-4 '= Chat-Card-81', Iadv-6 'Iadv-2 / Iadv-4'."""
    rows = period(selling, MON, refs=["Chat-Card-80", "Chat-Card-81", "Iadv-2", "Iadv-4", "Iadv-6"])
    assert [value(rows, ref) for ref in ("Chat-Card-80", "Iadv-2")] == [180.0, 180.0]
    assert [value(rows, ref) for ref in ("Chat-Card-81", "Iadv-4")] == [3.0, 3.0]
    assert triple(rows, "Iadv-6") == [60.0, 180.0, 3.0]


def test_iadv_6_without_a_sale_is_null(selling):
    """Iadv-6 on a day without a sale: 'A ratio with a zero denominator is null, not 0'."""
    rows = period(selling, TUE, refs=["Iadv-2", "Iadv-4", "Iadv-6"])
    assert (value(rows, "Iadv-2"), value(rows, "Iadv-4")) == (0.0, 0.0)
    value_, numerator, denominator = triple(rows, "Iadv-6")
    assert pd.isna(value_) and (numerator, denominator) == (0.0, 0.0)


# --- dialogues by member --------------------------------------------------------------------------------


def test_dialogues_by_member_mean_and_median():
    """Chat-Card-22 / Amb-Card-23: 'the Chat-Card-21 dialogues grouped by the chatroom's member: mean over
    members with ≥1' and the 'median of the same'."""
    w = World()
    start = utc(MON, "08:00")
    for member, n in (("m-1", 1), ("m-2", 2), ("m-3", 6)):
        for i in range(n):
            w.dialogue(f"{member}-{i}", start, member)
    w.dialogue("old", utc(SUN, "08:00"), "m-4")  # established on SUN: on MON only the
    w.say("old", "visitor", start)  # visitor writes, so m-4 has none
    rows = period(w.facts(), MON, refs=["Chat-Card-20", "Chat-Card-21", "Chat-Card-22", "Amb-Card-23"])
    assert (value(rows, "Chat-Card-20"), value(rows, "Chat-Card-21")) == (10.0, 9.0)
    assert triple(rows, "Chat-Card-22") == [3.0, 9.0, 3.0]  # 1, 2, 6 dialogues
    assert value(rows, "Amb-Card-23") == 2.0


# --- period filters -------------------------------------------------------------------------------------


def test_weekday_filter_keeps_only_the_local_days_named():
    """'days of the week use the event's local date': weekdays mon,wed keep the conversations of those days."""
    w = World()
    for cr, started in (
        ("mon", utc(MON, "10:00")),
        ("mon-0030", utc(SUN, "22:30")),
        ("tue", utc(TUE, "10:00")),
        ("wed-2359", utc(WED, "21:59")),
        ("thu-0030", utc(WED, "22:30")),
        ("sat", utc(SAT, "10:00")),
    ):
        w.room(cr, started)
    facts = w.facts()
    week = period(facts, MON, WEEK_END, refs=["Chat-Card-0", "Chat-Card-1"], weekdays="mon,wed")
    assert (value(week, "Chat-Card-0"), value(week, "Chat-Card-1")) == (3.0, 3.0)  # mon, mon-0030, wed-2359
    assert value(period(facts, MON, WEEK_END, refs=["Chat-Card-1"]), "Chat-Card-1") == 6.0


@pytest.fixture(scope="module")
def team():
    """MON: m-1 (role 1) has dialogues t-1, t-2 and one sale; m-2 (role 2) dialogue t-3 and two sales; m-3
    (role 2) t-4, where only the visitor wrote. Waiting list handled on MON: w-1 by m-1, w-2 and w-3 by m-2, w-4
    by m-3."""
    w = World()
    start = utc(MON, "08:00")
    for cr, member in (("t-1", "m-1"), ("t-2", "m-1"), ("t-3", "m-2")):
        w.dialogue(cr, start, member)
    w.room("t-4", start, "m-3")
    w.say("t-4", "visitor", start + SECOND)
    for order_id, cr in (("o-1", "t-1"), ("o-2", "t-3"), ("o-3", "t-3")):
        w.order(order_id, cr, utc(MON, "12:00"))
    for rq, member in (("w-1", "m-1"), ("w-2", "m-2"), ("w-3", "m-2"), ("w-4", "m-3")):
        w.waiting(rq, utc(MON, "09:00"), utc(MON, "09:05"), member)
    return w.facts()


FILTERED = {  # the filter → Chat-Card-1, Chat-Card-20, Chat-Card-81, Wlst-Card-10 under it
    None: (4, 3, 3, 4),
    ("member", "m-1"): (2, 2, 1, 1),
    ("member", "m-2"): (1, 1, 2, 2),
    ("role", "2"): (2, 1, 2, 3),
}


FILTERED_CASES = [
    pytest.param(filt, ref, count, id=f"{ref}-{'-'.join(filt) if filt else 'unfiltered'}")
    for filt, expected in FILTERED.items()
    for ref, count in zip(("Chat-Card-1", "Chat-Card-20", "Chat-Card-81", "Wlst-Card-10"), expected)
]


@pytest.mark.parametrize("filt,ref,expected", FILTERED_CASES)
def test_cards_under_member_and_role_filters(team, filt, ref, expected):
    """'member and role filter on the member who handled / owns the chatroom' (Wlst-Card-10: `handled_by`)."""
    rows = period(team, MON, refs=[ref], filters=dict([filt]) if filt else None)
    assert value(rows, ref) == expected


# --- response -------------------------------------------------------------------------------------------


def test_chat_card_9_an_answer_at_exactly_24_hours_is_a_response():
    """Chat-Card-9: 'the share with no member message at or after it and at most 24 h later'."""
    w = World()
    first = utc(MON, "10:00")
    for cr in ("at-24h", "after-24h", "before"):
        w.room(cr, first - 3600 * SECOND)
        w.say(cr, "visitor", first)
    w.say("at-24h", "member", first + 86_400 * SECOND)  # exactly 24 h later: answered
    w.say("after-24h", "member", first + 60 * SECOND, automatic=True)  # not a counted message
    w.say("after-24h", "member", first + 86_401 * SECOND)  # 24 h + 1 s: not answered
    w.say("before", "member", first - 60 * SECOND)  # only before the visitor: not answered
    rows = period(w.facts(), MON, refs=["Chat-Card-9"])
    assert triple(rows, "Chat-Card-9") == pytest.approx([2 / 3, 2.0, 3.0])


def test_chat_card_8_a_member_message_before_the_visitor_is_no_response():
    """Chat-Card-8: 'the share where the member wrote strictly after the visitor's first message of the period,
    within the period'."""
    w = World()
    w.room("before", utc(MON, "09:00"))
    w.say("before", "member", utc(MON, "09:00:10"))  # the member only wrote first
    w.say("before", "visitor", utc(MON, "09:05"))
    w.say("before", "visitor", utc(MON, "09:06"))
    w.dialogue("after", utc(MON, "09:00"))  # visitor +1 s, member +2 s: a response
    w.room("late", utc(MON, "19:00"))
    w.say("late", "visitor", utc(MON, "20:00"))  # 22:00 local
    w.say("late", "member", utc(MON, "22:30"))  # 00:30 local on TUE: not within MON
    rows = period(w.facts(), MON, refs=["Chat-Card-8"])
    assert triple(rows, "Chat-Card-8") == pytest.approx([1 / 3, 1.0, 3.0])


# --- chart and list -------------------------------------------------------------------------------------


def test_chat_line_50_is_chat_card_85_and_86_per_day():
    """Chat-Line-50: 'per day: Chat-Card-85 and Chat-Card-86'."""
    w = World()
    for cr in ("a", "b", "c"):  # established MON
        w.dialogue(cr, utc(MON, "08:00"))
    w.say("b", "visitor", utc(TUE, "08:00"))  # b is active on TUE too
    for cr in ("d", "e"):  # established TUE, never a sale
        w.dialogue(cr, utc(TUE, "08:00"))
    w.order("o-1", "a", utc(MON, "12:00"))
    w.order("o-2", "b", utc(TUE, "12:00"))
    w.order("o-3", "b", utc(TUE, "13:00"))
    rows = compute_kpis(w.facts(), Periods.daily([MON, TUE], TZ), refs=["Chat-Card-85", "Chat-Card-86"])
    rows["day"] = rows["period"].map({0: MON, 1: TUE})
    lines = line_series(rows, "Chat-Line-50")
    assert lines.index.tolist() == [MON, TUE]
    assert lines["Active dialogue conversion rate"].tolist() == pytest.approx([1 / 3, 2 / 3])  # MON 1/3, TUE 2/3
    assert lines["New dialogue conversion rate"].tolist() == pytest.approx([2 / 3, 0.0])  # a, b (TUE sale)


def test_members_list_gives_names_id_and_role_beside_the_figures():
    """Chat-List-1: 'Per member: last name, first name, id, role, ...', number of sales and total sales."""
    w = World()
    w.dialogue("l-1", utc(MON, "08:00"), "m-1")
    w.dialogue("l-2", utc(MON, "08:00"), "m-3")
    w.order("o-1", "l-2", utc(MON, "12:00"), 80.0)
    rows = compute_kpis(w.facts(), Periods.range(MON, MON, TZ), refs=list(MEMBER_FIGURES.values()))
    listed = members_list(rows, members()).set_index("member_id")
    columns = ["period", "last_name", "first_name", "role", "active_dialogues", "sales_count", "sales_total"]
    assert listed.index.tolist() == ["m-1", "m-3"]
    assert listed.loc["m-1", columns].tolist() == [0, "Lovelace", "Ada", 1, 1.0, 0.0, 0.0]
    assert listed.loc["m-3", columns].tolist() == [0, "Hopper", "Grace", 2, 1.0, 1.0, 80.0]


# --- robustness -----------------------------------------------------------------------------------------


def test_facts_without_any_attributed_sale_or_message():
    """'Every KPI exists for every day': a world with conversations but no sale yet has 0 sales, and one with
    no message at all 0 new conversations with a message, not an error. Checked by removal: build_facts
    raised TypeError (Series.map with an empty datetime mapper, inside pandas) for both."""
    w = World()
    w.dialogue("n-1", utc(MON, "08:00"))
    rows = period(w.facts(), MON, refs=["Chat-Card-1", "Chat-Card-81", "Chat-Card-82"])
    assert (value(rows, "Chat-Card-1"), value(rows, "Chat-Card-81")) == (1.0, 0.0)
    assert pd.isna(value(rows, "Chat-Card-82"))  # 0 / 0: null, not 0
    silent = World()
    silent.room("quiet", utc(MON, "08:00"))
    rows = period(silent.facts(), MON, refs=["Chat-Card-1", "Chat-Card-2", "Chat-Card-10"])
    assert [value(rows, r) for r in ("Chat-Card-1", "Chat-Card-2", "Chat-Card-10")] == [1.0, 1.0, 0.0]
