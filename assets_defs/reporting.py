"""The publication: the run's days, replaced in the reporting database in one transaction."""

import dagster as dg
import pandas as pd

from assets_defs.common import days_label, partitioned, run_days
from chatsales.facts import facts_to_publish
from chatsales.publication import rows_of_days
from resources.reporting_resource import ReportingDatabase

DAYS_CHECK = "every_day_published"
PUSH_POOL = "reporting_db"


def reporting_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:

    # pool: two runs of the same days never push at once (limit in dagster.yaml, concurrency: pools:);
    # the database lock of ReportingStore.publish_days guards writers outside Dagster too
    @dg.asset(**partitioned(partitions, "reporting"), kinds={"sql"}, pool=PUSH_POOL,
              check_specs=[dg.AssetCheckSpec(DAYS_CHECK, asset="reporting_db",
                                             description="Every day of the run has KPI rows in the "
                                                         "reporting database (no day missing).")],
              description="Publishes the run's days to the reporting database (attributed_orders, "
                          "attribution_ledger, kpi_daily, kpi_buckets_daily, member_daily, fact_* tables): "
                          "each day is replaced whole in one transaction, so readers never see a half-written "
                          "day and re-runs are idempotent; the request and chatroom facts, which every day's "
                          "KPIs read whole, are replaced whole with the run's snapshot.")
    def reporting_db(context: dg.AssetExecutionContext, order_attribution: pd.DataFrame,
                     conversation_facts: dict, kpi_daily: dict, reporting: ReportingDatabase):
        days = run_days(context)
        facts, snapshots = facts_to_publish(conversation_facts, days)
        store = reporting.store()
        written = store.publish_days(days, run_id=context.run.run_id,
                                     attribution=rows_of_days(order_attribution, days),
                                     kpis=kpi_daily["kpi_daily"], members=kpi_daily["member_daily"],
                                     buckets=kpi_daily.get("kpi_buckets_daily"),
                                     facts=facts, snapshots=snapshots)
        published = set(store.read_table("kpi_daily", days=days)["day"])
        missing = [d for d in days if d not in published]
        context.log.info(f"published {days_label(days)}: {written}")
        yield dg.MaterializeResult(metadata={**{f"rows_{k}": dg.MetadataValue.int(v) for k, v in written.items()},
                                             "days": days_label(days),
                                             "database": store.engine.url.render_as_string(hide_password=True)})
        yield dg.AssetCheckResult(check_name=DAYS_CHECK, passed=not missing,
                                  metadata={"days": len(days), "missing": ", ".join(map(str, missing[:10]))})

    return [reporting_db]
