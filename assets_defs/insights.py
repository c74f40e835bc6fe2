"""Insights assets: the product table (Insi-7), campaign attribution (Smgo-1/2) and customer segments
(Smgo-3/4/5). Thin: each calls a plain chatsales function and publishes to the reporting database."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from assets_defs.common import days_label, partitioned, run_days
from chatsales.campaigns import campaign_attribution as attribute_campaigns
from chatsales.campaigns import overlap_summary
from chatsales.customer_keys import all_orders
from chatsales.facts import Facts
from chatsales.kpis.insights import product_daily
from chatsales.period import local_midnight_us
from chatsales.segments import customer_tables
from resources.insight_settings import InsightSettings
from resources.insights_db import InsightsStore
from resources.pipeline_settings import PipelineSettings
from resources.reporting_resource import ReportingDatabase

GROUP = "insights"


def _metadata(values: dict) -> dict:
    return {k: dg.MetadataValue.float(float(v)) if isinstance(v, float) else
            dg.MetadataValue.int(int(v)) if isinstance(v, int) else dg.MetadataValue.text(str(v))
            for k, v in values.items()}


def insights_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:

    @dg.asset(**partitioned(partitions, GROUP), kinds={"pandas", "sql"},
              description="Insi-7, product-wise sales: per day and product, times shown in chat (counted `product` "
                          "messages), units and sales in attributed orders, and units of products shown in the "
                          "credited chatroom before the order. Replaces the run's days of `product_daily`.")
    def product_sales(context: dg.AssetExecutionContext, conversation_facts: dict, settings: PipelineSettings,
                      reporting: ReportingDatabase) -> dg.MaterializeResult:
        days = run_days(context)
        table = product_daily(Facts.from_tables(conversation_facts), days, settings.timezone)
        written = InsightsStore(reporting.store()).publish_product_days(days, table, run_id=context.run.run_id)
        units = float(table["units_sold"].sum())
        after = float(table["units_sold_after_shown"].sum())
        context.log.info(f"product_daily {days_label(days)}: {written} rows")
        return dg.MaterializeResult(metadata=_metadata({
            "rows": written, "products": int(table["product_id"].nunique()), "shown": int(table["shown"].sum()),
            "units_sold": round(units, 2), "units_sold_after_shown": round(after, 2),
            "recommendation_conversion": round(after / units, 4) if units else 0.0, "days": days_label(days)}))

    @dg.asset(**partitioned(partitions, GROUP), kinds={"pandas", "sql"},
              description="Smgo-1/2: every sale credited to the campaign of the customer's latest click within "
                          "CHATSALES_CAMPAIGN_WINDOW_DAYS (same email hash), with stats per campaign and per kind "
                          "(sum, count, min, mean, max, clicker conversion) and the overlap with chat attribution. "
                          "Recomputed from the whole history: replaces campaign_orders and campaign_stats.")
    def campaign_attribution(context: dg.AssetExecutionContext, marketing_touchpoints: dict,
                             order_attribution: pd.DataFrame, settings: PipelineSettings,
                             insights: InsightSettings, reporting: ReportingDatabase) -> dg.MaterializeResult:
        tables = attribute_campaigns(order_attribution, marketing_touchpoints["campaigns"],
                                     marketing_touchpoints["campaign_clicks"],
                                     window_days=insights.campaign_window_days, pii_key=settings.pii_key)
        written = InsightsStore(reporting.store()).publish_snapshots(tables, run_id=context.run.run_id)
        summary = overlap_summary(order_attribution, tables["campaign_orders"])
        context.log.info(f"campaign attribution: {summary}")
        return dg.MaterializeResult(metadata=_metadata({
            **{f"rows_{k}": v for k, v in written.items()}, **summary,
            "campaigns": len(marketing_touchpoints["campaigns"]),
            "clicks": len(marketing_touchpoints["campaign_clicks"]),
            "window_days": insights.campaign_window_days}))

    @dg.asset(**partitioned(partitions, GROUP), kinds={"pandas", "sql"},
              description="Smgo-3/4/5, as of the end of the run's last day: customers (email hash) by purchased "
                          "product, category, price band and location (web, store, city); revenue trend (buying "
                          "more / less / stable over CHATSALES_TREND_DAYS); the product x channel x store mix. "
                          "Replaces customer_segments, customer_trends and product_mix (never with an older as_of).")
    def customer_segments(context: dg.AssetExecutionContext, web_orders: dict, store_sales: dict,
                          order_attribution: pd.DataFrame, settings: PipelineSettings,
                          insights: InsightSettings, reporting: ReportingDatabase) -> dg.MaterializeResult:
        days = run_days(context)
        as_of = pd.Timestamp(local_midnight_us(days[-1] + timedelta(days=1), settings.timezone), unit="us", tz="UTC")
        tables = customer_tables(order_attribution, all_orders(web_orders["orders"], store_sales["orders"]),
                                 all_orders(web_orders["order_lines"], store_sales["order_lines"]), as_of,
                                 price_band_edges=insights.price_bands, trend_days=insights.trend_days,
                                 stable_pct=insights.trend_stable_pct)
        store = InsightsStore(reporting.store())
        published = store.customers_as_of()
        if published is not None and published > as_of:
            # a backfill of past days does not rewind the customer snapshot to an older date
            context.log.info(f"customer snapshot as of {published} is newer than {as_of}: kept")
            return dg.MaterializeResult(metadata=_metadata({"as_of": as_of.isoformat(), "skipped": 1,
                                                            "published_as_of": published.isoformat()}))
        written = store.publish_snapshots(tables, run_id=context.run.run_id)
        trends = tables["customer_trends"]["trend"].value_counts()
        return dg.MaterializeResult(metadata=_metadata({
            **{f"rows_{k}": v for k, v in written.items()}, "as_of": as_of.isoformat(), "skipped": 0,
            "customers": int(tables["customer_segments"]["customer_hash"].nunique()),
            **{f"customers_{t}": int(trends.get(t, 0)) for t in ("buying_more", "buying_less", "stable")}}))

    return [product_sales, campaign_attribution, customer_segments]
