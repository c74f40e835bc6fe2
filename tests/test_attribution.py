"""The attribution rule: every worked example of attribution.md, the edge cases, and a randomised
cross-check against a deliberately naive reference implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chatsales import schema
from chatsales.attribution import attribute
from chatsales.identity import order_candidates

T = pd.Timestamp("2026-03-20T12:00:00Z")
H, D, W = pd.Timedelta(hours=1), pd.Timedelta(days=1), pd.Timedelta(weeks=1)


class World:
    """A tiny chat platform + orders, built by hand."""

    def __init__(self):
        self.visitors, self.rooms, self.messages, self.links, self.orders = [], [], [], [], []

    def visitor(self, vid, email=None, customer_id=None):
        self.visitors.append(dict(visitor_id=vid, email=email, customer_id=customer_id, created_at=T - 60 * D))
        return self

    def room(self, rid, vid, member="m-1", channel="web", source="direct", internal=False, blocked=False):
        self.rooms.append(
            dict(
                chatroom_id=rid,
                request_id=None,
                visitor_id=vid,
                member_id=member,
                source=source,
                channel=channel,
                started_at=T - 60 * D,
                is_internal=internal,
                is_blocked=blocked,
            )
        )
        return self

    def msg(self, rid, sender, before, automatic=False):
        """A message `before` (a Timedelta) the order's instant T; negative = after the order."""
        self.messages.append(
            dict(
                message_id=f"msg-{len(self.messages)}",
                chatroom_id=rid,
                sender=sender,
                sent_at=T - before,
                is_automatic=automatic,
                kind="text",
                product_id=None,
                email_filled_at=pd.NaT,
            )
        )
        return self

    def link(self, vid, linked, before):
        self.links.append(dict(visitor_id=vid, linked_visitor_id=linked, linked_at=T - before))
        return self

    def order(self, oid="o-1", email=None, customer_id=None, visitor_id=None, channel="web", at=T):
        self.orders.append(
            dict(
                order_id=oid,
                sales_channel=channel,
                placed_at=at,
                updated_at=at,
                email=email,
                customer_id=customer_id,
                visitor_id=visitor_id,
                currency="EUR",
                total=100.0,
                refunded=0.0,
                status="paid",
                is_first_order=pd.NA,
                store_id=None,
                store_name=None,
                store_city=None,
                source_location="test",
            )
        )
        return self

    def frames(self):
        def frame(rows, columns):
            if not rows:
                return schema.empty(columns)
            df = pd.DataFrame(rows, columns=list(columns))
            for name in [c for c, dtype in columns.items() if dtype == schema.TS]:
                df[name] = pd.to_datetime(df[name], utc=True)
            return schema.conform(df, columns)

        chat = {
            name: frame(rows, schema.CHAT_TABLES[name])
            for name, rows in [
                ("visitors", self.visitors),
                ("chatrooms", self.rooms),
                ("messages", self.messages),
                ("identity_links", self.links),
            ]
        }
        return frame(self.orders, schema.ORDERS), chat

    def attribute(self, window_days=14):
        orders, chat = self.frames()
        return attribute(orders, chat, window_days)


def one(world, **kw):
    return world.attribute(**kw).iloc[0]


def jane():
    return World().visitor("v-1", email="jane@example.com").room("cr-1", "v-1")


# --- the worked examples of attribution.md ---------------------------------------------------------------


def test_example_1_last_message_three_weeks_before_is_outside_window():
    r = one(jane().msg("cr-1", "visitor", 3 * W).msg("cr-1", "member", 3 * W - H).order(email="jane@example.com"))
    assert (r.attributed, r.reason, r.chatroom_id) == (False, "outside_window", "cr-1")
    assert r.last_message_at == T - (3 * W - H)


def test_example_2_last_message_one_week_before_is_attributed():
    r = one(jane().msg("cr-1", "visitor", 3 * W).msg("cr-1", "member", W).order(email="jane@example.com"))
    assert (r.attributed, r.chatroom_id, r.member_id, r.last_message_at) == (True, "cr-1", "m-1", T - W)
    assert pd.isna(r.reason)


def test_example_3_visitor_wrote_last():
    r = one(jane().msg("cr-1", "member", D).msg("cr-1", "visitor", 2 * H).order(email="jane@example.com"))
    assert (r.attributed, r.last_message_at) == (True, T - 2 * H)


def test_example_4_member_answered_after_the_order():
    r = one(
        jane()
        .msg("cr-1", "visitor", H)
        .msg("cr-1", "member", -10 * pd.Timedelta(minutes=1))
        .order(email="jane@example.com")
    )
    assert (r.attributed, r.reason) == (False, "no_dialogue")
    assert pd.isna(r.chatroom_id)


def test_example_5_most_recent_dialogue_wins():
    w = jane().room("cr-2", "v-1", member="m-2")
    w.msg("cr-1", "visitor", 5 * D).msg("cr-1", "member", 5 * D).msg("cr-2", "visitor", 2 * D).msg(
        "cr-2", "member", 2 * D
    )
    r = one(w.order(email="jane@example.com"))
    assert (r.attributed, r.chatroom_id, r.member_id) == (True, "cr-2", "m-2")


def test_example_6_a_more_recent_monologue_does_not_win():
    w = jane().room("cr-2", "v-1", member="m-2")
    w.msg("cr-1", "visitor", 5 * D).msg("cr-1", "member", 5 * D).msg("cr-2", "visitor", D)
    r = one(w.order(email="jane@example.com"))
    assert (r.attributed, r.chatroom_id) == (True, "cr-1")


def test_example_7_matched_by_the_orders_visitor_id():
    w = World().visitor("v-1").room("cr-1", "v-1").msg("cr-1", "visitor", D).msg("cr-1", "member", D)
    r = one(w.order(email="other@example.com", visitor_id="v-1"))
    assert (r.attributed, r.chatroom_id, r.match_key) == (True, "cr-1", "visitor_id")


def test_example_8_dirty_email_on_the_order():
    r = one(jane().msg("cr-1", "visitor", 2 * D).msg("cr-1", "member", 2 * D).order(email="  JANE@example.com"))
    assert (r.attributed, r.match_key) == (True, "email")


def test_example_9_conversation_started_after_the_order():
    r = one(jane().msg("cr-1", "visitor", -H).msg("cr-1", "member", -2 * H).order(email="jane@example.com"))
    assert (r.attributed, r.reason) == (False, "conversation_after_order")


def test_example_10_exactly_the_window_is_inclusive():
    r = one(jane().msg("cr-1", "visitor", 14 * D).msg("cr-1", "member", 14 * D).order(email="jane@example.com"))
    assert (r.attributed, r.last_message_at) == (True, T - 14 * D)
    late = one(
        jane()
        .msg("cr-1", "visitor", 14 * D + pd.Timedelta(microseconds=1))
        .msg("cr-1", "member", 14 * D + pd.Timedelta(microseconds=1))
        .order(email="jane@example.com")
    )
    assert (late.attributed, late.reason) == (False, "outside_window")


def test_example_11_store_receipt_matched_by_email_to_a_messenger_chat():
    w = World().visitor("v-1", email="jane@example.com").room("cr-1", "v-1", channel="messenger")
    r = one(
        w.msg("cr-1", "visitor", 3 * D).msg("cr-1", "member", 3 * D).order(email="Jane@example.com", channel="store")
    )
    assert (r.attributed, r.sales_channel, r.touchpoint, r.match_key) == (True, "store", "messenger", "email")


def test_example_12_offsite_link_click_reaches_the_messenger_chat():
    w = World().visitor("v-m").visitor("v-9").room("cr-1", "v-m", channel="messenger")
    w.msg("cr-1", "visitor", 2 * D).msg("cr-1", "member", 2 * D).link("v-m", "v-9", D)
    r = one(w.order(visitor_id="v-9"))
    assert (r.attributed, r.chatroom_id, r.touchpoint, r.match_key) == (True, "cr-1", "messenger", "linked_visitor_id")


def test_example_13_automatic_member_messages_do_not_make_a_dialogue():
    w = (
        jane()
        .msg("cr-1", "member", 2 * D, automatic=True)
        .msg("cr-1", "visitor", D)
        .msg("cr-1", "member", H, automatic=True)
    )
    r = one(w.order(email="jane@example.com"))
    assert (r.attributed, r.reason) == (False, "no_dialogue")


# --- edge cases ----------------------------------------------------------------------------------------


def test_tie_on_last_message_goes_to_the_smallest_chatroom_id_in_byte_order():
    w = World().visitor("v-1", email="jane@example.com").room("cr-9000", "v-1").room("cr-10000", "v-1", member="m-2")
    for rid in ("cr-9000", "cr-10000"):
        w.msg(rid, "visitor", 2 * D).msg(rid, "member", D)
    assert one(w.order(email="jane@example.com")).chatroom_id == "cr-10000"


def test_identity_link_counts_only_for_orders_after_the_click_and_one_step():
    w = World().visitor("v-m").visitor("v-9").visitor("v-x").room("cr-1", "v-m").room("cr-2", "v-x")
    for rid in ("cr-1", "cr-2"):
        w.msg(rid, "visitor", 5 * D).msg(rid, "member", 5 * D)
    w.link("v-m", "v-9", -H)  # the click happens one hour AFTER the order
    w.link("v-x", "v-m", 3 * D)  # v-x → v-m: a second step from v-9 must not be followed
    w.order("o-1", visitor_id="v-9").order("o-2", visitor_id="v-9", at=T + 2 * H)
    rows = w.attribute()
    assert rows["reason"].tolist()[0] == "no_conversation"
    assert (rows.iloc[1].attributed, rows.iloc[1].chatroom_id) == (True, "cr-1")
    pairs = order_candidates(*_candidate_inputs(w))
    assert pairs[["order_id", "chatroom_id", "match_rank"]].values.tolist() == [["o-2", "cr-1", 1]]


def _candidate_inputs(world):
    orders, chat = world.frames()
    return orders, chat["visitors"], chat["chatrooms"], chat["identity_links"]


def test_internal_chatrooms_are_excluded_blocked_ones_are_not():
    w = (
        World()
        .visitor("v-1", email="jane@example.com")
        .room("cr-1", "v-1", internal=True)
        .room("cr-2", "v-1", blocked=True)
    )
    w.msg("cr-1", "visitor", H).msg("cr-1", "member", H).msg("cr-2", "visitor", D).msg("cr-2", "member", D)
    r = one(w.order(email="jane@example.com"))
    assert (r.attributed, r.chatroom_id) == (True, "cr-2")
    only_internal = World().visitor("v-1", email="jane@example.com").room("cr-1", "v-1", internal=True)
    only_internal.msg("cr-1", "visitor", H).msg("cr-1", "member", H)
    assert one(only_internal.order(email="jane@example.com")).reason == "no_conversation"


def test_no_identity_and_blank_email():
    w = jane().msg("cr-1", "visitor", D).msg("cr-1", "member", D)
    rows = w.order("o-1", email="   ").order("o-2").attribute()
    assert rows["reason"].tolist() == ["no_identity", "no_identity"]


def test_a_message_at_exactly_T_does_not_count_and_later_ones_change_nothing():
    w = jane().msg("cr-1", "visitor", D).msg("cr-1", "member", pd.Timedelta(0))
    assert one(w.order(email="jane@example.com")).reason == "no_dialogue"
    base = jane().msg("cr-1", "visitor", D).msg("cr-1", "member", 2 * H).order(email="jane@example.com")
    after = jane().msg("cr-1", "visitor", D).msg("cr-1", "member", 2 * H).msg("cr-1", "member", -H)
    after.room("cr-2", "v-1").msg("cr-2", "visitor", -H).msg("cr-2", "member", -2 * H)
    pd.testing.assert_frame_equal(base.attribute(), after.order(email="jane@example.com").attribute())


def test_strongest_key_is_recorded_and_several_keys_do_not_duplicate_rows():
    w = World().visitor("v-1", email="jane@example.com", customer_id="c-1").room("cr-1", "v-1")
    w.msg("cr-1", "visitor", D).msg("cr-1", "member", D)
    rows = (
        w.order("o-1", email="jane@example.com", customer_id="c-1")
        .order("o-2", email="jane@example.com", customer_id="c-1", visitor_id="v-1")
        .attribute()
    )
    assert rows["order_id"].tolist() == ["o-1", "o-2"]
    assert rows["match_key"].tolist() == ["customer_id", "visitor_id"]


def test_empty_inputs():
    assert attribute(*World().frames(), 14).empty
    rows = World().order(email="a@example.com").attribute()
    assert rows["reason"].tolist() == ["no_conversation"]
    assert rows.dtypes.to_dict() == schema.empty(schema.ATTRIBUTION).dtypes.to_dict()


# --- randomised cross-check ----------------------------------------------------------------------------


def _reference(world, window_days):
    """attribution.md read literally, one order at a time (loops are fine in a reference)."""
    orders, chat = world.frames()
    rooms = chat["chatrooms"][~chat["chatrooms"]["is_internal"]]
    vis = chat["visitors"]
    msgs = chat["messages"][chat["messages"]["sender"].isin(["visitor", "member"]) & ~chat["messages"]["is_automatic"]]
    norm = lambda e: None if e is None or pd.isna(e) or not str(e).strip() else str(e).strip().lower()  # noqa: E731
    out = []
    for o in orders.itertuples():
        t, email = o.placed_at, norm(o.email)
        cands = {}

        def add(vids, rank, cands=cands):
            for rid in rooms[rooms["visitor_id"].isin(vids)]["chatroom_id"]:
                cands[rid] = min(cands.get(rid, 9), rank)

        if pd.notna(o.visitor_id):
            add([o.visitor_id], 0)
            links = chat["identity_links"]
            add(links[(links["linked_visitor_id"] == o.visitor_id) & (links["linked_at"] < t)]["visitor_id"], 1)
        if pd.notna(o.customer_id):
            add(vis[vis["customer_id"] == o.customer_id]["visitor_id"], 2)
        if email:
            add(vis[vis["email"].map(norm) == email]["visitor_id"], 3)
        if pd.isna(o.visitor_id) and pd.isna(o.customer_id) and not email:
            out.append(("no_identity", None))
            continue
        if not cands:
            out.append(("no_conversation", None))
            continue
        before = msgs[msgs["chatroom_id"].isin(cands) & (msgs["sent_at"] < t)]
        if before.empty:
            out.append(("conversation_after_order", None))
            continue
        eligible = [
            (g["sent_at"].max(), rid)
            for rid, g in before.groupby("chatroom_id")
            if set(g["sender"]) == {"visitor", "member"}
        ]
        if not eligible:
            out.append(("no_dialogue", None))
            continue
        last = max(e[0] for e in eligible)
        rid = min(e[1] for e in eligible if e[0] == last)
        out.append((None, rid) if t - last <= pd.Timedelta(days=window_days) else ("outside_window", rid))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_a_naive_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    w = World()
    for v in range(40):
        w.visitor(
            f"v-{v}",
            email=rng.choice([None, f"u{v % 25}@example.com", f" U{v % 25}@Example.com "]),
            customer_id=rng.choice([None, f"c-{v % 15}"]),
        )
    for r in range(60):
        w.room(f"cr-{r}", f"v-{rng.integers(40)}", member=f"m-{rng.integers(5)}", internal=bool(rng.random() < 0.1))
    for _ in range(600):
        w.msg(
            f"cr-{rng.integers(60)}",
            rng.choice(["visitor", "member", "system"]),
            pd.Timedelta(hours=float(rng.integers(-200, 900))),
            automatic=bool(rng.random() < 0.1),
        )
    for _ in range(15):
        w.link(f"v-{rng.integers(40)}", f"v-{rng.integers(40)}", pd.Timedelta(hours=float(rng.integers(-48, 400))))
    for i in range(300):
        w.order(
            f"o-{i}",
            email=rng.choice([None, f"u{rng.integers(30)}@example.com"]),
            customer_id=rng.choice([None, f"c-{rng.integers(20)}"]),
            visitor_id=rng.choice([None, f"v-{rng.integers(45)}"]),
            at=T + pd.Timedelta(hours=float(rng.integers(-300, 300))),
        )
    got = w.attribute(window_days=7)
    expected = _reference(w, 7)
    assert (
        list(
            zip(
                got["reason"].astype(object).where(got["reason"].notna(), None),
                got["chatroom_id"].astype(object).where(got["chatroom_id"].notna(), None),
            )
        )
        == expected
    )
    assert {r for r, _ in expected} >= {None, "no_identity", "no_conversation", "no_dialogue"}
