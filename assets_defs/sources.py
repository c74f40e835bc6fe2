"""Source assets: each reads what is new or changed in one outside system since its watermark, checks it
against the data contract and upserts it into the lake (emails hashed as they are read). Rejects go to the
reporting database's `rejects` table; a read whose rejects pass the threshold writes nothing and stops the run.
"""

from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from assets_defs.common import OWNERS, forced
from chatsales.contract import SourceSetupError
from chatsales.extract.campaigns import plan_campaigns
from chatsales.extract.run import (
    Planned,
    plan_chat_platform,
    plan_file_orders,
    plan_pulled_orders,
    rejects_problem,
)
from chatsales.settings import redacted_url
from resources.chat_platform import ChatPlatformResource
from resources.lake import LakeResource
from resources.marketing_touchpoints import MarketingTouchpointsResource
from resources.reporting_db import ReportingDbResource
from resources.settings import SettingsResource
from resources.store_sales import StoreSalesResource
from resources.web_orders import WebOrdersResource

GROUP = "sources"
REJECTS_CHECK = "rejects_under_threshold"
LAKE_POOL = "lake"  # one extraction at a time writes the lake
# the sources reached over a network: a dropped connection or a 5xx burst beyond the client's own retries
NETWORK_RETRY = dg.RetryPolicy(max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@contextmanager
def _fails_at_once_when_set_up_wrong():
    """A source set up wrong fails the step without its network retries: they cannot help."""
    try:
        yield
    except SourceSetupError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error


def _rejects_check(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        REJECTS_CHECK,
        asset=name,
        blocking=True,
        description="Rows that break the data contract stay under CHATSALES_REJECT_THRESHOLD "
        "(a share of the rows read; a file rejected whole counts by its rows). "
        "Above it, nothing of the source is written and the run stops.",
    )


def finish(
    context: dg.AssetExecutionContext,
    planned: Planned,
    location: str,
    settings: SettingsResource,
    reporting_db: ReportingDbResource,
    reread: list[str] | None,
):
    """Record the rejects; stop (nothing written) when they pass the threshold; else write and report."""
    extracted = planned.extracted
    reporting_db.db.replace_rejects(extracted.source, extracted.rejects, run_id=context.run.run_id, locations=reread)
    problem = rejects_problem(extracted, settings.reject_threshold)
    check = {
        "rejects": extracted.reject_rows,
        "reject_share": round(extracted.reject_share, 6),
        "threshold": settings.reject_threshold,
    }
    if problem and not forced(context):
        yield dg.AssetCheckResult(
            check_name=REJECTS_CHECK, passed=False, metadata=check, severity=dg.AssetCheckSeverity.ERROR
        )
        raise dg.Failure(description=problem, allow_retries=False)
    if problem:
        context.log.warning(f"{problem.split(';')[0]}; written anyway: the run is forced")
    planned.write()
    if extracted.reject_rows:
        context.log.warning(
            f"{extracted.source}: {extracted.reject_rows:,} rows rejected (see table rejects); "
            "first reasons: " + "; ".join(extracted.rejects["reason"].astype(str).head(3))
        )
    changed_days = sorted(
        {d for a, b in zip(extracted.changes["first_day"], extracted.changes["last_day"]) for d in (a, b)}
    )
    metadata = {
        "location": dg.MetadataValue.text(location),
        "read": dg.MetadataValue.text(extracted.scope),
        "dagster/row_count": extracted.read_rows,
        "rejects": extracted.reject_rows,
        "reject_share": round(extracted.reject_share, 6),
        **{f"changed_{name}": n for name, n in extracted.changed.items()},
        "kinds_of_change": dg.MetadataValue.md(_changes_table(extracted.changes)),
        "days_changed_from": str(changed_days[0]) if changed_days else "none",
    }
    context.log.info(
        f"{extracted.source}: read {extracted.scope}; {extracted.read_rows:,} rows, "
        f"{sum(extracted.changed.values()):,} new or changed"
    )
    yield dg.MaterializeResult(
        metadata=metadata,
        check_results=[dg.AssetCheckResult(check_name=REJECTS_CHECK, passed=not problem, metadata=check)],
    )


def _changes_table(changes) -> str:
    if changes.empty:
        return "Nothing changed."
    by_kind = (
        changes.groupby("what")
        .agg(rows=("rows", "sum"), first_day=("first_day", "min"), last_day=("last_day", "max"))
        .reset_index()
    )
    return by_kind.to_markdown(index=False)


@dg.asset(
    group_name=GROUP,
    kinds={"sql"},
    owners=OWNERS,
    pool=LAKE_POOL,
    retry_policy=NETWORK_RETRY,
    check_specs=[_rejects_check("chat_platform")],
    description="The chat platform's rows touched since the last read (inside the late horizon): new "
    "messages, late ratings, questions, handlings and email fills, new chatrooms and visitors. "
    "Checked, emails hashed, upserted into the lake by reporting day.",
)
def chat_platform(
    context: dg.AssetExecutionContext,
    chat_platform: ChatPlatformResource,
    lake: LakeResource,
    settings: SettingsResource,
    reporting_db: ReportingDbResource,
):
    with _fails_at_once_when_set_up_wrong():
        planned = plan_chat_platform(
            chat_platform.url,
            lake.lake,
            lake.catalog,
            pii_key=settings.pii_key,
            horizon_days=settings.late_horizon_days,
            window_days=settings.window_days,
            run_id=context.run.run_id,
        )
    yield from finish(context, planned, redacted_url(chat_platform.url), settings, reporting_db, None)


@dg.asset(
    group_name=GROUP,
    kinds={"shopify"},
    owners=OWNERS,
    pool=LAKE_POOL,
    retry_policy=NETWORK_RETRY,
    check_specs=[_rejects_check("web_orders")],
    description="Web orders: the JSONL exports that are new or changed (or, with SHOPIFY_SHOP set, the "
    "orders the Shopify Admin API updated since the last pull). The newest version of each "
    "order wins, refunds and cancellations included.",
)
def web_orders(
    context: dg.AssetExecutionContext,
    web_orders: WebOrdersResource,
    lake: LakeResource,
    settings: SettingsResource,
    reporting_db: ReportingDbResource,
):
    with _fails_at_once_when_set_up_wrong():
        if web_orders.live:
            planned = plan_pulled_orders(
                lambda since: web_orders.pull(since, settings.currency, settings.max_amount),
                lake.lake,
                lake.catalog,
                pii_key=settings.pii_key,
                run_id=context.run.run_id,
            )
            reread = None
        else:
            planned = plan_file_orders(
                "web_orders",
                Path(web_orders.orders_dir),
                "*.jsonl",
                lambda names: web_orders.read_files(names, settings.currency, settings.max_amount),
                lake.lake,
                lake.catalog,
                pii_key=settings.pii_key,
                run_id=context.run.run_id,
            )
            reread = planned.extracted.details.get("files", [])
    yield from finish(context, planned, web_orders.location, settings, reporting_db, reread)


@dg.asset(
    group_name=GROUP,
    kinds={"csv"},
    owners=OWNERS,
    pool=LAKE_POOL,
    check_specs=[_rejects_check("store_sales")],
    description="In-store receipts from the POS CSV exports that are new or changed (a file can arrive "
    "days late, or again with corrections: the file read last wins, receipt by receipt).",
)
def store_sales(
    context: dg.AssetExecutionContext,
    store_sales: StoreSalesResource,
    lake: LakeResource,
    settings: SettingsResource,
    reporting_db: ReportingDbResource,
):
    with _fails_at_once_when_set_up_wrong():
        planned = plan_file_orders(
            "store_sales",
            Path(store_sales.store_sales_dir),
            "*.csv",
            lambda names: store_sales.read_files(names, settings.timezone, settings.currency, settings.max_amount),
            lake.lake,
            lake.catalog,
            pii_key=settings.pii_key,
            run_id=context.run.run_id,
        )
    yield from finish(
        context,
        planned,
        store_sales.store_sales_dir,
        settings,
        reporting_db,
        planned.extracted.details.get("files", []),
    )


@dg.asset(
    group_name=GROUP,
    kinds={"csv"},
    owners=OWNERS,
    pool=LAKE_POOL,
    check_specs=[_rejects_check("marketing_touchpoints")],
    description="Optional marketing campaigns and their clicks (campaigns.csv, campaign_clicks.csv), read "
    "again when either file changed; only the new lines when campaign_clicks.csv just grew.",
)
def marketing_touchpoints(
    context: dg.AssetExecutionContext,
    marketing_touchpoints: MarketingTouchpointsResource,
    lake: LakeResource,
    settings: SettingsResource,
    reporting_db: ReportingDbResource,
):
    with _fails_at_once_when_set_up_wrong():
        planned = plan_campaigns(
            Path(marketing_touchpoints.campaigns_dir),
            lake.lake,
            lake.catalog,
            pii_key=settings.pii_key,
            campaign_window_days=settings.campaign_window_days,
            run_id=context.run.run_id,
        )
    yield from finish(
        context,
        planned,
        marketing_touchpoints.campaigns_dir,
        settings,
        reporting_db,
        planned.extracted.details.get("files", []),
    )
