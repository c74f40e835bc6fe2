"""Customer segments (kpis.md, Smgo-3/4/5; salesmanago-transaction-analytics-pl.txt), recomputed each night.

Customers are the keyed hash of their normalised email (`customer_hash`), never the address: a sale without
an email is in no customer segment (it still counts in the product mix). Everything is "as of" an instant,
the end of the run's last day: only orders placed before it count, so a backfill of an old range gives the
segments as they were then.

- Smgo-3 `customer_segments`: per customer and segment, what they bought: `product` (product_id),
  `category`, `price_band` (unit price in CHATSALES_PRICE_BANDS bands, lower bound inclusive), `location`
  (web / store), `store` (store_id) and `city` (the store's city). Sales only (not cancelled, total > 0).
- Smgo-4 `customer_trends`: per customer, net spend (sales less refunds, plus returns) in the last
  CHATSALES_TREND_DAYS days before as_of against the same span before that; `stable` when the change is at
  most CHATSALES_TREND_STABLE_PCT % of the earlier spend (inclusive), else `buying_more` / `buying_less`.
  The comparison is only made for customers who could have bought through both spans: a customer whose
  first order is younger than the window's start (as_of − 2N; first order at it exactly: compared) is `new`,
  and when the data starts after the window's start (the first published day, or the first order read if
  older), so that the earlier span is partly unknown, every customer is `insufficient_history` (change_pct
  null for both).
  Customers without any sale or return in the two spans have no row.
- Smgo-5 `product_mix`: per product × sales channel × store: orders, units, sales, distinct customers and the
  product's rank by sales in that channel and store (1 = best seller; ties by product_id).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from chatsales import schema

KEY = ["sales_channel", "order_id"]
TRENDS = ("buying_more", "buying_less", "stable", "new", "insufficient_history")


def _before(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    untimed = frame["placed_at"].isna()
    if untimed.any():
        row = frame[untimed].iloc[0]
        raise ValueError(f"orders: record ({row['sales_channel']}, {row['order_id']!r}): no placed_at")
    return frame[frame["placed_at"] < as_of]


def purchase_lines(
    order_rows: pd.DataFrame, orders: pd.DataFrame, order_lines: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Lines of sales placed before as_of, with the customer hash and the store (name, city) of receipts."""
    sales = _before(order_rows[order_rows["is_sale"].astype(bool)], as_of)
    sales = sales[[*KEY, "placed_at", "customer_hash", "store_id"]].merge(
        orders[[*KEY, "store_name", "store_city"]], on=KEY, how="left", validate="one_to_one"
    )
    lines = order_lines[[*KEY, "line_no", "product_id", "category", "quantity", "unit_price", "line_amount"]]
    return lines.merge(sales, on=KEY, how="inner", validate="many_to_one")


def price_band_labels(edges: Sequence[float]) -> list[str]:
    bounds = [0.0, *edges]
    return [f"{lo:g}-{hi:g}" for lo, hi in zip(bounds, bounds[1:])] + [f"{bounds[-1]:g}+"]


def price_bands(unit_price: pd.Series, edges: Sequence[float]) -> pd.Series:
    """The band of each unit price: lower bound inclusive, upper exclusive; no price → NA."""
    labels = np.array(price_band_labels(edges), dtype=object)
    index = np.searchsorted(np.asarray(edges, dtype=float), unit_price.fillna(0).to_numpy(dtype=float), side="right")
    return pd.Series(labels[index], index=unit_price.index).where(unit_price.notna()).astype("str")


def customer_segments(lines: pd.DataFrame, edges: Sequence[float]) -> pd.DataFrame:
    """Smgo-3: one row per customer × segment_type × segment (see the module doc)."""
    known = lines[lines["customer_hash"].notna()]
    is_store = known["sales_channel"].eq("store")
    values = {
        "product": known["product_id"],
        "category": known["category"],
        "price_band": price_bands(known["unit_price"], edges),
        "location": known["sales_channel"],
        "store": known["store_id"].where(is_store),
        "city": known["store_city"].where(is_store),
    }
    base = known[["customer_hash", "order_id", "sales_channel", "quantity", "line_amount", "placed_at"]]
    long = pd.concat(
        [base.assign(segment_type=kind, segment=value.astype("str")) for kind, value in values.items()],
        ignore_index=True,
    )
    long = long[long["segment"].notna()]
    long["order"] = long["sales_channel"] + "/" + long["order_id"]
    out = (
        long.groupby(["customer_hash", "segment_type", "segment"], sort=True)
        .agg(
            orders=("order", "nunique"),
            units=("quantity", "sum"),
            spend=("line_amount", "sum"),
            first_purchase_at=("placed_at", "min"),
            last_purchase_at=("placed_at", "max"),
        )
        .reset_index()
    )
    out["orders"] = out["orders"].astype("int64")
    return out.astype(
        {
            "customer_hash": "str",
            "segment_type": "str",
            "segment": "str",
            "first_purchase_at": schema.TS,
            "last_purchase_at": schema.TS,
        }
    )


def first_orders(order_rows: pd.DataFrame) -> pd.Series:
    """Each customer's first sale (placed_at by customer_hash) among `order_rows`."""
    sales = order_rows[order_rows["customer_hash"].notna() & order_rows["is_sale"].astype(bool)]
    return sales.groupby("customer_hash")["placed_at"].min()


def customer_trends(
    order_rows: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    trend_days: int,
    stable_pct: float,
    data_start: pd.Timestamp | None = None,
    first_order_at: pd.Series | None = None,
) -> pd.DataFrame:
    """Smgo-4: per customer, spend of [as_of − N days, as_of) against [as_of − 2N, as_of − N), for customers
    whose first order (`first_order_at` by customer_hash; default: their first sale among `order_rows`) is no
    younger than as_of − 2N, and only when the data (from `data_start`; None: as far back as needed) covers
    that start: otherwise `new` / `insufficient_history`, never a trend made up of a span without data."""
    span = pd.Timedelta(days=trend_days)
    window_start = as_of - 2 * span
    rows = order_rows[
        order_rows["customer_hash"].notna()
        & (order_rows["is_sale"].astype(bool) | order_rows["is_return"].astype(bool))
    ]
    rows = _before(rows, as_of)
    first = first_orders(_before(order_rows, as_of)) if first_order_at is None else first_order_at
    rows = rows[rows["placed_at"] >= window_start]
    recent = (rows["placed_at"] >= as_of - span).to_numpy()
    frame = pd.DataFrame(
        {
            "customer_hash": rows["customer_hash"].to_numpy(),
            "spend_recent": np.where(recent, rows["net_total"], 0.0),
            "spend_previous": np.where(recent, 0.0, rows["net_total"]),
            "orders_recent": recent.astype("int64"),
            "orders_previous": (~recent).astype("int64"),
        }
    )
    out = frame.groupby("customer_hash", sort=True).sum().reset_index()
    change = out["spend_recent"] - out["spend_previous"]
    previous = out["spend_previous"]
    stable = change.abs() * 100 <= stable_pct * previous  # inclusive, and exact for whole percents
    # a customer with only returns since the data starts bought before it: as old as the window
    since = pd.Series(first.reindex(out["customer_hash"].to_numpy()).array, index=out.index)
    young = (since > window_start).fillna(False).to_numpy(dtype=bool)
    unknown = data_start is not None and data_start > window_start
    compared = ~young & (not unknown)
    out["change_pct"] = (change * 100 / previous.where((previous != 0) & compared)).astype("float64")
    trend = np.select([stable, change > 0], ["stable", "buying_more"], "buying_less")
    trend = np.where(unknown, "insufficient_history", np.where(young, "new", trend))
    out["trend"] = pd.Series(trend, index=out.index, dtype="str")
    out["as_of"] = pd.Series(as_of, index=out.index).astype(schema.TS)
    out["trend_days"], out["stable_pct"] = int(trend_days), float(stable_pct)
    return out[
        [
            "customer_hash",
            "trend",
            "spend_recent",
            "spend_previous",
            "change_pct",
            "orders_recent",
            "orders_previous",
            "as_of",
            "trend_days",
            "stable_pct",
        ]
    ].astype({"customer_hash": "str"})


def product_mix(lines: pd.DataFrame) -> pd.DataFrame:
    """Smgo-5: per product × sales channel × store (web: no store), what sold and its rank there."""
    frame = lines[lines["product_id"].notna()].assign(order=lambda f: f["sales_channel"] + "/" + f["order_id"])
    keys = ["product_id", "sales_channel", "store_id"]
    out = (
        frame.groupby(keys, dropna=False, sort=True)
        .agg(
            category=("category", "first"),
            store_city=("store_city", "first"),
            orders=("order", "nunique"),
            units=("quantity", "sum"),
            sales=("line_amount", "sum"),
            customers=("customer_hash", "nunique"),
        )
        .reset_index()
    )
    out = out.sort_values(
        ["sales_channel", "store_id", "sales", "product_id"],
        ascending=[True, True, False, True],
        na_position="first",
        kind="stable",
    )
    out["rank"] = out.groupby(["sales_channel", "store_id"], dropna=False).cumcount() + 1
    out = out.astype(
        {
            "product_id": "str",
            "sales_channel": "str",
            "store_id": "str",
            "category": "str",
            "store_city": "str",
            "orders": "int64",
            "customers": "int64",
            "rank": "int64",
        }
    )
    return out[
        [
            "sales_channel",
            "store_id",
            "store_city",
            "rank",
            "product_id",
            "category",
            "orders",
            "units",
            "sales",
            "customers",
        ]
    ].reset_index(drop=True)


def customer_tables(
    order_rows: pd.DataFrame,
    orders: pd.DataFrame,
    order_lines: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    price_band_edges: Sequence[float],
    trend_days: int,
    stable_pct: float,
    data_start: pd.Timestamp | None = None,
    first_order_at: pd.Series | None = None,
) -> dict[str, pd.DataFrame]:
    """The three nightly tables at once (`data_start`, `first_order_at`: see customer_trends)."""
    lines = purchase_lines(order_rows, orders, order_lines, as_of)
    return {
        "customer_segments": customer_segments(lines, price_band_edges).assign(
            as_of=pd.Series(as_of).astype(schema.TS).iloc[0]
        ),
        "customer_trends": customer_trends(
            order_rows,
            as_of,
            trend_days=trend_days,
            stable_pct=stable_pct,
            data_start=data_start,
            first_order_at=first_order_at,
        ),
        "product_mix": product_mix(lines).assign(as_of=pd.Series(as_of).astype(schema.TS).iloc[0]),
    }


def segment_counts(per_segment: pd.DataFrame, per_trend: pd.DataFrame, as_of: pd.Timestamp | None) -> dict[str, dict]:
    """Smgo-3 (customers per segment, by segment type) and Smgo-4 (customers per revenue trend) as the
    CLI prints them, from the counts the database made (InsightsStore.customer_counts)."""
    segments = per_segment.sort_values(["segment_type", "segment"]).set_index(["segment_type", "segment"])["customers"]
    return {
        "as_of": None if as_of is None else str(as_of),
        "segments": {t: group.droplevel(0).astype(int).to_dict() for t, group in segments.groupby(level=0)},
        "trends": per_trend.sort_values("trend").set_index("trend")["customers"].astype(int).to_dict(),
    }
