"""Conversations and dialogues (kpis.md): requests, new conversations, dialogues, activity time."""

from __future__ import annotations

from chatsales.kpis.measures import active_dialogues, activity_seconds
from chatsales.kpis.registry import MEMBER_DIMS, REQUEST_DIMS, ROOM_DIMS, Ctx, count, kpi, ratio, value_only


@kpi(
    "Chat-Card-0",
    "New conversation requests",
    definition="requests of every source",
    date_basis="request created_at",
    kind="count",
    dims=REQUEST_DIMS,
)
def new_requests(ctx: Ctx):
    return value_only(count(ctx.keyed(ctx.facts.requests, "created_at")))


@kpi(
    "Chat-Card-1",
    "New conversations",
    definition="chatrooms started",
    date_basis="started_at",
    kind="count",
    dims=ROOM_DIMS,
)
def new_conversations(ctx: Ctx):
    return value_only(count(ctx.keyed(ctx.facts.chatrooms, "started_at")))


def new_dialogues(ctx: Ctx):
    return count(ctx.keyed(ctx.facts.chatrooms, "established_at"))


@kpi(
    "Chat-Card-10",
    "New dialogues",
    definition="dialogues established (first counted message of the second party)",
    date_basis="established_at",
    kind="count",
    dims=ROOM_DIMS,
)
def new_dialogues_kpi(ctx: Ctx):
    return value_only(new_dialogues(ctx))


@kpi(
    "Chat-Card-20",
    "Active dialogues",
    definition="dialogues established by the period's end with a counted message in the period",
    date_basis="message sent_at",
    kind="count",
    dims=ROOM_DIMS,
)
def active_dialogues_kpi(ctx: Ctx):
    return value_only(active_dialogues(ctx))


@kpi(
    "Chat-Card-86",
    "New dialogue conversion rate",
    definition="dialogues established in the period to "
    "which at least one sale was attributed (any time) / Chat-Card-10",
    date_basis="established_at",
    kind="rate",
    dims=ROOM_DIMS,
    fluctuating=True,
)
def new_dialogue_conversion(ctx: Ctx):
    established = ctx.keyed(ctx.facts.chatrooms, "established_at")
    return ratio(count(established[established["first_sale_at"].notna()]), count(established))


@kpi(
    "Amb-Card-52",
    "Activity time",
    definition="online seconds of member sessions clipped to the period; overlapping sessions of one member count once",
    date_basis="session time",
    kind="sum",
    dims=MEMBER_DIMS,
)
def activity_time(ctx: Ctx):
    return value_only(activity_seconds(ctx))
