"""Ratings (kpis.md): rows of `ratings` by request date; an answer given days later changes the request's
day (fluctuating). Each rating request also closes a conversation segment (Chat-Card-70)."""

from __future__ import annotations

from chatsales.kpis.registry import ROOM_DIMS, Ctx, count, kpi, ratio, shared, total, value_only


@shared
def _requested(ctx: Ctx):
    ratings = ctx.with_rooms(
        ctx.facts.ratings[["room", "requested_at", "given_at", "score"]], ["source", "channel", "member_id", "role"]
    )
    return ctx.keyed(ratings, "requested_at", ROOM_DIMS)


@kpi(
    "Chat-Card-70",
    "Conversations closed",
    definition="rating requests (each closes a segment)",
    date_basis="requested_at",
    kind="count",
    dims=ROOM_DIMS,
)
def closed(ctx: Ctx):
    return value_only(count(_requested(ctx)))


@kpi(
    "Chat-Card-71",
    "Ratings requested",
    definition="rating requests",
    date_basis="requested_at",
    kind="count",
    dims=ROOM_DIMS,
)
def requested(ctx: Ctx):
    return value_only(count(_requested(ctx)))


@kpi(
    "Chat-Card-72",
    "Ratings given",
    definition="…of those, answered (any time)",
    date_basis="requested_at",
    kind="count",
    dims=ROOM_DIMS,
    fluctuating=True,
)
def given(ctx: Ctx):
    rows = _requested(ctx)
    return value_only(count(rows[rows["given_at"].notna() & rows["score"].notna()]))


@kpi(
    "Chat-Card-73",
    "Average rating",
    definition="mean score of those answered",
    date_basis="requested_at",
    kind="mean",
    dims=ROOM_DIMS,
    fluctuating=True,
)
def average(ctx: Ctx):
    rows = _requested(ctx)
    answered = rows[rows["given_at"].notna() & rows["score"].notna()].astype({"score": "float64"})
    return ratio(total(answered, "score"), count(answered))
