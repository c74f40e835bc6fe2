"""The re-attribution job, launched from the Launchpad when a rule or the window changes.

It attributes the orders of a date range again, with the window asked for, through the same functions as
the nightly assets, and compares with what the reporting database holds: orders gained, lost and moved
between members, the sales delta per member, and the changed orders themselves (published to
`reattribution_changes`, keyed by run, and shown in the run's metadata). Without `dry_run` it then publishes
the range like a nightly run.
"""

from datetime import date, timedelta

import dagster as dg
import pandas as pd
from pydantic import Field

from assets_defs.attribution import attribute_range
from assets_defs.facts import facts_of_range
from assets_defs.kpis import kpis_of_range
from assets_defs.reporting import publish_range, source_counts
from chatsales import days as chain
from chatsales.attribution_changes import attribution_diff, changed_orders
from chatsales.extract.changes import local_dates
from chatsales.settings import today_in
from pipelines.config import SETTINGS
from resources.lake import LakeResource
from resources.reporting_db import ReportingDbResource
from resources.settings import SettingsResource

REATTRIBUTE_JOB = "reattribute"
REATTRIBUTE_OP = "reattribute_orders"
SHOWN = 50


class ReattributeConfig(dg.Config):
    from_day: str = Field(description="First reporting day to re-attribute (YYYY-MM-DD, reporting time zone).")
    to_day: str = Field(description="Last reporting day, inclusive (YYYY-MM-DD).")
    window_days: int = Field(default=SETTINGS.window_days, description="Attribution window in days (at least 1).")
    dry_run: bool = Field(default=True, description="Only report what would change; publish nothing.")

    def checked(self, timezone: str) -> chain.DayRange:
        """The range, or a one-line Failure naming the field and what it accepts."""
        try:
            first, last = date.fromisoformat(self.from_day), date.fromisoformat(self.to_day)
        except ValueError:
            raise dg.Failure(description=f"re-attribution: from_day={self.from_day!r}, to_day={self.to_day!r}: "
                                         "use dates as YYYY-MM-DD", allow_retries=False) from None
        problems = [(last < first, f"to_day {last} is before from_day {first}"),
                    (self.window_days < 1, f"window_days={self.window_days}: must be at least 1"),
                    (last >= today_in(timezone), f"to_day {last} is not a complete day yet (today is "
                                                 f"{today_in(timezone)} in {timezone})")]
        for bad, text in problems:
            if bad:
                raise dg.Failure(description=f"re-attribution: {text}", allow_retries=False)
        return chain.DayRange(first, last, timezone)


def _markdown(frame: pd.DataFrame, what: str) -> str:
    if frame.empty:
        return f"No {what}."
    shown = frame.head(SHOWN).to_markdown(index=False, floatfmt=".2f")
    rest = len(frame) - SHOWN
    return shown + (f"\n\n…and {rest:,} more {what} (all of them: table reattribution_changes)" if rest > 0 else "")


@dg.op(name=REATTRIBUTE_OP, description="Re-attributes a date range with the given window; reports the diff "
                                        "(orders gained, lost, moved; sales delta per member; the changed "
                                        "orders) and, unless dry_run, publishes the days.")
def reattribute_orders(context: dg.OpExecutionContext, config: ReattributeConfig, lake: LakeResource,
                       reporting_db: ReportingDbResource, settings: SettingsResource) -> dg.Output:
    days = config.checked(settings.timezone)
    db = reporting_db.db
    orders, lines = chain.orders_of(lake.lake, days)
    rooms, _ = chain.conversation_state(lake.lake)
    orders = orders.assign(day=local_dates(orders["placed_at"], days.timezone).dt.date)
    identified = {"orders": orders, "candidates": chain.identities(orders, lake.lake, rooms),
                  "order_lines": lines.assign(day=local_dates(lines["placed_at"], days.timezone).dt.date)}
    rows = attribute_range(lake, days, identified, config.window_days)
    old = db.read_table("attributed_orders", days=days.days)
    summary, per_member = attribution_diff(rows, old)
    people = chain.members(lake.lake).set_index("member_id")
    per_member.insert(1, "name", (people["first_name"] + " " + people["last_name"]).reindex(
        per_member["member_id"]).to_numpy())
    changes = changed_orders(rows, old)
    db.record_reattribution(changes.assign(run_id=context.run.run_id, window_days=config.window_days,
                                           dry_run=config.dry_run, computed_at=pd.Timestamp.now(tz="UTC")))
    written = {}
    if not config.dry_run:
        facts = facts_of_range(lake, days, rows, identified["order_lines"])
        tables = kpis_of_range(lake, db, days, facts, rows)
        activity = chain.chat_activity(lake.lake, rooms, days)
        written = publish_range(lake, db, days, run_id=context.run.run_id, rows=rows, activity=activity,
                                facts=facts, tables=tables,
                                campaign_orders=chain.campaign_orders(lake.lake, rows, days,
                                                                      settings.campaign_window_days),
                                counts=source_counts(days, identified, activity, lake),
                                max_drop_pct=settings.max_day_drop_pct, force=False)
    verb = "would change" if config.dry_run else "changed"
    context.log.info(f"re-attribution of {days.label()} with a {config.window_days}-day window "
                     f"({'dry run' if config.dry_run else 'published'}) {verb}: "
                     + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in summary.items()))
    moved = changes[changes["change"].isin(["gained", "lost", "moved"])]
    metadata = {**summary, "days": days.label(), "window_days": config.window_days, "dry_run": config.dry_run,
                "members": dg.MetadataValue.md(_markdown(per_member, "members")),
                "changed_orders": dg.MetadataValue.md(_markdown(moved, "changed orders")),
                **{f"rows_{k}": v for k, v in written.items()}}
    return dg.Output(summary, metadata=metadata)


def _default_range() -> tuple[str, str]:
    yesterday = today_in(SETTINGS.timezone) - timedelta(days=1)
    first = max(yesterday - timedelta(days=29), SETTINGS.partition_start)
    return str(first), str(yesterday)


@dg.job(name=REATTRIBUTE_JOB,
        description="Ad hoc re-attribution of a date range with another window, as a dry run or for real: the "
                    "run's metadata holds the diff (orders gained, lost, moved; sales delta per member; the changed "
                    "orders), and table reattribution_changes every changed order.",
        config=dg.RunConfig(ops={REATTRIBUTE_OP: ReattributeConfig(from_day=_default_range()[0],
                                                                   to_day=_default_range()[1])}),
        tags={"chatsales/trigger": "reattribution"})
def reattribute():
    reattribute_orders()
