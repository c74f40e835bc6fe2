"""The whole-history snapshots, in their own job (customer_snapshots) after the nightly run: campaign
statistics (Smgo-1/2) over every published day, and customer segments (Smgo-3/4/5) as of the end of the last
published day. They read every purchase, so they stay out of the day-local nightly run."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from assets_defs.common import OWNERS
from assets_defs.reporting import reporting_db
from assets_defs.sources import marketing_touchpoints, store_sales, web_orders
from chatsales.campaigns import campaign_stats as compute_stats
from chatsales.lake.datasets import CAMPAIGNS, CLICKS, ORDER_DATASETS
from chatsales.period import local_midnight_us
from chatsales.publication import sale_flags
from chatsales.segments import customer_tables
from resources.lake import LakeResource
from resources.reporting_db import ReportingDbResource
from resources.settings import SettingsResource


def purchases(lake: LakeResource) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every order and line of the lake with the flags segments read (sale, return, net amount)."""
    orders = pd.concat([lake.lake.read(ds["orders"]) for ds in ORDER_DATASETS.values()], ignore_index=True)
    lines = pd.concat([lake.lake.read(ds["order_lines"]) for ds in ORDER_DATASETS.values()], ignore_index=True)
    flags = sale_flags(orders)
    net = orders["total"].where(flags["is_sale"] | flags["is_return"], 0.0) - orders["refunded"].fillna(0.0).where(
        flags["is_sale"], 0.0
    )
    return orders.assign(**{c: flags[c] for c in flags}, net_total=net), lines


def trend_data_start(orders: pd.DataFrame, first_day, timezone: str) -> pd.Timestamp:
    """Where the order history Smgo-4 compares begins: the first published day's local midnight, or the
    lake's first order when the order exports reach further back."""
    start = pd.Timestamp(local_midnight_us(first_day, timezone), unit="us", tz="UTC")
    first = orders["placed_at"].min() if len(orders) else pd.NaT
    return start if pd.isna(first) else min(start, first)


@dg.asset(
    group_name="segments",
    kinds={"sql"},
    owners=OWNERS,
    deps=[reporting_db, web_orders, store_sales],
    description="Smgo-3/4/5 as of the end of the last published day: customers (email hash) by purchased "
    "product, category, price band and location (web, store, city); revenue trend (last "
    "CHATSALES_TREND_DAYS days against the same span before; customers too new for the earlier "
    "span are marked so); the product × channel × store mix. Replaces customer_segments, "
    "customer_trends and product_mix.",
)
def customer_segments(
    context: dg.AssetExecutionContext, lake: LakeResource, reporting_db: ReportingDbResource, settings: SettingsResource
) -> dg.MaterializeResult:
    db = reporting_db.db
    published = db.published_days()
    if not published:
        return dg.MaterializeResult(metadata={"as_of": "nothing published yet"})
    as_of = pd.Timestamp(local_midnight_us(max(published) + timedelta(days=1), settings.timezone), unit="us", tz="UTC")
    orders, lines = purchases(lake)
    data_start = trend_data_start(orders, min(published), settings.timezone)
    tables = customer_tables(
        orders,
        orders,
        lines,
        as_of,
        price_band_edges=settings.price_bands,
        trend_days=settings.trend_days,
        stable_pct=settings.trend_stable_pct,
        data_start=data_start,
    )
    written = db.publish_snapshots(tables, run_id=context.run.run_id)
    trends = tables["customer_trends"]["trend"].value_counts()
    return dg.MaterializeResult(
        metadata={
            **{f"rows_{k}": v for k, v in written.items()},
            "as_of": as_of.isoformat(),
            "trend_data_start": data_start.isoformat(),
            "customers": int(tables["customer_segments"]["customer_hash"].nunique()),
            **{f"customers_{k}": int(v) for k, v in trends.items()},
        }
    )


@dg.asset(
    group_name="campaigns",
    kinds={"sql"},
    owners=OWNERS,
    deps=[reporting_db, marketing_touchpoints],
    description="Smgo-1/2 per campaign and per kind over every published day: clicks, clickers, buyers "
    "(clickers with a sale in the window after a click), conversion, orders and their sum, min, "
    "mean and max, the overlap with chat attribution. Replaces campaign_stats.",
)
def campaign_stats(
    context: dg.AssetExecutionContext, lake: LakeResource, reporting_db: ReportingDbResource, settings: SettingsResource
) -> dg.MaterializeResult:
    db = reporting_db.db
    campaigns = lake.lake.read(CAMPAIGNS)
    clicks = lake.lake.read(CLICKS)
    info = campaigns.set_index("campaign_id")
    clicks = (
        clicks[clicks["customer_hash"].notna()]
        .assign(
            kind=clicks["campaign_id"].map(info["kind"]).astype("str"),
            campaign_name=clicks["campaign_id"].map(info["name"]).astype("str"),
        )
        .reset_index(drop=True)
    )
    sales = db.sales_of_customers(clicks["customer_hash"])
    stats = compute_stats(campaigns, clicks, db.read_table("campaign_orders"), sales, settings.campaign_window_days)
    written = db.publish_snapshots({"campaign_stats": stats}, run_id=context.run.run_id)
    return dg.MaterializeResult(
        metadata={"dagster/row_count": written["campaign_stats"], "campaigns": len(campaigns), "clicks": len(clicks)}
    )
