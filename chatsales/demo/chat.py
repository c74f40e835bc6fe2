"""The demo chat platform (data-contract.md §1), generated column-wise with numpy: members, visitors,
requests of every source and fate, chatrooms on every channel, messages (dialogues established at once or days
later, one-sided and empty rooms, automatic and system messages, every kind), ratings, hook events, member
sessions and offsite identity links.

Rows are held as arrays of indices and int64 µs instants (-1 = missing) until they become the contract's
columns; `ChatWorld` also keeps per-chatroom facts the sales side needs to place orders before, inside and
outside the attribution window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from chatsales.demo import text
from chatsales.demo.clock import DAY, HOUR, MIN, US, Clock, exact_share, weights
from chatsales.demo.profile import DEMO_PROFILE, ChatProfile, MessageProfile

SOURCES = ("waiting_list", "direct", "hook", "phygital")
CHANNELS = ("web", "messenger", "whatsapp", "sms", "instagram", "app", "store")
OFFSITE = (1, 2, 3, 4)  # channel codes of messaging identities (no browser)
LINKABLE = (1, 2, 3)  # messenger, whatsapp, sms: a link click is recognised
SENDERS = ("visitor", "member", "system")
KINDS = ("text", "product", "photo", "video", "connect_request", "email_request", "rating_request", "link")
HOOK_EVENTS = ("triggered", "displayed", "clicked")
FIRST_NAMES = ("Alex", "Sam", "Noa", "Lou", "Kim", "Charlie", "Robin", "Camille", "Dominique", "Eden")
LAST_NAMES = ("Example", "Sample", "Placeholder", "Testcase", "Dummy", "Mockup", "Fictive")
MEMBER_KINDS = (0, 1, 2, 3, 4, 5, 7)  # what a member writes: every kind but rating_request (added apart)
VISITOR_KINDS = (0, 1, 2, 3)  # text, product, photo, video


@dataclass
class ChatWorld:
    """The generated platform: table columns, plus per-chatroom facts for the sales side."""

    member_ids: pa.Array
    member_store: np.ndarray  # store index or -1
    visitor_ids: pa.Array
    visitor_email: pa.Array  # clean address or null
    visitor_customer: pa.Array  # customer id or null
    columns: dict[str, dict[str, object]]
    # one entry per chatroom, in chatroom_id order
    room_visitor: np.ndarray
    room_member: np.ndarray
    room_channel: np.ndarray
    room_internal: np.ndarray
    room_first: np.ndarray  # first counted message (µs) or -1
    room_last: np.ndarray  # last counted message (µs) or -1
    room_dialogue: np.ndarray  # both parties wrote a counted message
    room_product: np.ndarray  # a product shared in the room (catalog index) or -1
    link_room: np.ndarray  # identity links: the offsite chatroom, the browser visitor, when
    link_visitor: np.ndarray
    link_at: np.ndarray


def _members(rng, n: int, n_stores: int, profile: ChatProfile) -> dict:
    role = rng.choice(7, n, p=profile.member_roles)
    role[: min(n, 7)] = [1, 2, 0, 3, 4, 5, 6][: min(n, 7)]  # every role is present
    store = np.where(rng.random(n) < profile.store_members, rng.integers(0, n_stores, n), -1)
    store[: min(n, 2)] = [0, -1][: min(n, 2)]  # at least one store member
    return {
        "member_id": text.ids("m-", np.arange(n), 4),
        "first_name": text.labels(rng.integers(0, len(FIRST_NAMES), n), FIRST_NAMES),
        "last_name": text.labels(rng.integers(0, len(LAST_NAMES), n), LAST_NAMES),
        "role": role.astype(np.int64),
        "store_id": text.take(text.ids("st-", np.arange(n_stores), 2), store),
        "_store": store,
    }


def generate_chat(
    rng: np.random.Generator,
    history: Clock,
    end: int,
    n_requests: int,
    n_members: int,
    n_stores: int,
    product_weights: np.ndarray,
    product_ids: pa.Array,
    profile: ChatProfile = DEMO_PROFILE.chat,
) -> ChatWorld:
    """The platform as it stands at instant `end`: requests over the `history` days, nothing after `end`."""
    p = profile
    members = _members(rng, n_members, n_stores, p)
    member_w = weights(rng, n_members, 2.0)
    store_members = np.flatnonzero(members["_store"] >= 0)

    # --- requests ------------------------------------------------------------------------------------
    n = n_requests
    created = np.sort(history.daytime(rng, n, peak=16.0, spread=4.5))
    source = rng.choice(4, n, p=p.request_sources)
    wl = source == 0
    fate = p.waiting_list.split(rng.random(n))
    canceled, never = wl & fate["canceled"], wl & fate["never_handled"]
    late_hours, late_days = wl & fate["handled_hours_later"], wl & fate["handled_days_later"]
    delay = np.select(
        [late_hours, late_days],
        [rng.uniform(1, 10, n) * HOUR, rng.uniform(1, 4, n) * DAY],
        np.minimum(rng.lognormal(4.0, 1.0, n), 1800) * US,
    ).astype(np.int64)
    handled = np.where(wl, created + delay, created)
    handled = np.where(canceled | never | (handled >= end), -1, handled)
    canceled_at = np.where(canceled, created + rng.integers(20, 900, n) * US, -1)
    q = p.question.split(rng.random(n))
    question = np.select(
        [q["asked_at_once"], q["asked_later"]],
        [created + rng.integers(2, 60, n) * US, created + (rng.uniform(0.5, 72, n) * HOUR).astype(np.int64)],
        -1,
    )
    question = np.where(question >= end, -1, question)
    member = rng.choice(n_members, n, p=member_w)
    if len(store_members):
        member = np.where(source == 3, store_members[rng.integers(0, len(store_members), n)], member)
    channel = np.empty(n, dtype=np.int64)
    for s, mix in enumerate(p.channels_by_source):  # a loop over the 4 sources
        rows = source == s
        channel[rows] = rng.choice(7, rows.sum(), p=mix)

    # --- visitors: a new identity per request, some requests come back from an earlier visitor of the
    # same kind (browser, messaging app, store); messaging identities never share a browser id -----------
    family = np.select([np.isin(channel, OFFSITE), channel == 6], [1, 2], 0)
    owner = np.arange(n)
    for f in range(3):
        rows = np.flatnonzero(family == f)
        back = rows[rng.random(len(rows)) < p.returning_visitors]
        if len(rows):
            owner[back] = rows[rng.integers(0, len(rows), len(back))]
    owner = owner[owner]  # follow one step to a root
    roots, visitor = np.unique(owner, return_inverse=True)
    n_vis = len(roots)
    vis_family = family[roots]
    vis_created = np.full(n_vis, np.iinfo(np.int64).max)
    np.minimum.at(vis_created, visitor, created)
    vis_created -= (rng.exponential(6 * HOUR, n_vis) + rng.integers(1, 600, n_vis) * US).astype(np.int64)
    email_share = np.array(p.email_by_visitor_kind)[vis_family]
    has_email = rng.random(n_vis) < email_share
    customer_share = np.array(p.customer_by_visitor_kind)[vis_family]
    has_customer = rng.random(n_vis) < customer_share

    # --- chatrooms: one per handled request and visitor-member pair; plus internal member-to-member rooms
    opened = handled >= 0
    pair = visitor.astype(np.int64) * n_members + member
    first_of_pair = np.zeros(n, dtype=bool)
    _, first_idx = np.unique(np.where(opened, pair, -1 - np.arange(n)), return_index=True)
    first_of_pair[first_idx] = True
    req_room = np.flatnonzero(opened & first_of_pair)
    n_int = max(2, int(round(p.internal_rooms * len(req_room))))
    int_member = rng.integers(0, n_members, n_int)
    int_other = (int_member + 1 + rng.integers(0, max(1, n_members - 1), n_int)) % n_members
    r_start = np.concatenate([handled[req_room], history.daytime(rng, n_int, 11.0, 3.0)])
    r_req = np.concatenate([req_room, np.full(n_int, -1)])
    r_visitor = np.concatenate([visitor[req_room], n_vis + int_other])  # staff visitors after the others
    r_member = np.concatenate([member[req_room], int_member])
    r_source = np.concatenate([source[req_room], np.full(n_int, 1)])
    r_channel = np.concatenate([channel[req_room], np.full(n_int, 5)])
    r_internal = np.arange(len(r_start)) >= len(req_room)
    order = np.argsort(r_start, kind="stable")
    r_start, r_req, r_visitor, r_member, r_source, r_channel, r_internal = (
        a[order] for a in (r_start, r_req, r_visitor, r_member, r_source, r_channel, r_internal)
    )
    n_rooms = len(r_start)
    r_blocked = exact_share(rng, ~r_internal, p.blocked_rooms)

    # --- messages -----------------------------------------------------------------------------------
    msg = _messages(rng, r_start, r_source, r_internal, r_blocked, end, product_weights, p.messages)
    room, sent, sender, kind, auto = msg["room"], msg["sent"], msg["sender"], msg["kind"], msg["auto"]
    counted = (sender < 2) & ~auto
    first = np.full(n_rooms, -1, dtype=np.int64)
    last = np.full(n_rooms, -1, dtype=np.int64)
    cr, cs = room[counted], sent[counted]  # sorted by room, then time
    starts = np.flatnonzero(np.r_[True, cr[1:] != cr[:-1]]) if len(cr) else np.array([], dtype=np.int64)
    ends = np.r_[starts[1:], len(cr)] - 1
    first[cr[starts]], last[cr[ends]] = cs[starts], cs[ends]
    wrote = np.zeros((n_rooms, 2), dtype=bool)
    wrote[cr, sender[counted]] = True
    dialogue = wrote.all(axis=1)
    shared = kind == 1
    room_product = np.full(n_rooms, -1, dtype=np.int64)
    shared_rooms, first_shared = np.unique(room[shared], return_index=True)
    room_product[shared_rooms] = msg["product"][shared][first_shared]  # the first product shared

    # the visitor gave an email through an email request: the platform now knows it
    filled = (kind == 5) & (msg["filled"] >= 0)
    filled_visitor = r_visitor[room[filled]]
    has_email[filled_visitor[filled_visitor < n_vis]] = True

    # --- ratings: a request after the last counted message of some rooms ----------------------------------
    rated = exact_share(rng, (last >= 0) & ~r_internal, p.rated_rooms)
    rated_room = np.flatnonzero(rated)
    requested = last[rated_room] + rng.integers(1, 20, len(rated_room)) * MIN
    keep = requested < end
    rated_room, requested = rated_room[keep], requested[keep]
    n_rat = len(rated_room)
    a = p.rating_given.split(rng.random(n_rat))
    given = np.select(
        [a["at_once"], a["days_later"]],
        [requested + rng.integers(1, 90, n_rat) * MIN, requested + (rng.uniform(1, 6, n_rat) * DAY).astype(np.int64)],
        -1,
    )
    given[: min(n_rat, 1)] = requested[: min(n_rat, 1)] + 2 * DAY  # one given days later
    given = np.where(given >= end, -1, given)
    score = np.where(given >= 0, rng.choice(5, n_rat, p=p.scores) + 1, -1)

    # rating requests are automatic member messages of kind rating_request; all messages in time order
    room = np.concatenate([room, rated_room])
    sent = np.concatenate([sent, requested])
    sender = np.concatenate([sender, np.ones(n_rat, dtype=np.int64)])
    kind = np.concatenate([kind, np.full(n_rat, 6)])
    auto = np.concatenate([auto, np.ones(n_rat, dtype=bool)])
    product = np.concatenate([msg["product"], np.full(n_rat, -1)])
    filled_at = np.concatenate([msg["filled"], np.full(n_rat, -1)])
    del msg
    order = np.lexsort((room, sent))
    room, sent, sender, kind, auto, product, filled_at = (
        a[order] for a in (room, sent, sender, kind, auto, product, filled_at)
    )

    # --- identity links: offsite visitors who clicked a link a member sent them -------------------------
    link_msgs = np.flatnonzero((kind == 7) & np.isin(r_channel[room], LINKABLE) & ~r_internal[room])
    _, firsts = np.unique(room[link_msgs], return_index=True)
    link_msgs = link_msgs[firsts]
    link_msgs = link_msgs[exact_share(rng, np.ones(len(link_msgs), dtype=bool), p.links_clicked)]
    link_room = room[link_msgs]
    link_at = sent[link_msgs] + rng.integers(1, 90, len(link_msgs)) * MIN
    keep = link_at < end
    link_room, link_at = link_room[keep], link_at[keep]
    n_links = len(link_room)
    n_staff = n_members
    link_visitor = n_vis + n_staff + np.arange(n_links)  # new browser visitors

    # --- hook events: each hook request was clicked; most hooks are shown and ignored -------------------
    hook = np.flatnonzero(source == 2)
    n_extra = p.ignored_hooks_per_click * len(hook) + 3
    h_member = np.concatenate([member[hook], rng.choice(n_members, n_extra, p=member_w)])
    h_visitor = np.concatenate([visitor[hook], rng.integers(0, n_vis, n_extra)])
    h_click = np.concatenate([created[hook] - rng.integers(1, 8, len(hook)) * US, np.full(n_extra, -1)])
    h_trig = np.concatenate(
        [h_click[: len(hook)] - rng.integers(20, 300, len(hook)) * US, history.daytime(rng, n_extra, 15.0, 4.0)]
    )
    shown = np.concatenate([np.ones(len(hook), dtype=bool), rng.random(n_extra) < p.ignored_hooks_displayed])
    h_disp = h_trig + rng.integers(1, 4, len(h_trig)) * US
    ev_member = np.concatenate([h_member, h_member[shown], h_member[: len(hook)]])
    ev_visitor = np.concatenate([np.full(len(h_member), -1), h_visitor[shown], h_visitor[: len(hook)]])
    ev_kind = np.concatenate([np.zeros(len(h_member)), np.ones(shown.sum()), np.full(len(hook), 2)]).astype(int)
    ev_at = np.concatenate([h_trig, h_disp[shown], h_click[: len(hook)]])
    keep = ev_at < end
    order = np.lexsort((ev_kind[keep], ev_at[keep]))
    ev_member, ev_visitor, ev_kind, ev_at = (a[keep][order] for a in (ev_member, ev_visitor, ev_kind, ev_at))

    # --- member sessions: most members online most days; overlapping devices; late shifts over midnight
    m_idx, d_idx = np.meshgrid(np.arange(n_members), np.arange(history.days), indexing="ij")
    works = rng.random(m_idx.size) < p.member_works
    m_idx, d_idx = m_idx.ravel()[works], d_idx.ravel()[works]
    late_shift = exact_share(rng, np.ones(len(m_idx), dtype=bool), p.late_shifts)
    hour = np.where(late_shift, rng.uniform(21.5, 23.5, len(m_idx)), rng.uniform(8, 17, len(m_idx)))
    s_start = history.local(d_idx, hour * 3600)
    s_end = s_start + (
        np.where(late_shift, rng.uniform(2, 4, len(m_idx)), rng.uniform(1, 7, len(m_idx))) * HOUR
    ).astype(np.int64)
    second = exact_share(rng, ~late_shift, p.second_devices)  # a second device, overlapping
    s2 = s_start[second] + (rng.uniform(0.2, 1, second.sum()) * HOUR).astype(np.int64)
    s_member = np.concatenate([m_idx, m_idx[second]])
    s_start = np.concatenate([s_start, s2])
    s_end = np.concatenate([s_end, s2 + (rng.uniform(0.5, 3, second.sum()) * HOUR).astype(np.int64)])
    keep = s_start < end
    s_member, s_start, s_end = s_member[keep], s_start[keep], np.minimum(s_end[keep], end - 1)
    order = np.lexsort((s_member, s_start))
    s_member, s_start, s_end = s_member[order], s_start[order], s_end[order]

    # --- assemble the id columns ------------------------------------------------------------------------
    vw = text.id_width(n_vis + n_staff + n_links)
    visitor_ids = pa.concat_arrays(
        [
            text.ids("v-", np.arange(n_vis), vw),
            text.ids("v-staff-", np.arange(n_staff), 4),
            text.ids("v-b", np.arange(n_links), vw),
        ]
    )
    email = text.take(
        text.join(text.ids("visitor", np.arange(n_vis), vw), "@example.com"),
        np.r_[np.where(has_email, np.arange(n_vis), -1), np.full(n_staff + n_links, -1)],
    )
    customer = text.take(
        text.ids("c-", np.arange(n_vis), vw),
        np.r_[np.where(has_customer, np.arange(n_vis), -1), np.full(n_staff + n_links, -1)],
    )
    v_created = np.r_[vis_created, np.full(n_staff, history.start - 90 * DAY), link_at]
    member_ids = members["member_id"]
    request_ids = text.ids("rq-", np.arange(n), text.id_width(n))
    room_ids = text.ids("cr-", np.arange(n_rooms), text.id_width(n_rooms))
    columns = {
        "members": {k: v for k, v in members.items() if not k.startswith("_")},
        "visitors": {"visitor_id": visitor_ids, "email": email, "customer_id": customer, "created_at": v_created},
        "conversation_requests": {
            "request_id": request_ids,
            "visitor_id": visitor_ids.take(pa.array(visitor)),
            "source": text.labels(source, SOURCES),
            "created_at": created,
            "question_at": question,
            "canceled_at": canceled_at,
            "handled_at": handled,
            "handled_by": text.take(member_ids, np.where(handled >= 0, member, -1)),
        },
        "chatrooms": {
            "chatroom_id": room_ids,
            "request_id": text.take(request_ids, r_req),
            "visitor_id": visitor_ids.take(pa.array(r_visitor)),
            "member_id": member_ids.take(pa.array(r_member)),
            "source": text.labels(r_source, SOURCES),
            "channel": text.labels(r_channel, CHANNELS),
            "started_at": r_start,
            "is_internal": r_internal,
            "is_blocked": r_blocked,
        },
        # big table: ids and labels are formatted chunk by chunk when written ((prefix, count), (values, index))
        "messages": {
            "message_id": ("ms-", len(room)),
            "chatroom_id": (room_ids, room),
            "sender": (pa.array(SENDERS), sender),
            "sent_at": sent,
            "is_automatic": auto,
            "kind": (pa.array(KINDS), kind),
            "product_id": (product_ids, product),
            "email_filled_at": filled_at,
        },
        "ratings": {
            "rating_id": text.ids("ra-", np.arange(n_rat), text.id_width(n_rat)),
            "chatroom_id": room_ids.take(pa.array(rated_room)),
            "member_id": member_ids.take(pa.array(r_member[rated_room])),
            "requested_at": requested,
            "given_at": given,
            "score": score,
        },
        "hook_events": {
            "event_id": text.ids("he-", np.arange(len(ev_at)), text.id_width(len(ev_at))),
            "member_id": member_ids.take(pa.array(ev_member)),
            "visitor_id": text.take(visitor_ids, ev_visitor),
            "event": text.labels(ev_kind, HOOK_EVENTS),
            "at": ev_at,
        },
        "member_sessions": {"member_id": member_ids.take(pa.array(s_member)), "started_at": s_start, "ended_at": s_end},
        "identity_links": {
            "visitor_id": visitor_ids.take(pa.array(r_visitor[link_room])),
            "linked_visitor_id": visitor_ids.take(pa.array(link_visitor)),
            "linked_at": link_at,
        },
    }
    return ChatWorld(
        member_ids=member_ids,
        member_store=members["_store"],
        visitor_ids=visitor_ids,
        visitor_email=email,
        visitor_customer=customer,
        columns=columns,
        room_visitor=r_visitor,
        room_member=r_member,
        room_channel=r_channel,
        room_internal=r_internal,
        room_first=first,
        room_last=last,
        room_dialogue=dialogue,
        room_product=room_product,
        link_room=link_room,
        link_visitor=link_visitor,
        link_at=link_at,
    )


def _messages(
    rng,
    start: np.ndarray,
    source: np.ndarray,
    internal: np.ndarray,
    blocked: np.ndarray,
    end: int,
    product_weights: np.ndarray,
    profile: MessageProfile,
) -> dict[str, np.ndarray]:
    """Messages of every room, sorted by room then time; nothing at or after `end`.

    Room shapes (0 to 3): dialogues (in some, the second party's first answer comes days later, and some later
    messages resume a conversation days later), visitor-only, member-only, empty; in `profile.room_shapes`.
    """
    p = profile
    n = len(start)
    shape = rng.choice(4, n, p=p.room_shapes)
    shape[internal] = 0
    shape[blocked] = np.where(rng.random(blocked.sum()) < p.blocked_dialogues, 0, 1)
    member_first = np.where(
        np.isin(source, (2, 3)), rng.random(n) < p.member_first_hook_phygital, rng.random(n) < p.member_first_other
    )
    count = np.select(
        [shape == 0, shape == 3], [1 + np.minimum(rng.geometric(1 / 11, n), 60), 0], rng.integers(1, 4, n)
    )
    room = np.repeat(np.arange(n), count)
    m = len(room)
    room_first = np.cumsum(count) - count
    pos = np.arange(m) - room_first[room]
    rs = shape[room]
    late_reply = np.repeat(exact_share(rng, shape == 0, p.late_first_replies), count) & (pos == 1)
    resumed = (pos > 2) & (rng.random(m) < p.resumed)
    gap = np.select(
        [pos == 0, late_reply, resumed, pos == 1],
        [
            rng.integers(2, 40, m) * US,
            (rng.uniform(1, 5, m) * DAY).astype(np.int64),
            (rng.uniform(1, 20, m) * DAY).astype(np.int64),
            (rng.exponential(90, m) * US).astype(np.int64),
        ],
        (rng.exponential(150, m) * US).astype(np.int64) + US,
    )
    csum = np.cumsum(gap)
    sent = start[room] + csum - np.r_[csum - gap, 0][room_first][room]
    mf = member_first[room]
    sender = np.select(
        [rs == 1, rs == 2, pos == 0, pos == 1],
        [0, 1, mf.astype(int), (~mf).astype(int)],
        (rng.random(m) < p.member_writes).astype(int),
    )
    kind = np.where(
        sender == 1,
        rng.choice(MEMBER_KINDS, m, p=p.member_kinds),
        rng.choice(VISITOR_KINDS, m, p=p.visitor_kinds),
    )
    product = np.where(kind == 1, rng.choice(len(product_weights), m, p=product_weights), -1)
    f = p.email_filled.split(rng.random(m))
    filled = np.select(
        [(kind == 5) & f["at_once"], (kind == 5) & f["days_later"]],
        [sent + rng.integers(1, 30, m) * MIN, sent + (rng.uniform(1, 5, m) * DAY).astype(np.int64)],
        -1,
    )
    # automatic welcome messages (member side) and system notes (transfers, closings)
    welcome = np.flatnonzero(rng.random(n) < np.where(shape == 3, p.welcome_in_empty_rooms, p.welcome_in_other_rooms))
    system = np.flatnonzero(exact_share(rng, np.ones(n, dtype=bool), p.system_notes))
    extra_room = np.concatenate([welcome, system])
    extra_sent = np.concatenate([start[welcome] + 300_000, start[system] + rng.integers(1, 60, len(system)) * MIN])
    out = {
        "room": np.concatenate([room, extra_room]),
        "sent": np.concatenate([sent, extra_sent]),
        "sender": np.concatenate([sender, np.ones(len(welcome), dtype=int), np.full(len(system), 2)]),
        "kind": np.concatenate([kind, np.zeros(len(extra_room), dtype=int)]),
        "auto": np.concatenate(
            [np.zeros(m, dtype=bool), np.ones(len(welcome), dtype=bool), np.zeros(len(system), dtype=bool)]
        ),
        "product": np.concatenate([product, np.full(len(extra_room), -1)]),
        "filled": np.concatenate([filled, np.full(len(extra_room), -1)]),
    }
    out["filled"] = np.where(out["filled"] >= end, -1, out["filled"])
    keep = out["sent"] < end
    order = np.lexsort((out["sent"][keep], out["room"][keep]))
    return {k: v[keep][order].astype(np.int64) if v.dtype != bool else v[keep][order] for k, v in out.items()}
