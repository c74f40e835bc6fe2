"""Measures several KPIs share (active dialogues, contacts handled, attributed sales, activity time),
each grouped by window and breakdown value; KPIs compose them into counts, rates and means."""
from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales.kpis.registry import KEY, MEMBER_DIMS, ROOM_DIMS, SALES_DIMS, Ctx, count, shared, total
from chatsales.period import to_us


ROOM_COLUMNS = ["source", "channel", "member_id", "role", "started_at", "established_at", "is_blocked"]


@shared
def window_activity(ctx: Ctx) -> pd.DataFrame:
    """Per window and chatroom: who wrote in the window, first visitor / last member / last message, kinds.
    Every breakdown is a column of the chatroom, so its groups are those of dimension all relabelled: that
    one is computed (once per call, in the memo) and the others derived from it."""
    if ctx.dimension != "all":
        activity = window_activity(Ctx(ctx.facts, ctx.periods, "all", ctx.dims, ctx.filters, ctx.memo))
        values = activity[ROOM_DIMS[ctx.dimension]]
        if not isinstance(values.dtype, pd.CategoricalDtype):     # as Ctx.keyed labels a breakdown
            values = values.astype("str").astype("category")
        activity = activity.assign(dimension_value=values)
        return activity[activity["dimension_value"].notna()].reset_index(drop=True)
    msgs = ctx.with_rooms(ctx.facts.messages[["room", "sent_at", "sender", "kind", "email_filled_at"]], ROOM_COLUMNS)
    keyed = ctx.keyed(msgs, "sent_at", ROOM_DIMS)
    if keyed.empty:     # the same columns as below, so a window without messages computes like any other
        flags = ["visitor_wrote", "member_wrote", "product_any", "photo_member", "video_member", "photo_visitor",
                 "video_visitor", "connect_request_member", "email_request_member", "email_filled"]
        return pd.DataFrame({**{c: pd.Series(dtype="object") for c in [*KEY, *ROOM_COLUMNS]},
                             "room": pd.Series(dtype="int64"),
                             **{c: pd.Series(dtype="bool") for c in flags},
                             **{c: pd.Series(dtype="int64") for c in ("t_visitor", "t_member", "t_any")}})
    t = to_us(keyed["sent_at"])
    sender, kinds = keyed["sender"], keyed["kind"]
    visitor = sender.eq("visitor").to_numpy()
    flags = {"visitor_wrote": visitor, "member_wrote": ~visitor}
    for kind, party in (("product", None), ("photo", "member"), ("video", "member"), ("photo", "visitor"),
                        ("video", "visitor"), ("connect_request", "member"), ("email_request", "member")):
        flag = kinds.eq(kind).to_numpy()
        flags[f"{kind}_{party or 'any'}"] = flag & sender.eq(party).to_numpy() if party else flag
    flags["email_filled"] = flags["email_request_member"] & keyed["email_filled_at"].notna().to_numpy()
    # one group number per message (window, breakdown value, chatroom; numbered in order of appearance), then
    # each flag is a bincount and each time a reduceat over the messages sorted by group, instead of a dozen
    # groupby aggregations (a year at 10x: 5.9 s instead of 7.3 s). The chatroom's columns are its first
    # message's: they are the same on all of them.
    group = keyed.groupby([*KEY, "room"], sort=False, observed=True).ngroup().to_numpy()
    n = int(group.max()) + 1
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(n))
    firsts = keyed[[*KEY, "room", *ROOM_COLUMNS]].iloc[order[starts]].reset_index(drop=True)
    out = firsts[[*KEY, "room"]]
    out["t_visitor"] = np.minimum.reduceat(np.where(visitor, t, np.iinfo(np.int64).max)[order], starts)
    out["t_member"] = np.maximum.reduceat(np.where(~visitor, t, np.iinfo(np.int64).min)[order], starts)
    out["t_any"] = np.maximum.reduceat(t[order], starts)
    for name, flag in flags.items():
        out[name] = np.bincount(group, weights=flag, minlength=n) > 0
    return pd.concat([out, firsts[ROOM_COLUMNS]], axis=1)


@shared
def active_dialogues(ctx: Ctx) -> pd.Series:
    """Dialogues established by the window's end with a counted message in the window (Chat-Card-20): the
    chatrooms of window_activity (one row per window and chatroom) established before the window ends."""
    activity = window_activity(ctx)
    established = to_us(activity["established_at"])        # NaT: the int64 minimum, kept out below
    ends = ctx.periods.end_of(activity["period"].to_numpy(dtype=np.int64))
    return count(activity[(established != np.iinfo(np.int64).min) & (established < ends)])


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
    frame = pd.DataFrame({"period": labels[keep], "member_id": sessions["member_id"].to_numpy()[keep],
                          "role": sessions["role"].to_numpy()[keep], "start": start[keep], "end": end[keep]})
    if frame.empty:
        return count(frame.assign(dimension_value=[]))
    frame = frame.sort_values(["period", "member_id", "start"], kind="stable")
    # union per member and window: the part of each interval past the furthest end seen so far
    reach = frame.groupby(["period", "member_id"])["end"].cummax()
    before = reach.groupby([frame["period"], frame["member_id"]]).shift(1)
    new_start = np.maximum(frame["start"].to_numpy(), before.fillna(np.iinfo(np.int64).min).to_numpy())
    frame["seconds"] = np.maximum(frame["end"].to_numpy() - new_start, 0) / 1e6
    frame["dimension_value"] = "all" if ctx.dimension == "all" else frame[MEMBER_DIMS[ctx.dimension]].astype("str")
    return frame.groupby(KEY)["seconds"].sum()
