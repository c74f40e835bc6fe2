"""The publication: each day of the run replaced in the reporting database in one transaction, unless a
source fed it far fewer rows than it holds."""

from datetime import timedelta

import dagster as dg
import pandas as pd

from assets_defs.common import DAILY, forced, per_day, run_days, state_rebuilt
from assets_defs.kpis import headline_figures
from chatsales import days as chain
from chatsales.lake.datasets import CLICKS
from chatsales.reporting.store import PublicationRefused
from pipelines.config import SETTINGS
from resources.lake import LakeResource
from resources.reporting_db import ReportingDbResource
from resources.settings import SettingsResource

DAYS_CHECK = "every_day_published"
DROP_CHECK = "no_source_collapsed"
PUSH_POOL = "reporting_db"
# yesterday's numbers are due by CHATSALES_PUBLISHED_BY (07:00) in the reporting time zone: a publication since
# the midnight before the deadline keeps the asset fresh; the UI shows it late otherwise
_hour, _minute = (int(part) for part in SETTINGS.published_by.split(":"))
PUBLISHED_BY = dg.FreshnessPolicy.cron(
    deadline_cron=f"{_minute} {_hour} * * *",
    lower_bound_delta=timedelta(hours=_hour, minutes=_minute),
    timezone=SETTINGS.timezone,
)


def source_counts(days: chain.DayRange, identified: dict, activity: pd.DataFrame, lake: LakeResource) -> pd.DataFrame:
    """Per day, the rows each source fed it: what a publication compares with the published day."""
    orders = identified["orders"]
    clicks = lake.lake.read_days(CLICKS, days.first, days.last)
    click_days = clicks["clicked_at"].dt.tz_convert(days.timezone).dt.date
    index = pd.Index(days.days, name="day")
    counts = pd.DataFrame(
        {
            "web_orders": orders[orders["sales_channel"] == "web"].groupby("day").size(),
            "store_receipts": orders[orders["sales_channel"] == "store"].groupby("day").size(),
            "messages": activity.groupby("day").size(),
            "campaign_clicks": click_days.value_counts(),
        }
    ).reindex(index)
    return counts.fillna(0).astype("int64").reset_index()


def publish_range(
    lake: LakeResource,
    db,
    days: chain.DayRange,
    *,
    run_id: str,
    rows: pd.DataFrame,
    activity: pd.DataFrame,
    facts: dict,
    tables: dict,
    campaign_orders: pd.DataFrame,
    counts: pd.DataFrame,
    max_drop_pct: float,
    force: bool,
    rebuild_state: bool = False,
) -> dict[str, int]:
    """Everything of the days, and the state facts that changed, in one transaction (the asset and the
    re-attribution job both publish this way)."""
    state = chain.state_facts(lake.lake, chain.members(lake.lake), days.timezone)
    return db.publish_days(
        days.days,
        run_id=run_id,
        lake_seq=lake.catalog.last_seq(),
        tables={"attributed_orders": rows, **tables, "campaign_orders": campaign_orders},
        day_facts={"messages": activity, **facts},
        state_facts=state,
        rebuild_state=rebuild_state,
        counts=counts,
        max_drop_pct=max_drop_pct,
        force=force,
    )


@dg.asset(
    **DAILY,
    group_name="reporting",
    kinds={"sql"},
    pool=PUSH_POOL,
    check_specs=[
        dg.AssetCheckSpec(
            DAYS_CHECK,
            asset="reporting_db",
            description="Every day of the run has its KPI rows in the reporting database.",
        ),
        dg.AssetCheckSpec(
            DROP_CHECK,
            asset="reporting_db",
            blocking=True,
            description="No source fed a day far fewer rows than the published day "
            "holds (CHATSALES_MAX_DAY_DROP_PCT): otherwise nothing of "
            "the run is replaced.",
        ),
    ],
    metadata={"dashboard": dg.MetadataValue.url(SETTINGS.dashboard_url)},
    freshness_policy=PUBLISHED_BY,
    description="Publishes the run's days to the reporting database in one transaction: attributed_orders "
    "and the ledger of what changed, kpi_daily, kpi_buckets_daily, member_daily, product_daily, "
    "campaign_orders, the day's facts, and the chatroom and request facts that changed. A reader "
    "never sees a half-written day; re-runs are idempotent. A source that vanished or collapsed "
    "against the published day stops it (the tag chatsales/force=true publishes anyway).",
)
def reporting_db(
    context: dg.AssetExecutionContext,
    chat_activity: pd.DataFrame,
    order_attribution: pd.DataFrame,
    customer_identities: dict,
    conversation_facts: dict,
    kpi_daily: dict,
    campaign_attribution: pd.DataFrame,
    lake: LakeResource,
    reporting_db: ReportingDbResource,
    settings: SettingsResource,
):
    days = run_days(context)
    db = reporting_db.db
    counts = source_counts(days, customer_identities, chat_activity, lake)
    try:
        written = publish_range(
            lake,
            db,
            days,
            run_id=context.run.run_id,
            rows=order_attribution,
            activity=chat_activity,
            facts=conversation_facts,
            tables=kpi_daily,
            campaign_orders=campaign_attribution,
            counts=counts,
            max_drop_pct=settings.max_day_drop_pct,
            force=forced(context),
            rebuild_state=state_rebuilt(context),
        )
    except PublicationRefused as refused:
        yield dg.AssetCheckResult(check_name=DROP_CHECK, passed=False, metadata={"refused": str(refused)})
        raise dg.Failure(description=f"reporting_db: {refused}", allow_retries=False) from None
    published = db.published_days(among=days.days)
    missing = [d for d in days.days if d not in published]
    headlines = headline_figures(days, order_attribution, kpi_daily["kpi_daily"])
    per_day(
        context,
        {
            row["day"]: {**headlines[row["day"]], **{k: row[k] for k in counts.columns if k != "day"}}
            for row in counts.to_dict("records")
        },
    )
    context.log.info(f"published {days.label()} to {reporting_db.shown_url}: {written}")
    yield dg.MaterializeResult(
        metadata={"database": reporting_db.shown_url, "dashboard": dg.MetadataValue.url(SETTINGS.dashboard_url)},
        check_results=[
            dg.AssetCheckResult(
                check_name=DAYS_CHECK, passed=not missing, metadata={"missing": ", ".join(map(str, missing[:10]))}
            ),
            dg.AssetCheckResult(check_name=DROP_CHECK, passed=True),
        ],
    )
