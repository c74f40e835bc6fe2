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
from pydantic import Field, model_validator

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


def config_problem(from_day: str, to_day: str, window_days: int, timezone: str | None) -> str | None:
    """What is wrong with a re-attribution's config, in one line naming the field, or None. With a time zone,
    the range must also end before today there."""
    try:
        first, last = date.fromisoformat(from_day), date.fromisoformat(to_day)
    except ValueError:
        return f"re-attribution: from_day={from_day!r}, to_day={to_day!r}: use dates as YYYY-MM-DD"
    today = today_in(timezone) if timezone else date.max
    problems = [
        (last < first, f"to_day {last} is before from_day {first}"),
        (window_days < 1, f"window_days={window_days}: must be at least 1"),
        (last >= today, f"to_day {last} is not a complete day yet (today is {today} in {timezone})"),
    ]
    return next((f"re-attribution: {text}" for bad, text in problems if bad), None)


class ReattributeConfig(dg.Config):
    from_day: str = Field(description="First reporting day to re-attribute (YYYY-MM-DD, reporting time zone).")
    to_day: str = Field(description="Last reporting day, inclusive (YYYY-MM-DD), before today.")
    window_days: int = Field(default=SETTINGS.window_days, ge=1, description="Attribution window in days (at least 1).")
    dry_run: bool = Field(default=True, description="Only report what would change; publish nothing.")

    @model_validator(mode="after")
    def _a_range_in_order(self):
        problem = config_problem(self.from_day, self.to_day, self.window_days, None)
        if problem:
            raise ValueError(problem)
        return self

    def checked(self, timezone: str) -> chain.DayRange:
        """The range, or a one-line Failure naming the field and what it accepts."""
        problem = config_problem(self.from_day, self.to_day, self.window_days, timezone)
        if problem:
            raise dg.Failure(description=problem, allow_retries=False)
        return chain.DayRange(date.fromisoformat(self.from_day), date.fromisoformat(self.to_day), timezone)


def _markdown(frame: pd.DataFrame, what: str) -> str:
    """At most SHOWN rows as a markdown table, amounts with two decimals and ids exactly as stored (no number
    parsing: an id like 00123 keeps its zeros), then how many more there are."""
    if frame.empty:
        return f"No {what}."
    shown = frame.head(SHOWN).copy()
    amounts = [c for c in shown.columns if pd.api.types.is_float_dtype(shown[c])]
    counts = [c for c in shown.columns if pd.api.types.is_integer_dtype(shown[c])]
    shown[amounts] = shown[amounts].map(lambda v: f"{v:,.2f}")
    table = (
        shown.astype(object)
        .where(shown.notna(), "")
        .astype("str")
        .to_markdown(
            index=False,
            disable_numparse=True,
            colalign=["right" if c in amounts or c in counts else "left" for c in shown.columns],
        )
    )
    rest = len(frame) - SHOWN
    return table + (f"\n\n…and {rest:,} more {what} (all of them: table reattribution_changes)" if rest > 0 else "")


def shown_changes(changes: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """The orders gained, lost or moved, as the run's page shows them: members by name, amounts in cents."""
    shown = changes[changes["change"].isin(["gained", "lost", "moved"])]
    return shown.assign(
        old_member=shown["old_member_id"].map(names).fillna(shown["old_member_id"]),
        new_member=shown["new_member_id"].map(names).fillna(shown["new_member_id"]),
        total=shown["total"].round(2),
    )[
        [
            "order_id",
            "sales_channel",
            "day",
            "change",
            "old_chatroom_id",
            "old_member",
            "new_chatroom_id",
            "new_member",
            "old_reason",
            "new_reason",
            "total",
        ]
    ]


@dg.op(
    name=REATTRIBUTE_OP,
    description="Re-attributes a date range with the given window; reports the diff "
    "(orders gained, lost, moved; sales delta per member; the changed "
    "orders) and, unless dry_run, publishes the days.",
)
def reattribute_orders(
    context: dg.OpExecutionContext,
    config: ReattributeConfig,
    lake: LakeResource,
    reporting_db: ReportingDbResource,
    settings: SettingsResource,
) -> dg.Output:
    days = config.checked(settings.timezone)
    db = reporting_db.db
    orders, lines = chain.orders_of(lake.lake, days)
    orders = orders.assign(day=local_dates(orders["placed_at"], days.timezone).dt.date)
    identified = {
        "orders": orders,
        "candidates": chain.identities(orders, lake.lake, lake.catalog),
        "order_lines": lines.assign(day=local_dates(lines["placed_at"], days.timezone).dt.date),
    }
    rows = attribute_range(lake, days, identified, config.window_days)
    old = db.read_table("attributed_orders", days=days.days)
    summary, per_member = attribution_diff(rows, old)
    people = chain.members(lake.lake).set_index("member_id")
    names = people["first_name"] + " " + people["last_name"]
    per_member.insert(1, "name", names.reindex(per_member["member_id"]).to_numpy())
    changes = changed_orders(rows, old)
    db.record_reattribution(
        changes.assign(
            run_id=context.run.run_id,
            window_days=config.window_days,
            dry_run=config.dry_run,
            computed_at=pd.Timestamp.now(tz="UTC"),
        )
    )
    written = {}
    if not config.dry_run:
        facts = facts_of_range(lake, days, rows, identified["order_lines"])
        tables = kpis_of_range(lake, db, days, facts, rows)
        activity = chain.chat_activity(lake.lake, days)
        written = publish_range(
            lake,
            db,
            days,
            run_id=context.run.run_id,
            rows=rows,
            activity=activity,
            facts=facts,
            tables=tables,
            campaign_orders=chain.campaign_orders(lake.lake, rows, days, settings.campaign_window_days),
            counts=source_counts(days, identified, activity, lake),
            max_drop_pct=settings.max_day_drop_pct,
            force=False,
        )
    verb = "would change" if config.dry_run else "changed"
    context.log.info(
        f"re-attribution of {days.label()} with a {config.window_days}-day window "
        f"({'dry run' if config.dry_run else 'published'}) {verb}: "
        + ", ".join(
            f"{k.replace('_', ' ')} {v:,.2f}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v:,}"
            for k, v in summary.items()
        )
    )
    metadata = {
        **summary,
        "days": days.label(),
        "window_days": config.window_days,
        "dry_run": config.dry_run,
        "members": dg.MetadataValue.md(_markdown(per_member, "members")),
        "changed_orders": dg.MetadataValue.md(_markdown(shown_changes(changes, names), "changed orders")),
        **{f"rows_{k}": v for k, v in written.items()},
    }
    return dg.Output(summary, metadata=metadata)


def _default_range() -> tuple[str, str]:
    yesterday = today_in(SETTINGS.timezone) - timedelta(days=1)
    first = min(max(yesterday - timedelta(days=29), SETTINGS.partition_start), yesterday)
    return str(first), str(yesterday)


@dg.graph
def _reattribute():
    reattribute_orders()


def _refuse_bad_config(run_config: dict) -> dict:
    """The job's config mapping: Dagster runs it when a run is launched, before the run exists, so a bad range
    or window is refused at launch with one line (the Launchpad's own check only knows types)."""
    values = run_config["ops"][REATTRIBUTE_OP]["config"]
    problem = config_problem(values["from_day"], values["to_day"], values["window_days"], SETTINGS.timezone)
    if problem:
        raise dg.DagsterInvalidConfigError(problem, [], run_config)
    return run_config


_DESCRIPTION = (
    "Ad hoc re-attribution of a date range with another window, as a dry run or for real: the run's "
    "metadata holds the diff (orders gained, lost, moved; sales delta per member; the changed orders), "
    "and table reattribution_changes every changed order."
)
_TAGS = {"chatsales/trigger": "reattribution"}
# the Launchpad opens on the last 30 complete days with the configured window (the schema of a job given
# defaults, which the config mapping keeps)
_PREFILLED = _reattribute.to_job(
    name=REATTRIBUTE_JOB,
    executor_def=dg.in_process_executor,
    config=dg.RunConfig(
        ops={REATTRIBUTE_OP: ReattributeConfig(from_day=_default_range()[0], to_day=_default_range()[1])}
    ),
)
reattribute = _reattribute.to_job(
    name=REATTRIBUTE_JOB,
    description=_DESCRIPTION,
    tags=_TAGS,
    executor_def=dg.in_process_executor,
    config=dg.ConfigMapping(config_fn=_refuse_bad_config, config_schema=_PREFILLED.config_mapping.config_schema),
)
