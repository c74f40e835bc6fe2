"""Measures several KPIs share (active dialogues, contacts handled, attributed sales, activity time),
each grouped by window and breakdown value; KPIs compose them into counts, rates and means."""
from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales.kpis.registry import KEY, MEMBER_DIMS, ROOM_DIMS, SALES_DIMS, Ctx, count, shared, total


@shared
def active_dialogues(ctx: Ctx) -> pd.Series:
    """Dialogues established by the window's end with a counted message in the window (Chat-Card-20)."""
    msgs = ctx.with_rooms(ctx.facts.messages[["room", "sent_at"]],
                          ["established_at", "source", "channel", "member_id", "role"])
    keyed = ctx.keyed(msgs, "sent_at", ROOM_DIMS)
    est = keyed["established_at"]
    keyed = keyed[est.notna().to_numpy() & (est.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]")
                                            .astype(np.int64) < ctx.periods.end_of(keyed["period"].to_numpy()))]
    return count(keyed, distinct="room")


@shared
def contacts_handled(ctx: Ctx) -> pd.Series:
    """Chatrooms where the member wrote a counted message in the window (iAdvize's contacts handled)."""
    msgs = ctx.facts.messages
    msgs = ctx.with_rooms(msgs.loc[msgs["sender"] == "member", ["room", "sent_at"]],
                          ["source", "channel", "member_id", "role"])
    return count(ctx.keyed(msgs, "sent_at", ROOM_DIMS), distinct="room")


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
