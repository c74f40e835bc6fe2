"""How an attribution differs from the one published before: the ledger's rows, and the diff a person
reads after a re-attribution (orders gained, lost, moved between members, sales delta per member).

One function classifies every order, so the ledger written at publication and the re-attribution job's
report can never disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["order_id", "sales_channel"]
COMPARED = ["attributed", "chatroom_id", "member_id", "reason"]


def classify_changes(new: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
    """One row per order of `new` (attributed_orders columns) with `change`: first (never published
    before), gained, lost, moved (another chatroom), reason (still unattributed, another reason) or ""
    (unchanged); old_/new_ chatroom and member (only attributed rows credit one) and reasons."""
    old = old[[*KEYS, *COMPARED]].astype({"order_id": "str", "sales_channel": "str"})
    m = new.merge(old, on=KEYS, how="left", suffixes=("", "_old"), indicator=True)
    is_new = m["_merge"].eq("left_only").to_numpy()
    was = m["attributed_old"].fillna(False).astype(bool).to_numpy()
    now = m["attributed"].astype(bool).to_numpy()
    room, room_old = m["chatroom_id"].where(now), m["chatroom_id_old"].where(was)
    moved = was & now & room.ne(room_old).to_numpy()
    reason_changed = ~was & ~now & m["reason"].fillna("").ne(m["reason_old"].fillna("")).to_numpy()
    change = np.select(
        [is_new, ~was & now, was & ~now, moved, reason_changed],
        ["first", "gained", "lost", "moved", "reason"],
        default="",
    )
    return m.drop(columns="_merge").assign(
        change=change,
        old_chatroom_id=room_old,
        new_chatroom_id=room,
        old_member_id=m["member_id_old"].where(was),
        new_member_id=m["member_id"].where(now),
        old_reason=m["reason_old"],
        new_reason=m["reason"],
    )


def credited_sales(rows: pd.DataFrame) -> pd.Series:
    """Sales (gross totals of attributed sales) per member."""
    sale = rows["attributed"].astype(bool) & ~rows["is_cancelled"].astype(bool) & (rows["total"] > 0)
    return rows[sale].groupby("member_id")["total"].sum()


def cents(value: float) -> float:
    """An amount rounded to cents, so a diff never shows float noise (-23937.48999999999)."""
    return round(float(value) + 0.0, 2)


def attribution_diff(new: pd.DataFrame, old: pd.DataFrame) -> tuple[dict[str, float | int], pd.DataFrame]:
    """What a re-attribution changes, from one classification: the summary (orders gained, lost, moved,
    first seen, reason changed; sales before, after, delta) and, per member, orders gained and lost (moves
    count on both sides) and sales before, after and delta."""
    changes = classify_changes(new, old)
    before, after = credited_sales(old), credited_sales(new)
    counts = changes["change"].value_counts()
    summary = {
        "orders": int(len(new)),
        "orders_gained": int(counts.get("gained", 0)),
        "orders_lost": int(counts.get("lost", 0)),
        "orders_moved": int(counts.get("moved", 0)),
        "orders_first_seen": int(counts.get("first", 0)),
        "reason_changed": int(counts.get("reason", 0)),
        "sales_before": cents(before.sum()),
        "sales_after": cents(after.sum()),
        "sales_delta": cents(after.sum() - before.sum()),
    }
    gained = changes[changes["change"].isin(["gained", "moved", "first"]) & changes["new_member_id"].notna()]
    lost = changes[changes["change"].isin(["lost", "moved"])]
    table = pd.DataFrame(
        {
            "orders_gained": gained.groupby("new_member_id").size(),
            "orders_lost": lost.groupby("old_member_id").size(),
            "sales_before": before,
            "sales_after": after,
        }
    ).fillna(0.0)
    table["sales_delta"] = table["sales_after"] - table["sales_before"]
    table = table[(table["orders_gained"] > 0) | (table["orders_lost"] > 0) | (table["sales_delta"].abs() > 1e-9)]
    table = table.astype({"orders_gained": "int64", "orders_lost": "int64"})
    table[["sales_before", "sales_after", "sales_delta"]] = table[["sales_before", "sales_after", "sales_delta"]].round(
        2
    )
    table.index.name = "member_id"
    return summary, table.sort_values(["sales_delta", "orders_gained"], ascending=[False, False]).reset_index()


def changed_orders(new: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
    """The orders a re-attribution gains, loses or moves (and those first seen or whose reason changes), with
    old and new chatroom, member and reason, the day and the order's total."""
    changes = classify_changes(new, old)
    changes = changes[changes["change"] != ""]
    return changes[
        [
            "order_id",
            "sales_channel",
            "day",
            "change",
            "old_chatroom_id",
            "new_chatroom_id",
            "old_member_id",
            "new_member_id",
            "old_reason",
            "new_reason",
            "total",
        ]
    ].reset_index(drop=True)
