"""The demo's sales side: a product catalog, web orders (from visitors who chatted — before the first message,
inside and outside the attribution window, without a dialogue, through offsite identity links — from shoppers
who never chatted, and from guests with no identity), refunds and cancellations as later versions, POS
receipts (returns, several lines, no email, the DST night) and campaigns with clicks.

Everything stays in arrays (indices, int64 µs instants, integer cents); `files.py` turns them into text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chatsales.demo import text
from chatsales.demo.chat import ChatWorld
from chatsales.demo.clock import DAY, HOUR, MIN, US, Clock, exact_share, weights
from chatsales.demo.profile import DEMO_PROFILE, CommerceProfile, TypedEmails

CATEGORIES = ("skincare", "makeup", "fragrance", "haircare", "bodycare", "accessories")
CITIES = ("Paris", "Lyon", "Lille", "Bordeaux", "Nantes", "Marseille", "Toulouse", "Nice")
STATUSES = ("pending", "paid", "partially_refunded", "refunded", "cancelled")


@dataclass
class Catalog:
    product_ids: pa.Array
    sku: pa.Array
    title: pa.Array
    category: np.ndarray  # index into CATEGORIES
    price: np.ndarray  # cents, VAT included
    popularity: np.ndarray  # weights summing to 1


def catalog(rng, n: int = 240) -> Catalog:
    category = rng.integers(0, len(CATEGORIES), n)
    return Catalog(
        product_ids=text.ids("p-", np.arange(n), 4),
        sku=text.ids("SKU-", np.arange(n), 4),
        title=text.join("Demo ", text.labels(category, CATEGORIES), " item ", text.integers(np.arange(n))),
        category=category,
        price=(rng.lognormal(3.4, 0.6, n).clip(4, 250) * 100).round().astype(np.int64),
        popularity=weights(rng, n, 0.8),
    )


def dirty(rng, emails: pa.Array, typed: TypedEmails = DEMO_PROFILE.commerce.typed_emails) -> pa.Array:
    """Addresses as customers type them at checkout: most as stored, some upper-cased, capitalised, or with
    surrounding spaces (identity strips and lower-cases; nothing else differs)."""
    u = typed.split(rng.random(len(emails)))
    upper, capital = pc.utf8_upper(emails), pc.utf8_capitalize(emails)
    spaced = text.join("  ", emails, " ")
    cases = pc.make_struct(*(pa.array(u[name]) for name in ("upper_cased", "capitalised", "padded_with_spaces")))
    return pc.case_when(cases, upper, capital, spaced, emails)


def _fill(wanted: int, candidates: np.ndarray) -> np.ndarray:
    """The first `wanted` positions where `candidates` is True, in order."""
    return np.flatnonzero(candidates)[:wanted]


@dataclass
class WebOrders:
    placed: np.ndarray
    email: pa.Array
    customer: pa.Array
    visitor: pa.Array
    first_flag: np.ndarray  # 1 true, 0 false, -1 absent
    line_order: np.ndarray  # per line: order index (sorted)
    line_product: np.ndarray
    line_qty: np.ndarray
    total: np.ndarray  # cents
    status0: np.ndarray  # status code of the first version
    changed: np.ndarray  # instant of the later version, -1 when none before the end
    status1: np.ndarray
    refunded1: np.ndarray  # cents
    cancelled_at: np.ndarray


def web_orders(
    rng,
    clock: Clock,
    end: int,
    n: int,
    world: ChatWorld,
    cat: Catalog,
    profile: CommerceProfile = DEMO_PROFILE.commerce,
) -> WebOrders:
    """n orders placed in the reported days, some by visitors who chatted (`profile.orders` says how many)."""
    p, typed = profile.orders, profile.typed_emails
    n_chat, n_link = int(n * p.by_chatters), max(3, int(n * p.by_linked_visitors))
    n_anon = max(2, int(n * p.by_guests))
    # visitors who chatted: per case, an instant relative to the chatroom's counted messages
    rooms = np.flatnonzero(~world.room_internal & (world.room_last >= 0))
    k = 3 * n_chat + 10
    r = rooms[rng.integers(0, len(rooms), k)]
    case = rng.choice(4, k, p=p.chat_cases)  # inside window, outside, before chatting, no dialogue
    dia = world.room_dialogue[r]
    case = np.where(dia, np.where(case == 3, 0, case), np.where(case == 2, 2, 3))
    within = np.minimum(rng.lognormal(np.log(1.5 * DAY), 1.0, k), 13.9 * DAY).astype(np.int64) + 5 * MIN
    placed = np.select(
        [case == 0, case == 1, case == 2],
        [
            world.room_last[r] + within,
            world.room_last[r] + (rng.uniform(15, 45, k) * DAY).astype(np.int64),
            world.room_first[r] - (rng.uniform(1, 120, k) * HOUR).astype(np.int64),
        ],
        world.room_last[r] + (rng.uniform(1, 120, k) * HOUR).astype(np.int64),
    )
    take = _fill(n_chat, (placed >= clock.start) & (placed < end))
    r, placed_chat = r[take], placed[take]
    v, ch = world.room_visitor[r], world.room_channel[r]
    has_email = pc.is_valid(world.visitor_email.take(pa.array(v))).to_numpy(zero_copy_only=False)
    has_cust = pc.is_valid(world.visitor_customer.take(pa.array(v))).to_numpy(zero_copy_only=False)
    m = len(r)
    use_vid = (ch == 0) & (rng.random(m) < p.web_visitor_id)
    use_email = has_email & (rng.random(m) < p.known_email)
    use_cust = has_cust & (rng.random(m) < p.known_customer)
    use_email |= ~use_vid & ~use_cust & has_email
    fresh = ~use_vid & ~use_email & ~use_cust  # an identity the platform never saw
    # offsite visitors recognised as a browser visitor: orders of that browser, no email, mostly after the click
    li = rng.integers(0, max(1, len(world.link_at)), 3 * n_link + 10) if len(world.link_at) else np.array([], int)
    after = rng.random(len(li)) < p.after_link
    placed_link = world.link_at[li] + np.where(after, 1, -1) * (rng.uniform(1, 120, len(li)) * HOUR).astype(np.int64)
    take = _fill(n_link, (placed_link >= clock.start) & (placed_link < end))
    li, placed_link = li[take], placed_link[take]
    # shoppers who never chatted (repeat customers from a pool; their browser has a widget id too)
    n_shop = n - m - len(li) - n_anon
    pool = max(10, int(n_shop / 1.7))
    who = (pool * rng.random(n_shop) ** 1.6).astype(np.int64)
    placed_shop = clock.daytime(rng, n_shop, 14.0, 5.0)
    placed_anon = clock.daytime(rng, n_anon, 14.0, 5.0)

    vw = text.id_width(pool)
    shopper = text.join("shopper", text.integers(who), "@example.org")
    chat_email = text.take(
        dirty(rng, world.visitor_email.take(pa.array(v)), typed), np.where(use_email, np.arange(m), -1)
    )
    guest = dirty(rng, text.join("guest", text.integers(np.arange(m)), "@example.net"), typed)
    email = pa.concat_arrays(
        [
            pc.if_else(pa.array(fresh), guest, chat_email),
            pa.nulls(len(li), pa.string()),
            text.take(
                dirty(rng, shopper, typed), np.where(rng.random(n_shop) < p.shopper_email, np.arange(n_shop), -1)
            ),
            pa.nulls(n_anon, pa.string()),
        ]
    )
    customer = pa.concat_arrays(
        [
            text.take(world.visitor_customer.take(pa.array(v)), np.where(use_cust, np.arange(m), -1)),
            pa.nulls(len(li), pa.string()),
            text.take(
                text.ids("c-s", who, vw), np.where(rng.random(n_shop) < p.shopper_customer, np.arange(n_shop), -1)
            ),
            pa.nulls(n_anon, pa.string()),
        ]
    )
    visitor = pa.concat_arrays(
        [
            text.take(world.visitor_ids.take(pa.array(v)), np.where(use_vid, np.arange(m), -1)),
            world.visitor_ids.take(pa.array(world.link_visitor[li])),
            text.take(
                text.ids("v-w", who, vw), np.where(rng.random(n_shop) < p.shopper_visitor, np.arange(n_shop), -1)
            ),
            pa.nulls(n_anon, pa.string()),
        ]
    )
    placed = np.concatenate([placed_chat, placed_link, placed_shop, placed_anon])
    shared = np.concatenate([world.room_product[r], np.full(len(li) + n_shop + n_anon, -1)])
    order = np.argsort(placed, kind="stable")
    placed, shared = placed[order], shared[order]
    email, customer, visitor = (a.take(pa.array(order)) for a in (email, customer, visitor))
    n = len(placed)

    # lines: a product shared in the chat is often bought
    count = rng.choice([1, 2, 3], n, p=p.lines)
    line_order = np.repeat(np.arange(n), count)
    first_line = np.cumsum(count) - count
    product = rng.choice(len(cat.price), len(line_order), p=cat.popularity)
    bought_shared = (shared >= 0) & (rng.random(n) < p.bought_shared)
    product[first_line[bought_shared]] = shared[bought_shared]
    qty = rng.choice(p.quantities, len(line_order))
    total = np.bincount(line_order, weights=qty * cat.price[product], minlength=n).astype(np.int64)

    # first-order flag, as the shop knows it (its history starts before ours); absent on some orders
    key = pc.coalesce(pc.utf8_lower(pc.utf8_trim_whitespace(email)), customer, visitor)
    known = pc.is_valid(key).to_numpy(zero_copy_only=False)
    codes = pc.dictionary_encode(pc.coalesce(key, "")).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first_idx = np.unique(np.where(known, codes, -1 - np.arange(n)), return_index=True)
    is_first = np.zeros(n, dtype=bool)
    is_first[first_idx] = True
    is_first &= known & (rng.random(n) < p.first_flag_true)
    first_flag = np.where(rng.random(n) < p.first_flag_absent, -1, is_first.astype(np.int64))

    # later versions: paid after pending, cancelled, refunded, partially refunded
    status0 = np.where(rng.random(n) < p.pending, 0, 1)
    fate = p.fates.split(rng.random(n))
    cancelled, refunded, partial = fate["cancelled"], fate["refunded"], fate["partially_refunded"]
    paid_later = (status0 == 0) & ~cancelled & ~refunded & ~partial & (rng.random(n) < p.pending_paid_later)
    delay = np.select(
        [cancelled, paid_later],
        [
            (rng.uniform(10 * 60, 2 * 86400, n) * US).astype(np.int64),
            (rng.uniform(5 * 60, 86400, n) * US).astype(np.int64),
        ],
        (rng.uniform(1, 8, n) * DAY).astype(np.int64),
    )
    early = placed < clock.start + 2 * DAY
    for kind in (cancelled, refunded, partial):  # each kind present even in a tiny demo
        if not (kind & (placed + delay < end)).any():
            kind |= exact_share(rng, early & ~cancelled & ~refunded & ~partial, 0.0)  # share 0: just one
    changed = np.where((cancelled | refunded | partial | paid_later) & (placed + delay < end), placed + delay, -1)
    status1 = np.select([cancelled, refunded, partial], [4, 3, 2], 1)
    refunded1 = np.select(
        [cancelled & (status0 == 1), refunded, partial],
        [total, total, np.round(total * rng.uniform(*p.partial_refund, n)).astype(np.int64)],
        0,
    )
    return WebOrders(
        placed=placed,
        email=email,
        customer=customer,
        visitor=visitor,
        first_flag=first_flag,
        line_order=line_order,
        line_product=product,
        line_qty=qty,
        total=total,
        status0=status0,
        changed=changed,
        status1=status1,
        refunded1=refunded1,
        cancelled_at=np.where(cancelled & (changed >= 0), changed, -1),
    )


@dataclass
class Receipts:
    """POS lines, sorted by store, local day, time, receipt and line."""

    receipt_id: pa.Array
    store: np.ndarray
    day: np.ndarray
    sold: np.ndarray
    style: np.ndarray  # iso_timestamps style: 0 with offset, 2 local time without offset
    email: pa.Array
    loyalty: pa.Array
    product: np.ndarray
    qty: np.ndarray
    amount: np.ndarray  # cents
    store_ids: pa.Array
    store_names: pa.Array
    store_cities: pa.Array


def receipts(
    rng,
    clock: Clock,
    end: int,
    n: int,
    n_stores: int,
    world: ChatWorld,
    cat: Catalog,
    late_store: int,
    late_day: int,
    profile: CommerceProfile = DEMO_PROFILE.commerce,
) -> Receipts:
    """About n receipts in store hours: by visitors whose dialogue ended days before, by known shoppers, the
    rest without email; some returns (`profile.receipts`); on a DST day, a night opening around the change."""
    p, typed = profile.receipts, profile.typed_emails
    store_w = weights(rng, n_stores, 3.0)
    rooms = np.flatnonzero(
        ~world.room_internal
        & world.room_dialogue
        & pc.is_valid(world.visitor_email.take(pa.array(world.room_visitor))).to_numpy(zero_copy_only=False)
    )
    n_chat = int(n * p.by_chatters)
    r = rooms[rng.integers(0, max(1, len(rooms)), 3 * n_chat + 10)] if len(rooms) else np.array([], int)
    target = world.room_last[r] + (rng.uniform(0.3, 12, len(r)) * DAY).astype(np.int64)
    day_chat = clock.day_of(target)
    take = _fill(n_chat, (day_chat >= 0) & (day_chat < clock.days))
    r, day_chat = r[take], day_chat[take]
    member_store = world.member_store[world.room_member[r]]
    n_other = n - len(r)
    store = np.concatenate(
        [
            np.where(member_store >= 0, member_store, rng.choice(n_stores, len(r), p=store_w)),
            rng.choice(n_stores, n_other, p=store_w),
        ]
    )
    day = np.concatenate([day_chat, rng.integers(0, clock.days, n_other)])
    store[-3:], day[-3:] = late_store, late_day  # the late file has content
    seconds = (rng.uniform(10, 19.5, n) * 3600).round()
    sold = clock.local(day, seconds)
    who = rng.random(n_other)
    email = pa.concat_arrays(
        [
            dirty(rng, world.visitor_email.take(pa.array(world.room_visitor[r])), typed),
            text.take(
                dirty(
                    rng,
                    text.join("shopper", text.integers(rng.integers(0, max(10, n), n_other)), "@example.org"),
                    typed,
                ),
                np.where(who < p.shopper_email, np.arange(n_other), -1),
            ),
        ]
    )
    style = np.where(rng.random(n) < p.local_time, 2, 0)
    dst = clock.dst_days()
    night = np.empty(0, dtype=np.int64)
    if len(dst):  # a night opening on the DST day, in the last store
        d = int(dst[0])
        autumn = clock.midnights[d + 1] - clock.midnights[d] > DAY
        local_h = [2.25, 2.66, 2.5, 1.5, 3.5] if autumn else [1.5, 3.25, 3.75, 1.75, 3.5]
        night = clock.local(np.full(5, d), np.array(local_h) * 3600)
        if autumn:
            night[2] += HOUR  # 02:30 in the repeated hour's second occurrence (+01:00)
        n += 5
        store = np.concatenate([store, np.full(5, n_stores - 1)])
        day = np.concatenate([day, np.full(5, d)])
        sold = np.concatenate([sold, night])
        style = np.concatenate([style, [2, 2, 0, 2, 2]])
        email = pa.concat_arrays([email, pa.nulls(5, pa.string())])
    receipt_ids = pa.concat_arrays(
        [
            text.ids("R", np.arange(n - len(night)), text.id_width(n)),
            pa.array(["R-dst-1", "R-dst-2", "R-dst-3", "R-night-1", "R-night-2"][: len(night)], pa.string()),
        ]
    )
    loyalty = text.take(
        text.ids("L", np.arange(n), text.id_width(n)), np.where(rng.random(n) < p.loyalty_id, np.arange(n), -1)
    )
    is_return = exact_share(rng, np.ones(n, dtype=bool), p.returns)
    count = np.where(is_return, 1, rng.choice([1, 2, 3], n, p=p.lines))
    rec = np.repeat(np.arange(n), count)
    product = rng.choice(len(cat.price), len(rec), p=cat.popularity)
    qty = rng.choice(p.quantities, len(rec)) * np.where(is_return[rec], -1, 1)
    order = np.lexsort((np.arange(len(rec)), sold[rec], day[rec], store[rec]))
    rec, product, qty = rec[order], product[order], qty[order]
    cities = text.labels(np.arange(n_stores) % len(CITIES), CITIES)
    return Receipts(
        receipt_id=receipt_ids.take(pa.array(rec)),
        store=store[rec],
        day=day[rec],
        sold=sold[rec],
        style=style[rec],
        email=email.take(pa.array(rec)),
        loyalty=loyalty.take(pa.array(rec)),
        product=product,
        qty=qty,
        amount=qty * cat.price[product],
        store_ids=text.ids("st-", np.arange(n_stores), 2),
        store_names=text.join("Demo Store ", cities, " ", text.integers(np.arange(n_stores))),
        store_cities=cities,
    )


def campaigns(
    rng, clock: Clock, end: int, n: int, orders: WebOrders, profile: CommerceProfile = DEMO_PROFILE.commerce
) -> tuple[dict, dict]:
    """Mailings and automations; clicks by buyers who order within 7 days of the click, 8–12 days after it,
    and by readers who never order."""
    sent = clock.daytime(rng, n, 10.0, 1.5)
    sent[0] -= 13 * DAY  # an automation running since before the period
    sent = np.sort(sent)
    camp = {
        "campaign_id": text.ids("cp-", np.arange(n), 3),
        "name": text.join("Demo campaign ", text.integers(np.arange(n))),
        "kind": text.labels(np.where(np.arange(n) % 3 == 2, 1, 0), ("mailing", "automation")),
        "sent_at": sent,
    }
    with_email = np.flatnonzero(pc.is_valid(orders.email).to_numpy(zero_copy_only=False))
    k = min(len(with_email), max(20, len(orders.placed) // profile.orders_per_buyer_click))
    chosen = with_email[rng.choice(len(with_email), k, replace=False)]
    lag = np.where(rng.random(k) < profile.buyer_clicks_within_a_week, rng.uniform(0.1, 6.9, k), rng.uniform(8, 12, k))
    clicked = orders.placed[chosen] - (lag * DAY).astype(np.int64)
    email = pc.utf8_lower(pc.utf8_trim_whitespace(orders.email.take(pa.array(chosen))))
    idle_at = clock.daytime(rng, k, 11.0, 3.0)
    idle = text.join("reader", text.integers(np.arange(k)), "@example.net")
    clicked = np.concatenate([clicked, idle_at])
    email = pa.concat_arrays([email, idle])
    before = np.searchsorted(sent, clicked)  # campaigns sent before the click
    keep = (before > 0) & (clicked < end)
    campaign = (rng.random(len(clicked)) * before).astype(np.int64)
    order = np.argsort(clicked[keep], kind="stable")
    idx = np.flatnonzero(keep)[order]
    clicks = {
        "campaign_id": camp["campaign_id"].take(pa.array(campaign[idx])),
        "email": email.take(pa.array(idx)),
        "clicked_at": clicked[idx],
    }
    return camp, clicks
