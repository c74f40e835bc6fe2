"""Facts and KPI assets: the fact tables every indicator is computed from, and the daily KPI catalog."""

import dagster as dg
import numpy as np

from assets_defs.common import days_label, partitioned, run_days
from chatsales.facts import Facts, build_facts
from chatsales.kpis import compute_kpis
from chatsales.kpis.charts import compute_charts
from chatsales.kpis.members_list import members_list
from chatsales.period import Periods
from resources.pipeline_settings import PipelineSettings


def kpi_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:

    @dg.asset(**partitioned(partitions, "facts"), kinds={"pandas"},
              description="Fact tables (requests, chatrooms with their dialogue milestones, counted messages, "
                          "ratings, hook events, member sessions, orders with their attribution), each with the "
                          "reporting day of its date basis. Everything a KPI needs, for any period.")
    def conversation_facts(context: dg.AssetExecutionContext, chat_platform: dict, order_attribution,
                           settings: PipelineSettings) -> dg.Output:
        tables = build_facts(chat_platform, order_attribution, settings.timezone).tables()
        return dg.Output(tables, metadata={f"rows_{name}": len(frame) for name, frame in tables.items()})

    @dg.asset(**partitioned(partitions, "kpis", layout="daily"), kinds={"pandas"},
              description="The KPI catalog for each day of the run, for dimension all and each breakdown "
                          "(source, channel, member, role) that applies, with numerators and denominators; "
                          "the members list (Chat-List-1) taken from the member breakdown; and the chart "
                          "buckets (Chat-Donut-*, Chat-Bar-*), every bucket of every chart each day.")
    def kpi_daily(context: dg.AssetExecutionContext, conversation_facts: dict, chat_platform: dict,
                  settings: PipelineSettings) -> dg.Output:
        days = run_days(context)
        periods = Periods.daily(days, settings.timezone)
        facts, memo = Facts.from_tables(conversation_facts), {}
        rows = compute_kpis(facts, periods, memo=memo)
        buckets = compute_charts(facts, periods, memo=memo)
        members = members_list(rows, chat_platform["members"])
        day_of = np.array(days, dtype=object)
        rows = rows.assign(day=day_of[rows.pop("period").to_numpy(dtype="int64")])
        members = members.assign(day=day_of[members.pop("period").to_numpy(dtype="int64")])
        buckets = buckets.assign(day=day_of[buckets.pop("period").to_numpy(dtype="int64")])
        context.log.info(f"kpi_daily {days_label(days)}: {len(rows)} rows, {len(members)} member rows, "
                         f"{len(buckets)} bucket rows")
        return dg.Output({"kpi_daily": rows, "member_daily": members, "kpi_buckets_daily": buckets},
                         metadata={"rows": len(rows), "kpis": int(rows["kpi"].nunique()),
                                   "member_rows": len(members), "bucket_rows": len(buckets),
                                   "charts": int(buckets["chart"].nunique()), "days": days_label(days)})

    return [conversation_facts, kpi_daily]
