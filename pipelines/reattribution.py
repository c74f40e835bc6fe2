"""The re-attribution job: launched from the Launchpad when a rule or a source changes.

It reads the sources as they are now, attributes every order with the window asked for, and compares the
days asked for with what the reporting database holds: orders gained, lost and moved between members,
and the sales delta per member, as a table in the run's metadata. Without `dry_run` it then publishes
those days (attribution, ledger, facts, KPIs) exactly as the nightly run would, in one transaction per
publication; with `dry_run` it only reports.
"""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from chatsales.attribution import attribute
from chatsales.attribution_changes import attribution_diff
from chatsales.customer_keys import all_orders
from chatsales.facts import build_facts, facts_to_publish
from chatsales.kpis.daily import daily_tables
from chatsales.publication import attributed_order_rows, rows_of_days
from chatsales.settings import Settings
from resources.pipeline_settings import PipelineSettings
from resources.reporting_resource import ReportingDatabase
from resources.sources import ChatDatabase, StoreSales, WebOrders

REATTRIBUTE_JOB = "reattribute"
REATTRIBUTE_OP = "reattribute_orders"


class ReattributeConfig(dg.Config):
    from_day: str = Field(description="First reporting day to re-attribute (YYYY-MM-DD, reporting timezone).")
    to_day: str = Field(description="Last reporting day, inclusive (YYYY-MM-DD).")
    window_days: int = Field(default=14, ge=0, description="Attribution deadline in days for this run.")
    dry_run: bool = Field(default=True, description="Only report the diff; publish nothing.")

    def days(self) -> list[date]:
        first, last = date.fromisoformat(self.from_day), date.fromisoformat(self.to_day)
        if last < first:
            raise ValueError(f"re-attribution: to_day {last} is before from_day {first}")
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _markdown(table: pd.DataFrame, limit: int = 50) -> str:
    if table.empty:
        return "No member's attribution changes."
    shown = table.head(limit).round(2)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]   # ≤ 50 lines
    more = f"\n\n…and {len(table) - limit} more members" if len(table) > limit else ""
    return "\n".join(lines) + more


@dg.op(name=REATTRIBUTE_OP, description="Re-attributes a date range with the given window; reports the diff "
                                          "(orders gained, lost, moved; sales delta per member) and, unless "
                                          "dry_run, publishes the days.")
def reattribute_op(context: dg.OpExecutionContext, config: ReattributeConfig, chat_db: ChatDatabase,
                   orders: WebOrders, pos: StoreSales, reporting: ReportingDatabase,
                   settings: PipelineSettings) -> dg.Output:
    days = config.days()
    chat = chat_db.read().frames
    web, store_sales = orders.read(settings.currency).frames, pos.read(settings.timezone, settings.currency).frames
    every_order = all_orders(web["orders"], store_sales["orders"])
    rows = attributed_order_rows(every_order, attribute(every_order, chat, config.window_days),
                                 timezone=settings.timezone, pii_key=settings.pii_key)
    new = rows_of_days(rows, days)
    store = reporting.store()
    try:
        old = store.read_table("attributed_orders", days=days)
        summary, per_member = attribution_diff(new, old)
        written = {}
        if not config.dry_run:
            lines = all_orders(web["order_lines"], store_sales["order_lines"])
            facts = build_facts(chat, rows, settings.timezone, order_lines=lines).tables()
            kpis = daily_tables(facts, chat["members"], days, settings.timezone)
            day_facts, snapshots = facts_to_publish(facts, days)
            written = store.publish_days(days, run_id=context.run.run_id, attribution=new,
                                         kpis=kpis["kpi_daily"], members=kpis["member_daily"],
                                         buckets=kpis["kpi_buckets_daily"], facts=day_facts, snapshots=snapshots)
    finally:
        store.dispose()
    verb = "would change" if config.dry_run else "changed"
    context.log.info(f"re-attribution {days[0]}..{days[-1]} (window {config.window_days} d, "
                     f"{'dry run' if config.dry_run else 'published'}): {verb} {summary}")
    metadata = {k: dg.MetadataValue.float(v) if isinstance(v, float) else dg.MetadataValue.int(v)
                for k, v in summary.items()}
    metadata.update(days=f"{days[0]}..{days[-1]} ({len(days)} days)", window_days=config.window_days,
                    dry_run=config.dry_run, members=dg.MetadataValue.md(_markdown(per_member)),
                    **{f"rows_{k}": v for k, v in written.items()})
    return dg.Output(summary, metadata=metadata)


def reattribution_job(settings: Settings) -> dg.JobDefinition:
    """The job, with the Launchpad pre-filled: the last 30 days, the current window, a dry run."""
    yesterday = date.today() - timedelta(days=1)
    first = max(yesterday - timedelta(days=29), settings.start_date or yesterday - timedelta(days=29))

    @dg.job(name=REATTRIBUTE_JOB, executor_def=dg.in_process_executor,
            description="Ad hoc re-attribution of a date range (window, dry run): the diff of orders gained, "
                        "lost and moved between members and the sales delta per member is in the run's "
                        "metadata; without dry_run the range is published like a nightly run.",
            config=dg.RunConfig(ops={REATTRIBUTE_OP: ReattributeConfig(
                from_day=str(first), to_day=str(yesterday), window_days=settings.window_days, dry_run=True)}),
            tags={"chatsales/trigger": "reattribution"})
    def reattribute():
        reattribute_op()

    return reattribute
