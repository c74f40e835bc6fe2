"""Campaign attribution and transaction stats (kpis.md, Smgo-1 and Smgo-2; salesmanago-transaction-analytics).

The rule. A sale (not cancelled, total > 0; web order or store receipt) placed at instant T by the customer
with email hash H is credited to the campaign of H's **latest click at or before T** that is at most the
campaign window old: ``T − window ≤ clicked_at ≤ T``, both bounds inclusive (a click at the very instant of
the order counts; so does one exactly window × 86,400 s before it, as for chat attribution). The window is
an exact duration (CHATSALES_CAMPAIGN_WINDOW_DAYS, default 7). Two clicks of H at the same instant: the
smallest campaign_id (byte order) wins. Clicks and orders are matched on the keyed hash of the normalised
email (pii.py), so no address leaves this module. A sale can be credited to a campaign *and* attributed to a
chat conversation: that overlap is reported, not resolved (each channel keeps its own credit).

Conversion (Smgo-2): a clicker of a campaign (a distinct email hash that clicked it) converted when they
placed a sale within the window after one of their clicks on it (``clicked_at ≤ T ≤ clicked_at + window``),
whether or not a later click of another campaign took the order's credit; conversion = converted clickers /
clickers. Per automation (campaign kind), clickers and buyers are distinct hashes across its campaigns.

Everything is vectorised: pandas ``merge_asof`` by email hash, no loop over rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from chatsales import schema
from chatsales.pii import hash_emails, normalise_emails

SOURCE = "marketing_touchpoints"
ORDER_COLUMNS: dict[str, str] = {
    "order_id": "str",
    "sales_channel": "str",
    "day": "object",
    "placed_at": schema.TS,
    "customer_hash": "str",
    "total": "float64",
    "campaign_id": "str",
    "campaign_name": "str",
    "kind": "str",
    "clicked_at": schema.TS,
    "seconds_after_click": "float64",
    "chat_attributed": "bool",
    "chatroom_id": "str",
    "member_id": "str",
    "window_days": "int64",
}
STATS_COLUMNS: dict[str, str] = {
    "level": "str",
    "campaign_id": "str",
    "name": "str",
    "kind": "str",
    "sent_at": schema.TS,
    "clicks": "int64",
    "clickers": "int64",
    "buyers": "int64",
    "conversion": "float64",
    "orders": "int64",
    "sales_sum": "float64",
    "sales_min": "float64",
    "sales_mean": "float64",
    "sales_max": "float64",
    "overlap_orders": "int64",
    "overlap_sales": "float64",
    "window_days": "int64",
}


def hashed_clicks(clicks: pd.DataFrame, campaigns: pd.DataFrame, pii_key: str) -> pd.DataFrame:
    """Clicks with the email hash and their campaign's kind and name; clicks without an email are dropped.

    A click of an unknown campaign or without a time breaks the contract (the reader rejects those rows):
    here it is an error naming the source, the record and the problem.
    """
    known = clicks["campaign_id"].isin(campaigns["campaign_id"])
    untimed = clicks["clicked_at"].isna()
    for bad, problem in ((~known, "unknown campaign_id"), (untimed, "no clicked_at")):
        if bad.any():
            row = clicks[bad].iloc[0]
            raise ValueError(
                f"{SOURCE}: campaign_clicks record (campaign_id={row['campaign_id']!r}, "
                f"clicked_at={row['clicked_at']}): {problem} ({int(bad.sum())} such clicks)"
            )
    out = pd.DataFrame(
        {
            "campaign_id": clicks["campaign_id"].astype("str"),
            "customer_hash": hash_emails(normalise_emails(clicks["email"]), pii_key),
            "clicked_at": clicks["clicked_at"].astype(schema.TS),
        }
    )
    info = campaigns.set_index("campaign_id")
    out["kind"] = out["campaign_id"].map(info["kind"]).astype("str")
    out["campaign_name"] = out["campaign_id"].map(info["name"]).astype("str")
    return out[out["customer_hash"].notna()].reset_index(drop=True)


def _sales(orders: pd.DataFrame) -> pd.DataFrame:
    """The sales with a customer hash; a sale without a time is an error naming it."""
    sales = orders[orders["is_sale"].astype(bool) & orders["customer_hash"].notna()]
    untimed = sales["placed_at"].isna()
    if untimed.any():
        row = sales[untimed].iloc[0]
        raise ValueError(f"orders: record ({row['sales_channel']}, {row['order_id']!r}): no placed_at")
    return sales


def credit_orders(orders: pd.DataFrame, clicks: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """`campaign_orders`: one row per sale credited to a campaign (the latest click within the window).

    `orders` are attributed order rows (publication.attributed_order_rows), `clicks` come from hashed_clicks.
    """
    if window_days <= 0:
        raise ValueError(f"campaign window: {window_days} days; it must be at least 1")
    sales = _sales(orders)
    left = (
        sales[
            [
                "order_id",
                "sales_channel",
                "day",
                "placed_at",
                "customer_hash",
                "total",
                "attributed",
                "chatroom_id",
                "member_id",
            ]
        ]
        .astype({"placed_at": schema.TS})
        .sort_values("placed_at", kind="stable")
    )
    # equal times: the smallest campaign_id sorts last, and merge_asof takes the last match
    right = clicks[["customer_hash", "clicked_at", "campaign_id", "campaign_name", "kind"]].sort_values(
        ["clicked_at", "campaign_id"], ascending=[True, False], kind="stable"
    )
    credited = pd.merge_asof(
        left,
        right,
        left_on="placed_at",
        right_on="clicked_at",
        by="customer_hash",
        direction="backward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(days=window_days),
    )
    credited = credited[credited["campaign_id"].notna()].copy()
    credited["seconds_after_click"] = (credited["placed_at"] - credited["clicked_at"]).dt.total_seconds()
    credited["chat_attributed"] = credited["attributed"].astype(bool)
    credited["chatroom_id"] = credited["chatroom_id"].where(credited["chat_attributed"])
    credited["member_id"] = credited["member_id"].where(credited["chat_attributed"])
    credited["window_days"] = window_days
    out = credited[list(ORDER_COLUMNS)].astype({c: t for c, t in ORDER_COLUMNS.items() if c != "day"})
    out = out.sort_values(["campaign_id", "placed_at", "sales_channel", "order_id"], kind="stable")
    return out.reset_index(drop=True)


def converted_clicks(orders: pd.DataFrame, clicks: pd.DataFrame, window_days: int) -> pd.Series:
    """Per click (clicks' index): did the same hash place a sale in [clicked_at, clicked_at + window]?"""
    sales = _sales(orders)[["customer_hash", "placed_at"]].astype({"placed_at": schema.TS}).sort_values("placed_at")
    probe = clicks[["customer_hash", "clicked_at"]].reset_index().sort_values("clicked_at", kind="stable")
    hit = pd.merge_asof(
        probe,
        sales,
        left_on="clicked_at",
        right_on="placed_at",
        by="customer_hash",
        direction="forward",
        allow_exact_matches=True,
        tolerance=pd.Timedelta(days=window_days),
    )
    return pd.Series(hit["placed_at"].notna().to_numpy(), index=hit["index"].to_numpy()).reindex(clicks.index)


def _stats(credited: pd.DataFrame, clicks: pd.DataFrame, key: str) -> pd.DataFrame:
    """Smgo-1 and Smgo-2 grouped by `key` (campaign_id or kind)."""
    click_stats = clicks.groupby(key).agg(clicks=("customer_hash", "size"), clickers=("customer_hash", "nunique"))
    buyers = clicks[clicks["converted"]].groupby(key)["customer_hash"].nunique().rename("buyers")
    overlap = credited[credited["chat_attributed"]].groupby(key)["total"].agg(["size", "sum"])
    overlap.columns = ["overlap_orders", "overlap_sales"]
    order_stats = credited.groupby(key)["total"].agg(["size", "sum", "min", "mean", "max"])
    order_stats.columns = ["orders", "sales_sum", "sales_min", "sales_mean", "sales_max"]
    return pd.concat([click_stats, buyers, order_stats, overlap], axis=1)


def campaign_stats(
    campaigns: pd.DataFrame, clicks: pd.DataFrame, credited: pd.DataFrame, orders: pd.DataFrame, window_days: int
) -> pd.DataFrame:
    """`campaign_stats`: one row per campaign (level `campaign`) and per kind (level `kind`: mailing,
    automation), every campaign and kind of `campaigns` present even without clicks (counts 0, sums 0,
    min / mean / max and conversion null)."""
    clicks = clicks.assign(converted=converted_clicks(orders, clicks, window_days).to_numpy(dtype=bool))
    per_campaign = (
        campaigns.set_index("campaign_id")[["name", "kind", "sent_at"]]
        .join(_stats(credited, clicks, "campaign_id"))
        .reset_index()
        .assign(level="campaign")
    )
    kinds = pd.Index(sorted(campaigns["kind"].dropna().unique()), name="kind")
    per_kind = _stats(credited, clicks, "kind").reindex(kinds).reset_index().assign(level="kind")
    out = pd.concat([per_campaign, per_kind], ignore_index=True)
    counts = ["clicks", "clickers", "buyers", "orders", "overlap_orders"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out[["sales_sum", "overlap_sales"]] = out[["sales_sum", "overlap_sales"]].fillna(0.0)
    out["conversion"] = out["buyers"] / out["clickers"].where(out["clickers"] > 0)
    out["window_days"] = window_days
    for column, dtype in STATS_COLUMNS.items():
        if column not in out:
            out[column] = pd.Series(pd.NA, index=out.index, dtype=dtype)
    out = out[list(STATS_COLUMNS)].astype(STATS_COLUMNS)
    return out.sort_values(["level", "kind", "campaign_id"], kind="stable", na_position="first").reset_index(drop=True)


def campaign_attribution(
    orders: pd.DataFrame, campaigns: pd.DataFrame, clicks: pd.DataFrame, *, window_days: int, pii_key: str
) -> dict[str, pd.DataFrame]:
    """Both tables at once: `campaign_orders` and `campaign_stats`."""
    hashed = hashed_clicks(clicks, campaigns, pii_key)
    credited = credit_orders(orders, hashed, window_days)
    return {
        "campaign_orders": credited,
        "campaign_stats": campaign_stats(campaigns, hashed, credited, orders, window_days),
    }


def overlap_summary(orders: pd.DataFrame, credited: pd.DataFrame) -> dict[str, float | int]:
    """What a person checks: sales credited to a campaign, to a chat, to both (the overlap)."""
    sales = orders[orders["is_sale"].astype(bool)]
    both = credited["chat_attributed"].to_numpy(dtype=bool)
    return {
        "sales": int(len(sales)),
        "campaign_orders": int(len(credited)),
        "chat_attributed_sales": int(sales["attributed"].astype(bool).sum()),
        "overlap_orders": int(both.sum()),
        "campaign_sales_amount": round(float(credited["total"].sum()), 2),
        "overlap_sales_amount": round(float(np.sum(credited["total"].to_numpy()[both])), 2),
    }


def period_campaign_stats(credited: pd.DataFrame) -> dict[str, list[dict]]:
    """Smgo-1 for a period: the sales of `campaign_orders` placed in it, per campaign and per kind (count,
    sum, min, mean, max, and the overlap with chat attribution). Conversion (Smgo-2) needs the clicks,
    which the reporting database keeps only as the nightly `campaign_stats`."""

    def by(keys: list[str]) -> list[dict]:
        if credited.empty:
            return []
        stats = (
            credited.groupby(keys, dropna=False)
            .agg(
                orders=("total", "size"),
                sales_sum=("total", "sum"),
                sales_min=("total", "min"),
                sales_mean=("total", "mean"),
                sales_max=("total", "max"),
                overlap_orders=("chat_attributed", "sum"),
            )
            .reset_index()
        )
        return stats.astype({"overlap_orders": "int64"}).round(2).to_dict("records")

    return {"by_campaign": by(["campaign_id", "campaign_name", "kind"]), "by_kind": by(["kind"])}
