"""Facts and KPI assets: the fact tables every indicator is computed from, and the daily KPI catalog."""

import dagster as dg

from assets_defs.common import days_label, partitioned, run_days
from chatsales.customer_keys import all_orders
from chatsales.facts import build_facts
from chatsales.kpis.daily import daily_tables
from resources.pipeline_settings import PipelineSettings


def kpi_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:

    @dg.asset(**partitioned(partitions, "facts"), kinds={"pandas"},
              description="Fact tables (requests, chatrooms with their dialogue milestones, counted messages, "
                          "ratings, hook events, member sessions, orders with their attribution, lines of "
                          "attributed sales), each with the reporting day of its date basis. Everything a KPI "
                          "needs, for any period.")
    def conversation_facts(context: dg.AssetExecutionContext, chat_platform: dict, order_attribution,
                           web_orders: dict, store_sales: dict, settings: PipelineSettings) -> dg.Output:
        lines = all_orders(web_orders["order_lines"], store_sales["order_lines"])
        tables = build_facts(chat_platform, order_attribution, settings.timezone, order_lines=lines).tables()
        return dg.Output(tables, metadata={f"rows_{name}": len(frame) for name, frame in tables.items()})

    @dg.asset(**partitioned(partitions, "kpis", layout="daily"), kinds={"pandas"},
              description="The KPI catalog for each day of the run, for dimension all and each breakdown "
                          "(source, channel, member, role) that applies, with numerators and denominators; "
                          "the members list (Chat-List-1) taken from the member breakdown; and the chart "
                          "buckets (Chat-Donut-*, Chat-Bar-*), every bucket of every chart each day.")
    def kpi_daily(context: dg.AssetExecutionContext, conversation_facts: dict, chat_platform: dict,
                  settings: PipelineSettings) -> dg.Output:
        days = run_days(context)
        tables = daily_tables(conversation_facts, chat_platform["members"], days, settings.timezone)
        rows, members, buckets = tables["kpi_daily"], tables["member_daily"], tables["kpi_buckets_daily"]
        context.log.info(f"kpi_daily {days_label(days)}: {len(rows)} rows, {len(members)} member rows, "
                         f"{len(buckets)} bucket rows")
        return dg.Output(tables,
                         metadata={"rows": len(rows), "kpis": int(rows["kpi"].nunique()),
                                   "member_rows": len(members), "bucket_rows": len(buckets),
                                   "charts": int(buckets["chart"].nunique()), "days": days_label(days)})

    return [conversation_facts, kpi_daily]
