"""The demo chat platform: members, visitors, requests, chatrooms, messages, ratings, hooks, sessions and
offsite identity links, generated column-wise with numpy (no per-row Python) so 30× scale stays fast.

Times are int64 microseconds since the epoch (UTC); `Clock` turns reporting-timezone days into them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

US = 1_000_000
MIN, HOUR, DAY = 60 * US, 3600 * US, 86_400 * US
SOURCES = np.array(["waiting_list", "direct", "hook", "phygital"])
OFFSITE = np.array(["messenger", "whatsapp", "sms", "instagram"])


@dataclass(frozen=True)
class Clock:
    """Local days of the reporting timezone as UTC microsecond bounds."""

    first_day: date
    days: int
    timezone: str

    def midnight(self, offset: int) -> int:
        local = datetime.combine(self.first_day + timedelta(days=offset), time(), ZoneInfo(self.timezone))
        return int(local.timestamp() * US)

    @property
    def start(self) -> int:
        return self.midnight(0)

    @property
    def end(self) -> int:
        return self.midnight(self.days)

    def daytime(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n instants spread over the days, busier in the afternoon and evening (local time)."""
        bounds = np.array([self.midnight(d) for d in range(self.days + 1)], dtype=np.int64)
        day = rng.integers(0, self.days, n)
        hour = np.clip(rng.normal(15.5, 4.0, n), 0, 23.999)
        length = bounds[day + 1] - bounds[day]
        return bounds[day] + (hour / 24.0 * length).astype(np.int64) + rng.integers(0, MIN, n)


def ids(prefix: str, n: int, start: int = 0) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(start, start + n).astype(str), 6)).astype(object)


def pick(rng, values, n, p=None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]


def nullable(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[~keep] = None
    return out


def members(rng, n: int, stores: np.ndarray) -> pd.DataFrame:
    store = nullable(pick(rng, stores, n), rng.random(n) < 0.35)
    return pd.DataFrame({"member_id": ids("m-", n), "first_name": pick(rng, ["Alex", "Sam", "Noa", "Lou", "Kim"], n),
                         "last_name": np.char.add("Demo", np.arange(n).astype(str)).astype(object),
                         "role": rng.choice(7, n, p=[.05, .45, .2, .1, .1, .05, .05]), "store_id": store})


def visitors(rng, clock: Clock, n: int) -> pd.DataFrame:
    """Chat visitors; about 60% gave an email (clean, as the widget stores it), 35% are logged-in customers."""
    email = nullable(np.char.add(np.char.add("visitor", np.arange(n).astype(str)), "@example.com"),
                     rng.random(n) < 0.6)
    customer = nullable(np.char.add("c-", np.arange(n).astype(str)), rng.random(n) < 0.35)
    return pd.DataFrame({"visitor_id": ids("v-", n), "email": email, "customer_id": customer,
                         "created_at": clock.start - rng.integers(0, 60 * DAY, n)})


def requests_and_chatrooms(rng, clock: Clock, visitor_ids: np.ndarray, member_ids: np.ndarray,
                           n_rooms: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Requests of every source; waiting-list ones handled fast, late, never, or canceled; a chatroom per
    handled request, plus internal member-to-member rooms and rooms without a request."""
    n_req = int(n_rooms * 1.08)
    source = pick(rng, SOURCES, n_req, p=[.42, .33, .15, .10])
    created = clock.daytime(rng, n_req)
    wl = source == "waiting_list"
    fate = rng.random(n_req)
    canceled = wl & (fate < 0.05)
    never = wl & (fate >= 0.05) & (fate < 0.12)
    delay = np.where(rng.random(n_req) < 0.85, rng.lognormal(4.5, 1.3, n_req) * US,
                     rng.uniform(1, 4, n_req) * DAY).astype(np.int64)       # seconds to minutes; or days
    handled = np.where(wl, created + delay, created)
    handled_ok = ~canceled & ~never
    member = pick(rng, member_ids, n_req)
    question = rng.random(n_req)
    question_at = np.where(question < 0.65, created + rng.integers(2, 40, n_req) * US,
                           np.where(question < 0.72, created + rng.integers(1, 5, n_req) * DAY, -1))
    requests = pd.DataFrame({
        "request_id": ids("rq-", n_req), "visitor_id": pick(rng, visitor_ids, n_req), "source": source,
        "created_at": created, "question_at": question_at,
        "canceled_at": np.where(canceled, created + rng.integers(30, 900, n_req) * US, -1),
        "handled_at": np.where(handled_ok, handled, -1), "handled_by": nullable(member, handled_ok)})
    handled_rows = requests[handled_ok]
    n_handled = len(handled_rows)
    channel = np.where(handled_rows["source"].to_numpy() == "phygital", "store",
                       pick(rng, ["web", "messenger", "whatsapp", "sms", "instagram", "app"], n_handled,
                            p=[.56, .12, .12, .06, .07, .07])).astype(object)
    rooms = pd.DataFrame({
        "request_id": handled_rows["request_id"].to_numpy(), "visitor_id": handled_rows["visitor_id"].to_numpy(),
        "member_id": handled_rows["handled_by"].to_numpy(), "source": handled_rows["source"].to_numpy(),
        "channel": channel, "started_at": handled_rows["handled_at"].to_numpy(),
        "is_internal": False, "is_blocked": rng.random(n_handled) < 0.01})
    n_internal = max(2, n_rooms // 50)
    internal = pd.DataFrame({
        "request_id": None, "visitor_id": pick(rng, visitor_ids, n_internal),
        "member_id": pick(rng, member_ids, n_internal), "source": "direct", "channel": "app",
        "started_at": clock.daytime(rng, n_internal), "is_internal": True, "is_blocked": False})
    rooms = pd.concat([rooms, internal], ignore_index=True)
    rooms = rooms.iloc[np.argsort(rooms["started_at"].to_numpy(), kind="stable")].reset_index(drop=True)
    rooms.insert(0, "chatroom_id", ids("cr-", len(rooms)))
    return requests, rooms


def messages(rng, clock: Clock, rooms: pd.DataFrame, products: np.ndarray) -> pd.DataFrame:
    """About ten messages a chatroom. Kinds of rooms: dialogues (some established days late), visitor-only,
    member-only, empty but for automatic messages; automatic welcomes, system notes, every message kind."""
    n = len(rooms)
    kind = rng.choice(4, n, p=[.68, .14, .09, .09])          # 0 dialogue, 1 visitor only, 2 member only, 3 empty
    count = np.where(kind == 3, 0, np.where(kind == 0, rng.integers(3, 24, n), rng.integers(1, 4, n)))
    room = np.repeat(np.arange(n), count)
    pos = np.arange(len(room)) - np.repeat(np.cumsum(count) - count, count)
    gap = rng.exponential(4 * MIN, len(room)).astype(np.int64)
    late_reply = (pos == 1) & (rng.random(len(room)) < 0.08)
    gap = np.where(late_reply, rng.uniform(1, 3, len(room)) * DAY, gap).astype(np.int64)
    resumed = (pos > 3) & (rng.random(len(room)) < 0.03)
    gap = np.where(resumed, rng.uniform(2, 20, len(room)) * DAY, gap).astype(np.int64)
    gap = np.where(pos == 0, rng.integers(1, 30, len(room)) * US, gap)
    start = rooms["started_at"].to_numpy()[room]
    # cumulative gaps within each room
    csum = np.cumsum(gap)
    first = (np.cumsum(count) - count)[count > 0]
    room_base = np.repeat(csum[first] - gap[first], count[count > 0])
    sent = start + (csum - room_base)
    rk = kind[room]
    sender = np.where(rk == 1, "visitor", np.where(rk == 2, "member",
                      np.where(pos == 0, "visitor", np.where(pos == 1, "member",
                               np.where(rng.random(len(room)) < 0.5, "visitor", "member"))))).astype(object)
    mkind = pick(rng, ["text", "product", "photo", "video", "connect_request", "email_request", "link"],
                 len(room), p=[.78, .08, .04, .02, .02, .03, .03])
    mkind = np.where((mkind == "link") & (sender == "visitor"), "text", mkind).astype(object)
    mkind = np.where(np.isin(mkind, ["connect_request", "email_request"]) & (sender == "visitor"), "text",
                     mkind).astype(object)
    filled = rng.random(len(room))
    email_filled = np.where((mkind == "email_request") & (filled < 0.5), sent + rng.integers(1, 20, len(room)) * MIN,
                            np.where((mkind == "email_request") & (filled < 0.6), sent + rng.integers(1, 5, len(room)) * DAY, -1))
    real = pd.DataFrame({"chatroom_id": rooms["chatroom_id"].to_numpy()[room], "sender": sender, "sent_at": sent,
                         "is_automatic": False, "kind": mkind,
                         "product_id": nullable(pick(rng, products, len(room)), mkind == "product"),
                         "email_filled_at": email_filled})
    # automatic welcomes (member side, never a party's message) and system notes
    auto = rng.random(n) < 0.35
    welcome = pd.DataFrame({"chatroom_id": rooms["chatroom_id"].to_numpy()[auto], "sender": "member",
                            "sent_at": start_of(rooms, auto) + 500_000, "is_automatic": True,
                            "kind": pick(rng, ["text", "email_request"], int(auto.sum()), p=[.8, .2]),
                            "product_id": None, "email_filled_at": -1})
    sysm = rng.random(n) < 0.1
    system = pd.DataFrame({"chatroom_id": rooms["chatroom_id"].to_numpy()[sysm], "sender": "system",
                           "sent_at": start_of(rooms, sysm) + 2 * HOUR, "is_automatic": False, "kind": "text",
                           "product_id": None, "email_filled_at": -1})
    out = pd.concat([real, welcome, system], ignore_index=True)
    out = out[out["sent_at"] < clock.end + 25 * DAY]
    out = out.iloc[np.lexsort((out["chatroom_id"].to_numpy().astype(str), out["sent_at"].to_numpy()))]
    out.insert(0, "message_id", ids("ms-", len(out)))
    return out.reset_index(drop=True)


def start_of(rooms: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    return rooms["started_at"].to_numpy()[mask]


def ratings(rng, rooms: pd.DataFrame, msgs: pd.DataFrame) -> pd.DataFrame:
    """Rating requests after the last message of ~40% of rooms; answered minutes or days later, or never."""
    last = msgs[msgs["sender"] != "system"].groupby("chatroom_id", sort=False)["sent_at"].max()
    chosen = last[rng.random(len(last)) < 0.4]
    n = len(chosen)
    member = rooms.set_index("chatroom_id").loc[chosen.index, "member_id"].to_numpy()
    requested = chosen.to_numpy() + MIN
    answer = rng.random(n)
    given = np.where(answer < 0.45, requested + rng.integers(1, 60, n) * MIN,
                     np.where(answer < 0.6, requested + rng.integers(1, 6, n) * DAY, -1))
    score = rng.choice([1, 2, 3, 4, 5], n, p=[.04, .05, .11, .3, .5]).astype(object)
    score[given < 0] = None
    return pd.DataFrame({"rating_id": ids("ra-", n), "chatroom_id": chosen.index.to_numpy(), "member_id": member,
                         "requested_at": requested, "given_at": given, "score": score})


def hook_events(rng, clock: Clock, member_ids, visitor_ids, n: int) -> pd.DataFrame:
    at = clock.daytime(rng, n)
    member = pick(rng, member_ids[: max(2, len(member_ids) // 2)], n)
    shown = rng.random(n) < 0.8
    clicked = shown & (rng.random(n) < 0.25)
    visitor = pick(rng, visitor_ids, n)
    parts = [pd.DataFrame({"member_id": member, "visitor_id": None, "event": "triggered", "at": at}),
             pd.DataFrame({"member_id": member[shown], "visitor_id": visitor[shown], "event": "displayed",
                           "at": at[shown] + 2 * US}),
             pd.DataFrame({"member_id": member[clicked], "visitor_id": visitor[clicked], "event": "clicked",
                           "at": at[clicked] + rng.integers(3, 120, int(clicked.sum())) * US})]
    out = pd.concat(parts, ignore_index=True).sort_values("at", kind="stable").reset_index(drop=True)
    out.insert(0, "event_id", ids("he-", len(out)))
    return out


def sessions(rng, clock: Clock, member_ids: np.ndarray) -> pd.DataFrame:
    """One or two sessions per member and day; some overlap (two devices), some cross midnight."""
    m, d = np.meshgrid(np.arange(len(member_ids)), np.arange(clock.days), indexing="ij")
    m, d = m.ravel(), d.ravel()
    works = rng.random(len(m)) < 0.7
    m, d = m[works], d[works]
    bounds = np.array([clock.midnight(x) for x in range(clock.days + 1)], dtype=np.int64)
    late_shift = rng.random(len(m)) < 0.08                # evening shifts that run past midnight
    start = bounds[d] + (np.where(late_shift, rng.uniform(22, 23.5, len(m)), rng.uniform(8, 20, len(m)))
                         * HOUR).astype(np.int64)
    end = start + (np.where(late_shift, rng.uniform(2, 4, len(m)), rng.uniform(1, 6, len(m))) * HOUR).astype(np.int64)
    extra = rng.random(len(m)) < 0.15                     # a second, overlapping session
    s2 = start[extra] + HOUR
    frame = pd.DataFrame({"member_id": member_ids[np.concatenate([m, m[extra]])],
                          "started_at": np.concatenate([start, s2]),
                          "ended_at": np.concatenate([end, s2 + 2 * HOUR])})
    return frame.sort_values(["started_at", "member_id"], kind="stable").reset_index(drop=True)


def identity_links(rng, rooms: pd.DataFrame, msgs: pd.DataFrame) -> pd.DataFrame:
    """Offsite visitors who clicked a link a member sent: linked to a new browser visitor id."""
    offsite = rooms[rooms["channel"].isin(OFFSITE) & ~rooms["is_internal"]].set_index("chatroom_id")
    links = msgs[(msgs["kind"] == "link") & msgs["chatroom_id"].isin(offsite.index)]
    links = links.drop_duplicates("chatroom_id")
    links = links[rng.random(len(links)) < 0.6]
    n = len(links)
    return pd.DataFrame({"visitor_id": offsite.loc[links["chatroom_id"], "visitor_id"].to_numpy(),
                         "linked_visitor_id": ids("v-b", n),
                         "linked_at": links["sent_at"].to_numpy() + rng.integers(1, 90, n) * MIN})
