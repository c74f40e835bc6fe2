"""The conversation state: what every day's attribution and KPIs need to know about each chatroom and request,
kept up to date from the rows each extraction changed, never rebuilt from all messages unless asked.

- `chatrooms`: each chatroom's attributes and its dialogue milestones as of now: first counted message of
  the visitor and of the member, established_at (the second party's first counted message), last counted
  message, and the creation of its request.
- `requests`: each request with its chatroom, channel and the chatroom's establishment (requests that opened
  only internal chatrooms are left out, as they are of every KPI).
- `room_days`: the local days each chatroom had a counted message: where to find a chatroom's last message
  before an order when it was silent during the whole attribution window.
- `room_products`: when each product was first shared in each chatroom (Insi-7, "shown before the order").

Milestones only move one way as messages arrive (a first gets earlier, a last gets later), and the platform
never deletes a message nor changes who sent it or when, so combining tonight's new messages with the stored
milestones gives exactly what all messages would: `rebuild` (every message at once) and the nightly update
(the new ones) are the same function. Each update returns what changed as day spans for the late-data sensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from chatsales import schema
from chatsales.arrays import is_in, text_set
from chatsales.extract.changes import combine, local_dates, shifted, spans
from chatsales.insights import first_shown
from chatsales.lake.datasets import CHAT_DATASETS
from chatsales.lake.store import UNDATED, Dataset, Lake, Upserted
from chatsales.lake.where import key_in
from chatsales.period import NAT, US_PER_DAY, to_us

ROOM_ATTRIBUTES = [
    "chatroom_id",
    "request_id",
    "visitor_id",
    "member_id",
    "source",
    "channel",
    "started_at",
    "is_internal",
    "is_blocked",
]
MILESTONES = ["first_visitor_at", "first_member_at", "established_at", "last_message_at"]
ROOM_STATE = {
    **{c: schema.CHAT_TABLES["chatrooms"][c] for c in ROOM_ATTRIBUTES},
    "request_created_at": schema.TS,
    **{m: schema.TS for m in MILESTONES},
    "answered_24h": "bool",
}
REQUEST_STATE = {
    **schema.CHAT_TABLES["conversation_requests"],
    "chatroom_id": "str",
    "channel": "str",
    "established_at": schema.TS,
}
ROOM_DAYS = {"chatroom_id": "str", "day_start": schema.TS, "last_at": schema.TS}
ROOM_PRODUCTS = {"chatroom_id": "str", "product_id": "str", "first_shown_at": schema.TS}

# the state is read by key (a night's chatrooms, an order's candidates): small row groups, each file sorted by key
KEYED_ROWS = 4096
ROOMS = Dataset("state/chatrooms", ("chatroom_id",), "started_at", "month", ROOM_STATE, KEYED_ROWS)
REQUESTS = Dataset("state/requests", ("request_id",), "created_at", "month", REQUEST_STATE, KEYED_ROWS)
ROOM_DAY = Dataset("state/room_days", ("chatroom_id", "day_start"), "day_start", "month", ROOM_DAYS, KEYED_ROWS)
ROOM_PRODUCT = Dataset(
    "state/room_products", ("chatroom_id", "product_id"), "first_shown_at", "month", ROOM_PRODUCTS, KEYED_ROWS
)
WHOLE_PRODUCTS = Dataset(ROOM_PRODUCT.path, ROOM_PRODUCT.key, None, "day", ROOM_PRODUCTS)  # before 2026-12-04
STATE_DATASETS = (ROOMS, REQUESTS, ROOM_DAY, ROOM_PRODUCT)
DAY = pd.Timedelta(days=1)


@dataclass
class StateUpdate:
    changes: pd.DataFrame  # (what, first_day, last_day, rows)
    changed: dict[str, int]  # rows changed per state dataset


def counted(messages: pd.DataFrame) -> pd.DataFrame:
    """Messages that count as a party's message: sender visitor or member, not automatic."""
    keep = messages["sender"].isin(["visitor", "member"]).to_numpy() & ~messages["is_automatic"].to_numpy(bool)
    return messages[keep]


def _milestones(messages: pd.DataFrame) -> pd.DataFrame:
    """Per chatroom: first visitor / member message and last message among `messages` (counted ones)."""
    by_visitor = messages["sender"].eq("visitor").to_numpy()
    sent = messages["sent_at"].astype(schema.TS).reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "chatroom_id": messages["chatroom_id"].to_numpy(),
            "first_visitor_at": sent.where(by_visitor),
            "first_member_at": sent.where(~by_visitor),
            "last_message_at": sent,
        }
    )
    out = frame.groupby("chatroom_id", sort=False).agg(
        first_visitor_at=("first_visitor_at", "min"),
        first_member_at=("first_member_at", "min"),
        last_message_at=("last_message_at", "max"),
    )
    return out.astype(schema.TS)


def _combine(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Milestones of `old` (indexed by chatroom_id) moved by those of `new`: earliest firsts, latest last."""
    index = old.index.union(new.index)
    a, b = old.reindex(index), new.reindex(index)
    out = pd.DataFrame(index=index)
    for column in ("first_visitor_at", "first_member_at"):
        out[column] = a[column].where(~(b[column] < a[column]) & a[column].notna(), b[column])
    out["last_message_at"] = a["last_message_at"].where(
        ~(b["last_message_at"] > a["last_message_at"]) & a["last_message_at"].notna(), b["last_message_at"]
    )
    both = out["first_visitor_at"].notna() & out["first_member_at"].notna()
    out["established_at"] = out[["first_visitor_at", "first_member_at"]].max(axis=1).where(both)
    return out.astype(schema.TS)


def room_state(
    old: pd.DataFrame, rooms: pd.DataFrame, new_messages: pd.DataFrame, request_created: pd.Series
) -> pd.DataFrame:
    """The chatroom state after tonight: stored rows, with the chatroom rows read tonight replacing their
    attributes and tonight's counted messages moving the milestones. `request_created`: created_at by
    request_id for the requests the changed rooms point to."""
    attributes = pd.concat(
        [old[ROOM_ATTRIBUTES + ["request_created_at"]], rooms[ROOM_ATTRIBUTES].assign(request_created_at=pd.NaT)],
        ignore_index=True,
    )
    attributes = attributes.drop_duplicates("chatroom_id", keep="last").set_index("chatroom_id")
    fresh = attributes.index.isin(rooms["chatroom_id"])
    ids = attributes.loc[fresh, "request_id"]
    looked_up = pd.Series(request_created.reindex(ids.to_numpy()).array, index=ids.index)
    attributes.loc[fresh, "request_created_at"] = looked_up.astype(schema.TS).to_numpy()
    milestones = _combine(old.set_index("chatroom_id")[MILESTONES], _milestones(counted(new_messages)))
    state = attributes.join(milestones.reindex(attributes.index)).reset_index().assign(answered_24h=False)
    return schema.conform(state, ROOM_STATE)


def request_state(requests: pd.DataFrame, rooms: pd.DataFrame) -> pd.DataFrame:
    """Each request with its chatroom (the first one it opened), channel and establishment; requests that
    opened only internal chatrooms are left out. Requests without a chatroom (waiting, canceled) stay."""
    opened = rooms.dropna(subset=["request_id"]).sort_values(["started_at", "chatroom_id"], kind="stable")
    internal = set(opened.loc[opened["is_internal"].to_numpy(bool), "request_id"])
    external = opened[~opened["is_internal"].to_numpy(bool)].drop_duplicates("request_id").set_index("request_id")
    keep = ~is_in(requests["request_id"], internal) | is_in(requests["request_id"], external.index)
    out = requests[keep].reset_index(drop=True)
    found = external.reindex(out["request_id"].to_numpy())
    out["chatroom_id"] = found["chatroom_id"].to_numpy()
    out["channel"] = found["channel"].to_numpy()
    out["established_at"] = found["established_at"].array
    return schema.conform(out, REQUEST_STATE)


def room_days(messages: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """(chatroom, local day) of counted messages, with the day's last message."""
    msgs = counted(messages)
    day_start = msgs["sent_at"].dt.tz_convert(timezone).dt.normalize().dt.tz_convert("UTC")
    frame = pd.DataFrame(
        {
            "chatroom_id": msgs["chatroom_id"].to_numpy(),
            "day_start": day_start.array,  # .array keeps the dtype: to_numpy() boxes every instant
            "last_at": msgs["sent_at"].array,
        }
    )
    return frame.groupby(["chatroom_id", "day_start"], sort=False)["last_at"].max().reset_index()


def state_changes(upserted: Upserted, new_messages: pd.DataFrame, timezone: str, today: date) -> pd.DataFrame:
    """The reporting days a change of chatroom state affects (kpis.md date bases):
    - a dialogue established (or established earlier): the days between its old and new establishment
      (Chat-Card-10, 14-17, 20), its request's day (Chat-Card-12), its start day when that is the same day;
    - a first visitor message moved, or a member answering within 24 h of it: that message's day (Chat-Card-9);
    - a blocked chatroom's last message moved: the old and new days (Chat-Card-50);
    - a new chatroom: its start day and its request's day; a chatroom whose attributes changed: every day
      from its first message on (its breakdowns and attributions)."""
    key = "chatroom_id"
    new = upserted.new.set_index(key)
    old = upserted.old.set_index(key).reindex(new.index)
    known = new.index.isin(upserted.old[key])

    def day(values: pd.Series) -> pd.Series:
        return local_dates(values.astype(schema.TS), timezone)

    parts = [
        spans("new_chatroom", day(new.loc[~known, "started_at"])),
        spans("chatroom_of_older_request", day(new.loc[~known, "request_created_at"])),
    ]
    attributes = [c for c in ROOM_ATTRIBUTES if c != key]
    moved = known & (new[attributes].astype(str) != old[attributes].astype(str)).any(axis=1).to_numpy()
    since = new[["first_visitor_at", "first_member_at", "started_at"]].min(axis=1)
    parts.append(spans("chatroom_changed", day(since[moved]), [today] * int(moved.sum())))

    e0, e1 = old["established_at"], new["established_at"]
    changed = (e0.isna() != e1.isna()) | (e0 != e1).fillna(False)
    changed &= e1.notna() | e0.notna()
    low = pd.concat([e0, e1], axis=1).min(axis=1)[changed]
    high = pd.concat([e0, e1], axis=1).max(axis=1)[changed]
    open_ended = (e0.isna() | e1.isna())[changed]
    parts += [
        spans("dialogue_established", day(low), day(high).where(~open_ended, np.datetime64(today, "D"))),
        spans("dialogue_established", day(new.loc[changed[changed].index, "request_created_at"])),
        spans(
            "dialogue_established",
            day(new.loc[changed[changed].index, "started_at"]).where(
                day(new.loc[changed[changed].index, "started_at"]) == day(low)
            ),
        ),
    ]

    f0, f1 = old["first_visitor_at"], new["first_visitor_at"]
    first_moved = (f0 != f1).fillna(True) & f1.notna() & known
    parts += [
        spans("first_visitor_message", day(f0[first_moved])),
        spans("first_visitor_message", day(f1[~known & f1.notna()])),
    ]
    answered = known & (new["answered_24h"].astype(bool) != old["answered_24h"].fillna(False).astype(bool))
    parts.append(spans("answer_within_24h", day(f1[answered & ~first_moved])))

    blocked = new["is_blocked"].astype(bool)
    l0, l1 = old["last_message_at"], new["last_message_at"]
    last_moved = blocked & known & (l0 != l1).fillna(True)
    parts += [
        spans("blocked_room_last_message", day(l0[last_moved])),
        spans("blocked_room_last_message", day(l1[last_moved])),
    ]
    return combine(parts)


def update_state(
    lake: Lake, written: dict[str, list[str]] | None, *, today: date, window_days: int
) -> tuple[StateUpdate, list[Upserted]]:
    """Plan the state update from the chat partitions the extractions wrote since the last update
    (`written`: dataset path → partition labels; None: rebuild from every partition of the lake). Rows of a
    partition re-read are combined again, which changes nothing: the update may be re-run after a crash."""
    tz = lake.timezone
    relevant = {CHAT_DATASETS[t].path for t in ("chatrooms", "conversation_requests", "messages")}
    if written is not None and not relevant & set(written):
        return StateUpdate(combine([]), {ds.name: 0 for ds in STATE_DATASETS}), []

    def read(table: str) -> pd.DataFrame:
        ds = CHAT_DATASETS[table]
        return lake.read(ds) if written is None else lake.read(ds, written.get(ds.path, []))

    rooms_read, requests_read, messages = read("chatrooms"), read("conversation_requests"), read("messages")
    if written is None:  # a rebuild: every request, no stored state
        old_rooms, old_products = schema.empty(ROOM_STATE), schema.empty(dict(ROOM_PRODUCT.columns))
        every_request = lake.read(CHAT_DATASETS["conversation_requests"])
    else:  # only the chatrooms and requests tonight's rows touch, with every chatroom of those requests
        reached = lake.read_matching(
            ROOMS, "chatroom_id", pd.concat([rooms_read["chatroom_id"], messages["chatroom_id"]])
        )
        request_ids = pd.concat([requests_read["request_id"], rooms_read["request_id"], reached["request_id"]])
        old_rooms = pd.concat(
            [reached, lake.read_matching(ROOMS, "request_id", request_ids)], ignore_index=True
        ).drop_duplicates("chatroom_id")
        old_products = lake.read_matching(ROOM_PRODUCT, "chatroom_id", messages["chatroom_id"])
        every_request = requests_of(lake, request_ids, requests_read, old_rooms, rooms_read)
    created = every_request.drop_duplicates("request_id").set_index("request_id")["created_at"]
    rooms = room_state(old_rooms, rooms_read, messages, created)
    rooms = rooms.assign(answered_24h=answered_within_24h(lake, old_rooms, rooms, messages))
    plans = [lake.plan_upsert(ROOMS, rooms, remove=_stale(lake, ROOMS, rooms, written))]

    changed_rooms = plans[0].new["chatroom_id"]
    touched = set(requests_read["request_id"]) | set(
        rooms.loc[is_in(rooms["chatroom_id"], changed_rooms), "request_id"].dropna()
    )
    requests = request_state(
        every_request[is_in(every_request["request_id"], touched)] if written is not None else every_request, rooms
    )
    dropped = every_request[
        is_in(every_request["request_id"], touched) & ~is_in(every_request["request_id"], requests["request_id"])
    ]
    remove = _stale(lake, REQUESTS, requests, written)
    for label, frame in dropped.groupby(lake.labels_for(REQUESTS, dropped)):
        remove[label] = pd.concat([remove[label], frame]) if label in remove else frame
    plans.append(lake.plan_upsert(REQUESTS, requests, remove=remove))
    days = room_days(messages, tz)
    plans.append(lake.plan_upsert(ROOM_DAY, _merge_days(lake, days) if written is not None else days))
    products = first_shown(counted(messages))
    shown_first = _earliest(old_products, products)
    moved = _moved(lake, ROOM_PRODUCT, old_products, shown_first)
    plans.append(
        lake.plan_upsert(ROOM_PRODUCT, shown_first, remove=moved | _stale(lake, ROOM_PRODUCT, shown_first, written))
    )
    shown = plans[3].new["first_shown_at"]
    product_changes = spans("product_shown", local_dates(shown, tz), shifted(local_dates(shown, tz), window_days + 1))
    changes = combine([state_changes(plans[0], messages, tz, today), product_changes])
    counts = {ds.name: len(plan.new) for ds, plan in zip(STATE_DATASETS, plans)}
    return StateUpdate(changes, counts), plans


LOOK_BACK_DAYS = 7  # how far before a new chatroom's start its request is looked for before a whole scan


def requests_of(
    lake: Lake, ids: pd.Series, read: pd.DataFrame, rooms: pd.DataFrame, new_rooms: pd.DataFrame
) -> pd.DataFrame:
    """The stored rows of the requests `ids`, read from the day partitions that hold them: a request lives in
    the day of its creation, which tonight's `read` rows and the state's chatrooms (`rooms`) know; for a
    chatroom new tonight whose request neither knows, the week before its start. Only a request found in
    none of these makes the whole dataset be scanned. A night's cost stays that of the requests it touches."""
    ds = CHAT_DATASETS["conversation_requests"]
    wanted = text_set(ids)
    tz = lake.timezone
    known = rooms[is_in(rooms["request_id"], wanted)]
    instants = [read["created_at"], known["request_created_at"]]
    unplaced = new_rooms[~is_in(new_rooms["request_id"], pd.concat([read["request_id"], known["request_id"]]))]
    starts = unplaced["started_at"].dropna()
    instants += [starts - pd.Timedelta(days=back) for back in range(LOOK_BACK_DAYS + 1)]  # a loop over 8 offsets
    days = local_dates(pd.concat(instants, ignore_index=True), tz).dropna().to_numpy()
    found = lake.read(ds, [*np.unique(days.astype("datetime64[D]")).astype(str), UNDATED])
    found = found[is_in(found["request_id"], wanted)]
    missing = pc.filter(wanted, pc.invert(pc.is_in(wanted, value_set=text_set(found["request_id"]))))
    if len(missing):
        found = pd.concat([found, lake.read_matching(ds, "request_id", missing)], ignore_index=True)
    return found.reset_index(drop=True)


def _stale(lake: Lake, ds: Dataset, frame: pd.DataFrame, written) -> dict[str, pd.DataFrame]:
    """What to remove, per partition: on a rebuild, every stored partition not in the new state is emptied."""
    if written is not None:
        return {}
    labels = set(lake.labels_for(ds, frame))
    return {label: lake.read(ds, [label]) for label in lake.partitions(ds) if label not in labels}


def answered_within_24h(lake: Lake, old: pd.DataFrame, rooms: pd.DataFrame, messages: pd.DataFrame) -> np.ndarray:
    """Per chatroom of `rooms`: a member answered within 24 h of its first visitor message (Chat-Card-9).
    Kept with the state so that the change of that answer is a change of state, found exactly: it only turns
    true with tonight's member messages, unless the first visitor message moved (then it is looked up again
    in the lake, around the new first message)."""
    before = old.set_index("chatroom_id").reindex(rooms["chatroom_id"])
    first = rooms["first_visitor_at"]
    first_us = to_us(first)
    same_first = (to_us(before["first_visitor_at"]) == first_us) & (first_us != NAT)
    answered = np.where(
        same_first,
        before.get("answered_24h", pd.Series(False, index=before.index)).fillna(False).to_numpy(dtype=bool),
        False,
    )
    # a first visitor message that moved, or that a known chatroom gets tonight (a late visitor message may
    # precede member messages read on earlier nights)
    known = is_in(rooms["chatroom_id"], old["chatroom_id"])
    moved = first.notna().to_numpy() & known & ~same_first
    answered |= answers_within_24h(messages, rooms["chatroom_id"], first)
    if moved.any():
        starts = local_dates(first[moved], lake.timezone)
        days = sorted({d + timedelta(days=k) for d in starts for k in range(3)})  # 24 h spans 3 local days
        nearby = lake.read(CHAT_DATASETS["messages"], [d.isoformat() for d in days])
        answered[moved] |= answers_within_24h(nearby, rooms["chatroom_id"][moved], first[moved])
    return answered


def answers_within_24h(messages: pd.DataFrame, rooms: pd.Series, first: pd.Series) -> np.ndarray:
    """Per room: a counted member message among `messages` at or after `first` and at most 24 h later."""
    member = counted(messages)
    member = member[member["sender"].eq("member").to_numpy()]
    position = pd.Index(rooms.to_numpy()).get_indexer(member["chatroom_id"].to_numpy())
    found = position >= 0
    at = position[found]
    sent = member["sent_at"].astype(schema.TS).array.asi8[found]
    start = first.astype(schema.TS).array.asi8[at]
    wait = sent - start
    ok = (start != NAT) & (wait >= 0) & (wait <= US_PER_DAY)
    hit = np.zeros(len(rooms), dtype=bool)
    hit[at[ok]] = True
    return hit


def _merge_days(lake: Lake, days: pd.DataFrame) -> pd.DataFrame:
    """Tonight's room-days with the stored ones of the same partitions: the latest message of each day."""
    if days.empty:
        return days
    stored = lake.read(ROOM_DAY, sorted(set(lake.labels_for(ROOM_DAY, days))))
    both = pd.concat([stored, days], ignore_index=True)
    return both.groupby(["chatroom_id", "day_start"], sort=False)["last_at"].max().reset_index()


def _moved(lake: Lake, ds: Dataset, stored: pd.DataFrame, new: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Stored rows whose new version lies in another partition (a product shown earlier than known, in an
    earlier month), per partition they leave."""
    if stored.empty:
        return {}
    key = list(ds.key)
    before = stored[key].assign(_from=lake.labels_for(ds, stored))
    after = new[key].assign(_to=lake.labels_for(ds, new))
    both = before.merge(after, on=key)
    gone = both[both["_from"].to_numpy() != both["_to"].to_numpy()]
    return {label: rows[key] for label, rows in gone.groupby("_from")}


def _earliest(stored: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    both = pd.concat([stored, found], ignore_index=True)
    return both.groupby(["chatroom_id", "product_id"], sort=False)["first_shown_at"].min().reset_index()


def last_message_before(lake: Lake, rooms: pd.Series, before: pd.Series) -> pd.Series:
    """For chatrooms silent from `before` back to their previous day of activity: their last counted message
    before `before` (aligned with `rooms`), found through room_days, month by month backwards (only the row
    groups of each month that hold one of the chatrooms are decoded)."""
    out = pd.Series(pd.NaT, index=rooms.index, dtype=schema.TS)
    if rooms.empty:
        return out
    tz = lake.timezone
    months = lake.partitions(ROOM_DAY)
    cutoff_label = before.min().tz_convert(tz).strftime("%Y-%m")
    pending = pd.DataFrame({"chatroom_id": rooms.to_numpy(), "before": before.to_numpy(), "row": rooms.index})
    for label in sorted((m for m in months if m <= cutoff_label), reverse=True):  # a loop over months
        days = lake.read(ROOM_DAY, [label], where=key_in("chatroom_id", pending["chatroom_id"]))
        found = pending.merge(days, on="chatroom_id")
        found = found[found["last_at"] < found["before"]]
        # a day is the answer only if the day itself started before `before`: its last message is earlier
        best = found.sort_values("last_at").drop_duplicates("row", keep="last")
        out.loc[best["row"].to_numpy()] = best["last_at"].to_numpy()
        pending = pending[~pending["row"].isin(best["row"])]
        if pending.empty:
            break
    return out
