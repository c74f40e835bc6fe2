"""Conversations and dialogues beyond the counts (kpis.md): what happened in each window's chatrooms,
response, establishment and duration times, dialogues by member, message kinds, blocked rooms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales.kpis.conversations import new_dialogues
from chatsales.kpis.measures import established_by_end, window_activity
from chatsales.kpis.registry import (
    KEY,
    REQUEST_DIMS,
    ROOM_DIMS,
    Ctx,
    count,
    elapsed_us,
    kpi,
    mean_seconds,
    median,
    median_seconds,
    ratio,
    shared,
    total,
    value_only,
)
from chatsales.period import US_PER_DAY, to_us


@shared
def _new_conversations(ctx: Ctx) -> pd.DataFrame:
    """Chatrooms started in each window, with what happened in them within that window."""
    started = ctx.keyed(ctx.facts.chatrooms, "started_at", ROOM_DIMS)[[*KEY, "room"]]
    activity = window_activity(ctx)
    out = started.merge(
        activity[[*KEY, "room", "visitor_wrote", "member_wrote", "t_visitor", "t_member"]],
        on=[*KEY, "room"],
        how="left",
    )
    out[["visitor_wrote", "member_wrote"]] = out[["visitor_wrote", "member_wrote"]].fillna(False).astype(bool)
    return out


@kpi(
    "Chat-Card-2",
    "New empty conversations",
    definition="new conversations with no counted message in the period",
    date_basis="started_at",
    kind="count",
    dims=ROOM_DIMS,
)
def empty_conversations(ctx: Ctx):
    new = _new_conversations(ctx)
    return value_only(count(new[~new["visitor_wrote"] & ~new["member_wrote"]]))


@kpi(
    "Chat-Card-3",
    "New conversations, visitor only",
    definition="new conversations where only the visitor wrote in the period",
    date_basis="started_at",
    kind="count",
    dims=ROOM_DIMS,
)
def visitor_only(ctx: Ctx):
    new = _new_conversations(ctx)
    return value_only(count(new[new["visitor_wrote"] & ~new["member_wrote"]]))


@kpi(
    "Chat-Card-4",
    "New conversations, member only",
    definition="new conversations where only the member wrote in the period",
    date_basis="started_at",
    kind="count",
    dims=ROOM_DIMS,
)
def member_only(ctx: Ctx):
    new = _new_conversations(ctx)
    return value_only(count(new[~new["visitor_wrote"] & new["member_wrote"]]))


@kpi(
    "Chat-Card-8",
    "Response rate",
    definition="of new conversations with a visitor message in the period, "
    "the share where the member wrote strictly after the visitor's first message of the period, within it",
    date_basis="started_at",
    kind="rate",
    dims=ROOM_DIMS,
)
def response_rate(ctx: Ctx):
    new = _new_conversations(ctx)
    asked = new[new["visitor_wrote"]]
    return ratio(count(asked[asked["t_member"] > asked["t_visitor"]]), count(asked))


@kpi(
    "Chat-Card-9",
    "Non-response after 24 h",
    definition="of conversations whose first counted visitor "
    "message ever is in the period, the share with no member message at or after it and at most 24 h later",
    date_basis="first visitor message",
    kind="rate",
    dims=ROOM_DIMS,
    fluctuating=True,
)
def non_response(ctx: Ctx):
    """Answered: a member message at or after the first visitor message and at most 24 h later. The chatroom
    facts carry it (`answered_24h`, from every message read so far), so a period never needs the messages
    after its end, which may not be published yet. Chatrooms published before that column are looked up in
    the messages of the facts (the period query reads two days past its end)."""
    rooms = ctx.keyed(ctx.facts.chatrooms, "first_visitor_at", ROOM_DIMS)
    known = rooms["answered_24h"] if "answered_24h" in rooms else pd.Series(pd.NA, index=rooms.index, dtype="boolean")
    answered = known.fillna(False).to_numpy(dtype=bool)
    unknown = known.isna().to_numpy()
    if unknown.any():
        answered[unknown] = _answered_in_messages(ctx, rooms[unknown])
    return ratio(count(rooms[~answered]), count(rooms))


def _answered_in_messages(ctx: Ctx, rooms: pd.DataFrame) -> np.ndarray:
    """Per room, a member message of the facts within 24 h of its first visitor message. Each member message
    is looked up among the window's rooms by its integer key (one room is in one window at most: it has one
    first visitor message), instead of sorting every member message for an as-of join."""
    msgs = ctx.facts.messages
    member = msgs["sender"].eq("member").to_numpy(dtype=bool)
    at = pd.Index(rooms["room"].to_numpy()).get_indexer(msgs["room"].to_numpy()[member])
    found = at >= 0
    at, sent = at[found], to_us(msgs["sent_at"])[member][found]
    wait = sent - to_us(rooms["first_visitor_at"])[at]
    answered = np.zeros(len(rooms), dtype=bool)
    answered[at[(wait >= 0) & (wait <= US_PER_DAY)]] = True
    return answered


@kpi(
    "Chat-Card-11",
    "Dialogue establishment rate (fixed)",
    definition="Chat-Card-10 / Chat-Card-0 (can exceed 100%)",
    date_basis="established_at / request created_at",
    kind="rate",
    dims=ROOM_DIMS,
)
def establishment_rate(ctx: Ctx):
    requests = ctx.keyed(ctx.facts.requests, "created_at", REQUEST_DIMS)
    return ratio(new_dialogues(ctx), count(requests))


@kpi(
    "Chat-Card-12",
    "Dialogue establishment rate (F)",
    definition="requests of the period whose chatroom became a dialogue, ever / requests of the period",
    date_basis="request created_at",
    kind="rate",
    dims=REQUEST_DIMS,
    fluctuating=True,
)
def establishment_rate_ever(ctx: Ctx):
    requests = ctx.keyed(ctx.facts.requests, "created_at", REQUEST_DIMS)
    return ratio(count(requests[requests["established_at"].notna()]), count(requests))


def _established(ctx: Ctx, since: str) -> pd.DataFrame:
    rooms = ctx.keyed(ctx.facts.chatrooms, "established_at", ROOM_DIMS)
    rooms = rooms[rooms[since].notna()]
    return rooms.assign(wait=elapsed_us(rooms, since, "established_at"))


def _mean(frame: pd.DataFrame, column: str):
    return ratio(total(frame, column), count(frame))


@kpi(
    "Chat-Card-14",
    "Average time to establish a dialogue",
    definition="mean(established_at − started_at)",
    date_basis="established_at",
    kind="mean",
    dims=ROOM_DIMS,
)
def establish_time(ctx: Ctx):
    return mean_seconds(_established(ctx, "started_at"), "wait")


@kpi(
    "Chat-Card-15",
    "Median time to establish a dialogue",
    definition="median of the same",
    date_basis="established_at",
    kind="median",
    dims=ROOM_DIMS,
)
def establish_time_median(ctx: Ctx):
    return median_seconds(_established(ctx, "started_at"), "wait")


@kpi(
    "Chat-Card-16",
    "Average dialogue conversion time",
    definition="mean(established_at − request created_at); chatrooms without a request are left out",
    date_basis="established_at",
    kind="mean",
    dims=ROOM_DIMS,
)
def conversion_time(ctx: Ctx):
    return mean_seconds(_established(ctx, "request_created_at"), "wait")


@kpi(
    "Chat-Card-17",
    "Median dialogue conversion time",
    definition="median of the same",
    date_basis="established_at",
    kind="median",
    dims=ROOM_DIMS,
)
def conversion_time_median(ctx: Ctx):
    return median_seconds(_established(ctx, "request_created_at"), "wait")


@shared
def _durations(ctx: Ctx) -> pd.DataFrame:
    """Chatrooms started in the window that are dialogues by its end: last counted message in it − start."""
    started = ctx.keyed(ctx.facts.chatrooms, "started_at", ROOM_DIMS)
    dialogues = started[established_by_end(ctx, started)]
    activity = window_activity(ctx)[[*KEY, "room", "t_any"]]
    rows = dialogues.merge(activity, on=[*KEY, "room"], how="inner")
    return rows.assign(duration=rows["t_any"].astype("int64") - to_us(rows["started_at"]))


@kpi(
    "Chat-Card-18",
    "Average new dialogue duration",
    definition="chatrooms started in the period that are "
    "dialogues by the period's end: mean(last counted message in the period − started_at)",
    date_basis="started_at",
    kind="mean",
    dims=ROOM_DIMS,
)
def duration(ctx: Ctx):
    return mean_seconds(_durations(ctx), "duration")


@kpi(
    "Chat-Card-19",
    "Median new dialogue duration",
    definition="median of the same",
    date_basis="started_at",
    kind="median",
    dims=ROOM_DIMS,
)
def duration_median(ctx: Ctx):
    return median_seconds(_durations(ctx), "duration")


@shared
def _active(ctx: Ctx) -> pd.DataFrame:
    """Active dialogues of each window (established by its end, a counted message in it), with activity."""
    activity = window_activity(ctx)
    if activity.empty:
        return activity
    return activity[established_by_end(ctx, activity)]


def _with_member(ctx: Ctx) -> pd.DataFrame:
    active = _active(ctx)
    return active[active["member_wrote"].astype(bool)] if len(active) else active


@kpi(
    "Chat-Card-21",
    "Dialogues with active member",
    definition="active dialogues where the member wrote in the period",
    date_basis="message sent_at",
    kind="count",
    dims=ROOM_DIMS,
)
def with_active_member(ctx: Ctx):
    return value_only(count(_with_member(ctx)))


def _per_member(ctx: Ctx) -> pd.DataFrame:
    rows = _with_member(ctx)
    return rows.groupby([*KEY, "member_id"]).size().rename("dialogues").reset_index()


@kpi(
    "Chat-Card-22",
    "Average dialogues by member",
    definition="the Chat-Card-21 dialogues grouped by the chatroom's member: mean over members with at least one",
    date_basis="message sent_at",
    kind="mean",
    dims=ROOM_DIMS,
)
def dialogues_by_member(ctx: Ctx):
    return _mean(_per_member(ctx), "dialogues")


@kpi(
    "Amb-Card-23",
    "Median dialogues by member",
    definition="median of the same",
    date_basis="message sent_at",
    kind="median",
    dims=ROOM_DIMS,
)
def dialogues_by_member_median(ctx: Ctx):
    return value_only(median(_per_member(ctx), "dialogues"))


def _kind_card(ref: str, name: str, flag: str, text: str, fluctuating: bool = False):
    @kpi(
        ref,
        name,
        definition=f"active dialogues with {text} in the period",
        date_basis="message sent_at",
        kind="count",
        dims=ROOM_DIMS,
        fluctuating=fluctuating,
    )
    def card(ctx: Ctx):
        active = _active(ctx)
        return value_only(count(active[active[flag].astype(bool)] if len(active) else active))

    return card


_kind_card("Chat-Card-30", "Dialogues with products", "product_any", "a product message (either party)")
_kind_card("Chat-Card-31", "…with photos from member", "photo_member", "a photo from the member")
_kind_card("Chat-Card-32", "…with videos from member", "video_member", "a video from the member")
_kind_card("Chat-Card-33", "…with photos from visitor", "photo_visitor", "a photo from the visitor")
_kind_card("Chat-Card-34", "…with videos from visitor", "video_visitor", "a video from the visitor")
_kind_card("Chat-Card-35", "…with connect message", "connect_request_member", "a connect request from the member")
_kind_card("Chat-Card-37", "…with an email request", "email_request_member", "an email request from the member")
_kind_card(
    "Chat-Card-38",
    "…with an email filled in",
    "email_filled",
    "an email request of the period that has email_filled_at (any time)",
    fluctuating=True,
)


@kpi(
    "Chat-Card-50",
    "Blocked conversations",
    definition="blocked chatrooms whose last counted message (as of now) is in the period",
    date_basis="last message sent_at",
    kind="count",
    dims=ROOM_DIMS,
)
def blocked(ctx: Ctx):
    rooms = ctx.facts.chatrooms
    return value_only(count(ctx.keyed(rooms[rooms["is_blocked"].astype(bool)], "last_message_at", ROOM_DIMS)))
