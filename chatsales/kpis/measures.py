"""Measures several KPIs share (active dialogues, contacts handled, attributed sales, activity time),
each grouped by window and breakdown value; KPIs compose them into counts, rates and means."""

from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales.kpis.registry import KEY, MEMBER_DIMS, ROOM_DIMS, SALES_DIMS, Ctx, count, shared, total
from chatsales.period import NAT, to_us

ROOM_COLUMNS = ["source", "channel", "member_id", "role", "started_at", "established_at", "is_blocked"]


FLAG_KINDS = (
    ("product", None),
    ("photo", "member"),
    ("video", "member"),
    ("photo", "visitor"),
    ("video", "visitor"),
    ("connect_request", "member"),
    ("email_request", "member"),
)
T_MIN, T_MAX = NAT, np.iinfo(np.int64).max


@shared
def window_activity(ctx: Ctx) -> pd.DataFrame:
    """Per window and chatroom: who wrote in the window, first visitor / last member / last message, kinds.
    Every breakdown is a column of the chatroom, so its groups are those of dimension all relabelled: that
    one is computed (once per call, in the memo) and the others derived from it."""
    if ctx.dimension != "all":
        activity = window_activity(Ctx(ctx.facts, ctx.periods, "all", ctx.dims, ctx.filters, ctx.memo))
        values = activity[ROOM_DIMS[ctx.dimension]]
        if not isinstance(values.dtype, pd.CategoricalDtype):  # as Ctx.keyed labels a breakdown
            values = values.astype("str").astype("category")
        activity = activity.assign(dimension_value=values)
        return activity[activity["dimension_value"].notna()].reset_index(drop=True)
    msgs = ctx.facts.messages
    labels, room, t = ctx.periods.label(msgs["sent_at"]), msgs["room"].to_numpy(), to_us(msgs["sent_at"])
    sender, kinds = msgs["sender"], msgs["kind"]
    visitor = sender.eq("visitor").to_numpy(dtype=bool)
    flags = {"visitor_wrote": visitor, "member_wrote": ~visitor}
    for kind, party in FLAG_KINDS:
        flag = kinds.eq(kind).to_numpy(dtype=bool)
        flags[f"{kind}_{party or 'any'}"] = flag & sender.eq(party).to_numpy(dtype=bool) if party else flag
    flags["email_filled"] = flags["email_request_member"] & msgs["email_filled_at"].notna().to_numpy()
    # The messages of a window and chatroom that follow each other (facts are ordered by day, then chatroom:
    # a room's messages of a day are one run) are reduced first, in place, then the runs by group: the
    # grouping hashes room-days, not messages (a year at 10x: 1.4 M runs of 10.7 M messages), and no column of
    # the messages is copied. Runs outside every window (label -1) are reduced too, then dropped. Any order
    # gives the same groups; this one makes it fast.
    start = (
        np.flatnonzero(np.r_[True, (room[1:] != room[:-1]) | (labels[1:] != labels[:-1])])
        if len(t)
        else np.empty(0, dtype=np.int64)
    )
    inside = labels[start] >= 0

    def runs(reduce, values: np.ndarray) -> np.ndarray:
        return reduce.reduceat(values, start)[inside] if len(values) else values

    run_period, run_room = labels[start][inside], room[start][inside]
    room_code, rooms = pd.factorize(run_room)
    # one group per (window, chatroom), numbered in order of first appearance
    group = pd.factorize(run_period * max(len(rooms), 1) + room_code)[0] if len(ctx.periods) > 1 else room_code
    n = int(group.max()) + 1 if len(group) else 0
    out = pd.DataFrame(
        {
            "period": _at(np.put, n, group, run_period, 0),
            "dimension_value": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), ["all"]),
            "room": _at(np.put, n, group, run_room, 0),
        }
    )
    out["t_visitor"] = _at(np.minimum.at, n, group, runs(np.minimum, np.where(visitor, t, T_MAX)), T_MAX)
    out["t_member"] = _at(np.maximum.at, n, group, runs(np.maximum, np.where(visitor, T_MIN, t)), T_MIN)
    out["t_any"] = _at(np.maximum.at, n, group, runs(np.maximum, t), T_MIN)
    for name, flag in flags.items():
        out[name] = np.bincount(group, weights=runs(np.logical_or, flag), minlength=n) > 0
    # the chatroom's columns, and the filters on them, once per chatroom rather than once per message
    return ctx.select(ctx.with_rooms(out, ROOM_COLUMNS), ROOM_DIMS).reset_index(drop=True)


def _at(op, n: int, group: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    """Per group, `values` combined by `op` (np.put: any one of them, all equal within a group)."""
    out = np.full(n, fill, dtype=values.dtype)
    op(out, group, values)
    return out


@shared
def active_dialogues(ctx: Ctx) -> pd.Series:
    """Dialogues established by the window's end with a counted message in the window (Chat-Card-20): the
    chatrooms of window_activity (one row per window and chatroom) established before the window ends."""
    activity = window_activity(ctx)
    return count(activity[established_by_end(ctx, activity)])


def established_by_end(ctx: Ctx, rows: pd.DataFrame) -> np.ndarray:
    """Per row (a chatroom in a window): a dialogue established before the window's end. The one rule of
    Chat-Card-20, the dialogue durations and the active dialogues."""
    established = to_us(rows["established_at"])  # NaT: NAT, never established
    return (established != NAT) & (established < ctx.periods.end_of(rows["period"].to_numpy(dtype=np.int64)))


@shared
def contacts_handled(ctx: Ctx) -> pd.Series:
    """Chatrooms where the member wrote a counted message in the window (iAdvize's contacts handled): a
    counted message is the visitor's or the member's, so these are window_activity's rooms not only the
    visitor's."""
    activity = window_activity(ctx)
    return count(activity[activity["member_wrote"].to_numpy(dtype=bool)])


@shared
def attributed_sales(ctx: Ctx) -> pd.DataFrame:
    orders = ctx.facts.orders
    return ctx.keyed(orders[orders["attributed"] & orders["is_sale"]], "placed_at", SALES_DIMS)


def sales_total(ctx: Ctx) -> pd.Series:
    return total(attributed_sales(ctx), "total")


def sales_count(ctx: Ctx) -> pd.Series:
    return count(attributed_sales(ctx))


@shared
def activity_seconds(ctx: Ctx) -> pd.Series:
    """Online time: member sessions clipped to the window, overlapping sessions of a member counted once."""
    sessions = ctx.select(ctx.facts.member_sessions, MEMBER_DIMS)
    labels, start, end = ctx.periods.clip_intervals(sessions["started_at"], sessions["ended_at"])
    keep = labels >= 0
    frame = pd.DataFrame(
        {
            "period": labels[keep],
            "member_id": sessions["member_id"].to_numpy()[keep],
            "role": sessions["role"].to_numpy()[keep],
            "start": start[keep],
            "end": end[keep],
        }
    )
    if frame.empty:
        return count(frame.assign(dimension_value=[]))
    frame = frame.sort_values(["period", "member_id", "start"], kind="stable")
    # union per member and window: the part of each interval past the furthest end seen so far
    reach = frame.groupby(["period", "member_id"])["end"].cummax()
    before = reach.groupby([frame["period"], frame["member_id"]]).shift(1)
    new_start = np.maximum(frame["start"].to_numpy(), before.fillna(NAT).to_numpy())
    frame["seconds"] = np.maximum(frame["end"].to_numpy() - new_start, 0) / 1e6
    frame["dimension_value"] = "all" if ctx.dimension == "all" else frame[MEMBER_DIMS[ctx.dimension]].astype("str")
    return frame.groupby(KEY)["seconds"].sum()
