"""The published order rows (`attributed_orders`): one per order or receipt, with what a reader needs to
trust a commission: the amounts, the customer's hash (never the email), the reporting day, and the
attribution's winner or reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from chatsales.pii import hash_emails, normalise_emails

ORDER_KEY = ["sales_channel", "order_id"]


def local_day(ts: pd.Series, timezone: str) -> pd.Series:
    """The reporting-timezone date of each UTC instant (DST days included)."""
    return ts.dt.tz_convert(timezone).dt.date


def sale_flags(orders: pd.DataFrame) -> pd.DataFrame:
    """is_cancelled / is_sale / is_return as attribution.md defines them (latest version of the order)."""
    is_cancelled = orders["status"].eq("cancelled").to_numpy()
    total = orders["total"].to_numpy()
    return pd.DataFrame(
        {
            "is_cancelled": is_cancelled,
            "is_sale": ~is_cancelled & (total > 0),
            "is_return": ~is_cancelled & (total <= 0) & orders["sales_channel"].eq("store").to_numpy(),
        },
        index=orders.index,
    )


def derive_first_orders(orders: pd.DataFrame, customer_hash: pd.Series) -> pd.Series:
    """`is_first_order` as given, else from the history seen: the customer's earliest sale.

    The customer is the email hash, else the customer id; an order with neither stays unknown (NA).
    """
    given = orders["is_first_order"].astype("boolean")
    customer = customer_hash.fillna("cid:" + orders["customer_id"]).astype(object)
    flags = sale_flags(orders)
    sales = pd.DataFrame({"customer": customer, "placed_at": orders["placed_at"], "order_id": orders["order_id"]})[
        flags["is_sale"].to_numpy() & customer.notna().to_numpy()
    ]
    first = sales.sort_values(["customer", "placed_at", "order_id"]).drop_duplicates("customer")
    is_first = pd.Series(pd.NA, index=orders.index, dtype="boolean")
    known = customer.notna().to_numpy()
    is_first[known] = False
    is_first[orders.index.isin(first.index)] = True
    return given.fillna(is_first)


def attributed_order_rows(
    orders: pd.DataFrame,
    attribution: pd.DataFrame,
    *,
    timezone: str,
    pii_key: str | None = None,
    first_orders: pd.Series | None = None,
) -> pd.DataFrame:
    """The `attributed_orders` columns (less run_id / computed_at) for every order of `orders`: raw orders
    (their email hashed with `pii_key`), or lake orders that carry `customer_hash` already. `first_orders`:
    whether each is its customer's first sale, from the whole order history (the catalog's index); without
    it, derived from `orders` themselves."""
    customer_hash = (
        orders["customer_hash"]
        if "customer_hash" in orders
        else hash_emails(normalise_emails(orders["email"]), pii_key)
    )
    flags = sale_flags(orders)
    net = np.where(
        flags["is_sale"],
        orders["total"] - orders["refunded"].fillna(0.0),
        np.where(flags["is_return"], orders["total"], 0.0),
    )
    base = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "sales_channel": orders["sales_channel"],
            "placed_at": orders["placed_at"],
            "day": local_day(orders["placed_at"], timezone),
            "customer_hash": customer_hash,
            "total": orders["total"],
            "net_total": net,
            "refunded": orders["refunded"].fillna(0.0),
            "currency": orders["currency"],
            "status": orders["status"],
            "is_cancelled": flags["is_cancelled"],
            "is_sale": flags["is_sale"],
            "is_return": flags["is_return"],
            "is_first_order": derive_first_orders(orders, customer_hash)
            if first_orders is None
            else orders["is_first_order"].astype("boolean").fillna(first_orders.astype("boolean")),
            "store_id": orders["store_id"],
        }
    )
    attr = attribution[
        [
            "order_id",
            "sales_channel",
            "attributed",
            "reason",
            "chatroom_id",
            "member_id",
            "source",
            "touchpoint",
            "match_key",
            "last_message_at",
            "window_days",
        ]
    ]
    rows = base.merge(attr, on=ORDER_KEY, how="left", validate="one_to_one")
    missing = rows["attributed"].isna()
    if missing.any():
        first = rows.loc[missing, ORDER_KEY].iloc[0].to_dict()
        raise ValueError(f"{int(missing.sum())} orders have no attribution row (first: {first})")
    return rows


def rows_of_days(frame: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    return frame[frame["day"].isin(set(days))].reset_index(drop=True)


def tables_of_days(tables: Mapping[str, pd.DataFrame], days: Sequence[date]) -> dict[str, pd.DataFrame]:
    """The rows of `days` of every table that has a `day` column (the fact tables a day publishes)."""
    return {name: rows_of_days(frame, days) for name, frame in tables.items() if "day" in frame.columns}


def attribution_summary(rows: pd.DataFrame) -> dict[str, float | int]:
    """What a person checks each morning: how many orders, how many attributed, for how much."""
    sales = rows[rows["is_sale"]]
    attributed_sales = sales[sales["attributed"]]
    reasons = rows.loc[~rows["attributed"], "reason"].value_counts()
    summary: dict[str, float | int] = {
        "orders": int(len(rows)),
        "sales": int(len(sales)),
        "attributed_sales": int(len(attributed_sales)),
        "attributed_share": round(len(attributed_sales) / len(sales), 4) if len(sales) else 0.0,
        "total_sales_amount": round(float(sales["total"].sum()), 2),
        "attributed_sales_amount": round(float(attributed_sales["total"].sum()), 2),
    }
    summary.update({f"unattributed_{reason}": int(n) for reason, n in reasons.items()})
    return summary
