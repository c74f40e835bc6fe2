"""The late-data sensor: reads the sources when they changed, then re-runs exactly the published days the
changes affect, and says why.

Each tick does two cheap things:
1. Compares each source with what its last extraction saw, without reading content: the chat platform's
   signature (rows and newest instants inside the horizon), the order, POS and campaign folders' file stats.
   A source that moved gets an extraction run (`extract_sources`), and the tick stops there: the days are
   planned once the read has ended, so a day is not re-run once on half the changes and again on the rest.
2. Plans re-runs from the lake's change log and the ledger (chatsales.late_runs): each published day with a
   change newer than its publication, inside the horizon, in runs of consecutive days of `daily_pipeline`.
The cursor is small (a digest and two marks), whatever the history: per-file state lives in the catalog.
"""

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from chatsales.conversation_state import ROOMS
from chatsales.extract.chat import signature
from chatsales.extract.files import listing
from chatsales.late_runs import LateRun, plan_late_runs, sales_on_older_dialogues
from chatsales.settings import today_in
from pipelines.config import SETTINGS
from pipelines.jobs import DAYS, daily_pipeline, extract_sources
from pipelines.partitions import range_tags
from resources.chat_platform import ChatPlatformResource
from resources.lake import LakeResource
from resources.marketing_touchpoints import MarketingTouchpointsResource
from resources.reporting_db import ReportingDbResource
from resources.settings import SettingsResource
from resources.store_sales import StoreSalesResource
from resources.web_orders import WebOrdersResource

LATE_SENSOR = "late_data"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
TRIGGER_TAG = "chatsales/trigger"
REASONS_TAG = "chatsales/late_data"


def moved_sources(
    lake: LakeResource,
    chat_platform: ChatPlatformResource,
    web_orders: WebOrdersResource,
    store_sales: StoreSalesResource,
    marketing_touchpoints: MarketingTouchpointsResource,
) -> list[str]:
    """The sources whose content moved since their last extraction (no content is read)."""
    catalog = lake.catalog
    moved = []
    last = catalog.last_extraction("chat_platform")
    if last is None:
        moved.append("chat_platform")
    else:  # the same question the last extraction asked, of the same scope: has the answer moved?
        since = datetime.fromisoformat(last["watermark"].split("|")[0])
        if f"{since.isoformat()}|{signature(chat_platform.url, since)}" != last["watermark"]:
            moved.append("chat_platform")
    folders = {
        "store_sales": (store_sales.store_sales_dir, "*.csv"),
        "marketing_touchpoints": (marketing_touchpoints.campaigns_dir, "campaign*.csv"),
    }
    if web_orders.live:
        moved.append("web_orders")  # an incremental pull by updated_at is the cheapest question to ask
    else:
        folders["web_orders"] = (web_orders.orders_dir, "*.jsonl")
    for source, (folder, pattern) in folders.items():
        seen = catalog.files(source)[["name", "size", "mtime_ns"]]
        now = listing(Path(folder), pattern)
        if not now.merge(seen, how="left", indicator=True)["_merge"].eq("both").all():
            moved.append(source)
    return moved


def _request(run: LateRun) -> dg.RunRequest:
    tags = {TRIGGER_TAG: "late_data", REASONS_TAG: run.why[:900], **range_tags(run.days[0], run.days[-1])}
    return dg.RunRequest(
        run_key=run.run_key, job_name=daily_pipeline.name, asset_selection=_days_selection(), tags=tags
    )


def _days_selection() -> list[dg.AssetKey]:
    from pipelines.definitions import defs

    return sorted(DAYS.resolve(defs.resolve_asset_graph()))


@dg.sensor(
    name=LATE_SENSOR,
    jobs=[daily_pipeline, extract_sources],
    minimum_interval_seconds=SETTINGS.sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reads the sources when they change (late messages, ratings, questions, email fills, order "
    "updates and refunds, late or corrected POS files, campaign clicks), then re-runs exactly "
    f"the published days the changes affect, up to {SETTINGS.late_horizon_days} days back. "
    "Each tick's log names the days it re-runs or leaves alone, and why; each run's tags too.",
)
def late_data(
    context: dg.SensorEvaluationContext,
    lake: LakeResource,
    chat_platform: ChatPlatformResource,
    web_orders: WebOrdersResource,
    store_sales: StoreSalesResource,
    marketing_touchpoints: MarketingTouchpointsResource,
    reporting_db: ReportingDbResource,
    settings: SettingsResource,
):
    requests = []
    with reporting_db.db as db:
        if db.pipeline_days().empty:
            return dg.SensorResult(
                skip_reason="nothing published yet: the nightly schedule or a backfill comes first",
                cursor=context.cursor,
            )
    moved = moved_sources(lake, chat_platform, web_orders, store_sales, marketing_touchpoints)
    mark = lake.catalog.last_seq()
    reading = context.instance.get_runs(dg.RunsFilter(job_name=extract_sources.name, statuses=IN_FLIGHT), limit=1)
    if moved and reading:
        sources_line = (
            f"sources that changed since their last read: {', '.join(moved)}: run {reading[0].run_id} is reading them"
        )
    elif not moved:
        sources_line = "no source changed since its last read"
    else:
        digest = hashlib.sha1(f"{sorted(moved)}|{mark}|{context.cursor}".encode()).hexdigest()[:20]
        key = f"extract-{digest}"
        if context.instance.get_run_ids(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1):
            # this read was requested already and has ended: its changes are in the lake
            sources_line = f"sources that changed since their last read: {', '.join(moved)}: read once already"
        else:
            requests.append(
                dg.RunRequest(
                    run_key=key,
                    job_name=extract_sources.name,
                    tags={TRIGGER_TAG: "late_data", REASONS_TAG: "changed: " + ", ".join(moved)},
                )
            )
            sources_line = f"sources that changed since their last read: {', '.join(moved)}: reading them"
    context.log.info(sources_line)
    if requests or (moved and reading):  # the days come after the read: planned now, they would run twice
        skip = None if requests else f"{sources_line}; the days are planned once it has read them"
        return dg.SensorResult(run_requests=requests, skip_reason=skip, cursor=context.cursor)
    db = reporting_db.db
    try:
        published = db.pipeline_days()[["day", "lake_seq"]]
        horizon_first = today_in(settings.timezone).toordinal() - settings.late_horizon_days
        recent = published[[d.toordinal() >= horizon_first for d in published["day"]]]
        changes = lake.catalog.changes_since(int(recent["lake_seq"].min()) if len(recent) else mark)
        ledger_mark = db.latest_ledger_change()
        stale = pd.DataFrame({"what": pd.Series(dtype="str"), "day": pd.Series(dtype="object")})
        if len(recent):
            oldest = db.read_table("pipeline_days", days=list(recent["day"]))["computed_at"].min()
            sold, computed = db.attribution_changes_since(
                oldest.to_pydatetime(), ledger_mark, from_day=date.fromordinal(horizon_first)
            )
            if len(sold):
                rooms = lake.lake.read_matching(ROOMS, "chatroom_id", sold["chatroom_id"])
                stale = sales_on_older_dialogues(
                    sold, rooms[["chatroom_id", "established_at"]], computed, settings.timezone
                )
        plan = plan_late_runs(changes, published, stale, today_in(settings.timezone), settings.late_horizon_days)
    finally:
        db.dispose()
    context.log.info(f"{len(changes)} change(s) since the oldest publication in the horizon: {plan.summary()}")
    requests += [_request(run) for run in plan.runs]
    cursor = json.dumps({"lake_seq": mark, "ledger": str(ledger_mark), "moved": sorted(moved)})
    if not requests:
        return dg.SensorResult(skip_reason=f"{sources_line}; {plan.summary()}", cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)
