"""Source assets: each reads one outside system as it is tonight, validates it against the data contract,
keeps the valid rows as a snapshot and publishes the rejects (reason, file/page, record) to `rejects`."""

import dagster as dg

from assets_defs.common import partitioned
from chatsales.contract import SourceFrames
from resources.pipeline_settings import PipelineSettings
from resources.reporting_resource import ReportingDatabase
from resources.sources import ChatDatabase, MarketingTouchpoints, StoreSales, WebOrders

REJECTS_CHECK = "rejects_under_threshold"


def _rejects_check(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(REJECTS_CHECK, asset=name,
                             description="Rows that break the data contract stay under the reject "
                                         "threshold (CHATSALES_REJECT_THRESHOLD, a share of the rows read).")


def _publish(context: dg.AssetExecutionContext, source: str, location: str, read: SourceFrames,
             settings: PipelineSettings, reporting: ReportingDatabase):
    """Store the rejects, then yield the valid frames with their counts and the rejects check."""
    n_rejects = reporting.store().replace_rejects(source, read.rejects, run_id=context.run.run_id)
    rows = {name: len(frame) for name, frame in read.frames.items()}
    total = sum(rows.values()) + n_rejects
    share = n_rejects / total if total else 0.0
    if n_rejects:
        context.log.warning(f"{source}: {n_rejects} rows rejected (see table rejects); first reasons: "
                            + "; ".join(read.rejects["reason"].astype(str).head(3)))
    metadata = {f"rows_{name}": dg.MetadataValue.int(n) for name, n in rows.items()}
    metadata.update(location=dg.MetadataValue.text(location), rejects=dg.MetadataValue.int(n_rejects),
                    reject_share=dg.MetadataValue.float(round(share, 6)))
    yield dg.Output(read.frames, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=REJECTS_CHECK, passed=share <= settings.reject_threshold,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rejects": n_rejects, "reject_share": round(share, 6),
                  "threshold": settings.reject_threshold})


def source_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    common = partitioned(partitions, "sources")

    @dg.asset(**common, kinds={"sql"}, check_specs=[_rejects_check("chat_platform")],
              description="The chat platform's tables (members, visitors, requests, chatrooms, messages, "
                          "ratings, hook events, sessions, identity links) as they are tonight, validated. "
                          "A snapshot: late ratings, questions and email fills show up in the next read.")
    def chat_platform(context: dg.AssetExecutionContext, chat_db: ChatDatabase,
                      settings: PipelineSettings, reporting: ReportingDatabase):
        yield from _publish(context, "chat_platform", chat_db.url.split("@")[-1], chat_db.read(),
                            settings, reporting)

    @dg.asset(**common, kinds={"shopify"}, check_specs=[_rejects_check("web_orders")],
              description="Web orders, latest version of each (JSONL exports, or the Shopify Admin API when "
                          "SHOPIFY_SHOP is set), with their lines. Refunds and cancellations arrive as newer "
                          "versions of the same order.")
    def web_orders(context: dg.AssetExecutionContext, orders: WebOrders, settings: PipelineSettings,
                   reporting: ReportingDatabase):
        yield from _publish(context, "web_orders", orders.location, orders.read(settings.currency),
                            settings, reporting)

    @dg.asset(**common, kinds={"csv"}, check_specs=[_rejects_check("store_sales")],
              description="In-store receipts from the POS CSV exports (one row per receipt line, grouped into "
                          "receipts; returns have negative totals). A file delivered twice counts once.")
    def store_sales(context: dg.AssetExecutionContext, pos: StoreSales, settings: PipelineSettings,
                    reporting: ReportingDatabase):
        yield from _publish(context, "store_sales", pos.store_sales_dir,
                            pos.read(settings.timezone, settings.currency), settings, reporting)

    @dg.asset(**common, kinds={"csv"}, check_specs=[_rejects_check("marketing_touchpoints")],
              description="Optional marketing campaigns and their clicks (campaigns.csv, campaign_clicks.csv).")
    def marketing_touchpoints(context: dg.AssetExecutionContext, campaigns: MarketingTouchpoints,
                              settings: PipelineSettings, reporting: ReportingDatabase):
        yield from _publish(context, "marketing_touchpoints", campaigns.campaigns_dir, campaigns.read(),
                            settings, reporting)

    return [chat_platform, web_orders, store_sales, marketing_touchpoints]
