"""The late-data sensor: re-runs exactly the published days that late data changes, and says why.

Its cursor is the sources' watermarks (chatsales.watermarks): what arrived since the last tick is mapped to
the days it affects and planned into runs (chatsales.late_runs). The first tick only records where the
sources are. Each run request selects the changed sources' assets and everything downstream of them, for
one day or a range of consecutive days (one run), tagged with the reasons; the tick log says the same.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from chatsales.late_runs import LateRun, plan_late_runs
from chatsales.settings import Settings
from chatsales.watermarks import (Watermarks, changed_files, empty_changes, file_hashes, order_changes,
                                  sales_on_older_dialogues, scan_chat)
from resources.pipeline_settings import PipelineSettings
from resources.reporting_db import ReportingStore
from resources.reporting_resource import ReportingDatabase
from resources.sources import ChatDatabase, StoreSales, WebOrders

LATE_SENSOR = "late_data"
TRIGGER_TAG = "chatsales/trigger"
REASONS_TAG = "chatsales/late_data"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _scan(old: Watermarks, chat_db: ChatDatabase, orders: WebOrders, pos: StoreSales, store: ReportingStore,
          settings: PipelineSettings) -> tuple[Watermarks, pd.DataFrame]:
    tz = settings.timezone
    chat, changes = scan_chat(chat_db.url, old.chat, tz)
    parts = [changes]
    new = Watermarks(chat=chat, store_files=file_hashes(pos.store_sales_dir, "*.csv"),
                     published_at=old.published_at)
    if orders.shopify_shop:
        updated = orders.read_updated_since(settings.currency, old.orders_updated_at)
        new.orders_updated_at = (str(updated["updated_at"].max()) if len(updated) else old.orders_updated_at)
        parts.append(order_changes(updated, "web_orders", "order_update", tz))
    else:
        new.order_files = file_hashes(orders.orders_dir, "*.jsonl")
        files = changed_files(old.order_files, new.order_files)
        if files:
            read = orders.read(settings.currency, only=set(files))
            parts.append(order_changes(read.frames["orders"], "web_orders", "order_file", tz))
    files = changed_files(old.store_files, new.store_files)
    if files:
        read = pos.read(tz, settings.currency, only=set(files))
        parts.append(order_changes(read.frames["orders"], "store_sales", "store_file", tz))
    since = pd.Timestamp(old.published_at).to_pydatetime() if old.published_at else None
    latest = store.latest_ledger_change()
    sold, rooms, computed = store.attribution_changes_since(since, latest)   # read-then-bound: no race
    new.published_at = str(latest) if latest is not None else old.published_at
    parts.append(sales_on_older_dialogues(sold, rooms, computed, tz))
    return new, pd.concat([empty_changes(), *parts], ignore_index=True)


def _request(run: LateRun, selection_of: dict[tuple[str, ...], list[dg.AssetKey]]) -> dg.RunRequest:
    tags = {TRIGGER_TAG: "late_data", REASONS_TAG: run.why[:900]}
    first, last = str(run.days[0]), str(run.days[-1])
    if len(run.days) > 1:
        return dg.RunRequest(run_key=run.run_key, asset_selection=selection_of[run.sources],
                             tags={**tags, RANGE_START: first, RANGE_END: last})
    return dg.RunRequest(run_key=run.run_key, partition_key=first, asset_selection=selection_of[run.sources],
                         tags=tags)


def late_data_sensor(job: dg.UnresolvedAssetJobDefinition, config: Settings) -> dg.SensorDefinition:

    @dg.sensor(name=LATE_SENSOR, job=job, minimum_interval_seconds=config.sensor_interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Watches the sources for late data (new messages in old chatrooms, late ratings, "
                           "questions and email fills, order updates and refunds, late or corrected POS files, "
                           "sales on older dialogues) and re-runs exactly the published days they change, "
                           f"up to {config.late_horizon_days} days back. Its cursor holds the sources' "
                           "watermarks; each run's tags say why it was requested.")
    def late_data(context: dg.SensorEvaluationContext, chat_db: ChatDatabase, orders: WebOrders,
                  pos: StoreSales, reporting: ReportingDatabase, settings: PipelineSettings):
        old = Watermarks.from_json(context.cursor)
        store = reporting.store()
        try:
            new, changes = _scan(old or Watermarks(), chat_db, orders, pos, store, settings)
            published = store.published_days() if old is not None else set()
        finally:
            store.dispose()
        if old is None:
            context.log.info("first tick: watermarks recorded, nothing to compare with yet")
            return dg.SensorResult(skip_reason="watermarks recorded (first tick)", cursor=new.to_json())
        today = datetime.now(ZoneInfo(settings.timezone)).date()
        tick = hashlib.sha1(new.to_json().encode()).hexdigest()
        plan = plan_late_runs(changes, published, today, config.late_horizon_days, tick)
        context.log.info(f"{len(changes)} change(s) found: {plan.summary()}")
        if not plan.runs:
            return dg.SensorResult(skip_reason=plan.summary(), cursor=new.to_json())
        graph = context.repository_def.asset_graph
        selection_of = {}
        for run in plan.runs:
            if run.sources not in selection_of:
                roots = dg.AssetSelection.assets(*run.sources)     # a source asset, or kpi_daily
                selection_of[run.sources] = sorted(roots.downstream().resolve(graph))
        return dg.SensorResult(run_requests=[_request(run, selection_of) for run in plan.runs],
                               cursor=new.to_json())

    return late_data
