"""Running the pipeline as the data team's nights go, in process: the nightly partition, then the late-data
sensor's ticks and the runs they request, until it has nothing more to do. Shared by the tests of late data,
of day-local equality and of multi-run backfills."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from chatsales.demo.arrivals import sources_as_of
from chatsales.facts import ORDER
from chatsales.settings import load_settings
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB, SNAPSHOTS_JOB
from pipelines.partitions import range_tags
from pipelines.sensors import LATE_SENSOR

VOLATILE = ["run_id", "computed_at"]
PUBLISHED = {
    "attributed_orders": ["sales_channel", "order_id"],
    "kpi_daily": ["day", "kpi", "dimension", "dimension_value"],
    "kpi_buckets_daily": ["day", "chart", "bucket", "dimension", "dimension_value"],
    "member_daily": ["day", "member_id"],
    "product_daily": ["day", "product_id"],
    "campaign_orders": ["sales_channel", "order_id"],
    "campaign_stats": ["level", "kind", "campaign_id"],
    "customer_segments": ["customer_hash", "segment_type", "segment"],
    "customer_trends": ["customer_hash"],
    "product_mix": ["sales_channel", "store_id", "product_id"],
    "pipeline_days": ["day"],
}


def settings_for(home: Path, sources: dict[str, Path], **extra: str):
    return load_settings(
        {
            "CHATSALES_HOME": str(home),
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{sources['chat_db']}",
            "CHATSALES_ORDERS_DIR": str(sources["orders"]),
            "CHATSALES_STORE_SALES_DIR": str(sources["store_sales"]),
            "CHATSALES_CAMPAIGNS_DIR": str(sources["campaigns"]),
            "CHATSALES_REPORTING_DB_URL": f"sqlite:///{home / 'reporting.db'}",
            **extra,
        }
    )


def demo_sources(demo) -> dict[str, Path]:
    return {
        "chat_db": demo.chat_db_path,
        "orders": demo.orders_dir,
        "store_sales": demo.store_sales_dir,
        "campaigns": demo.campaigns_dir,
    }


def run(
    defs,
    instance,
    *,
    first: date | None = None,
    last: date | None = None,
    partition: str | None = None,
    job: str = DAILY_JOB,
    selection=None,
    tags=None,
    run_config=None,
):
    tags = dict(tags or {})
    if first is not None:
        tags.update(range_tags(first, last))
    config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **(run_config or {})}
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        partition_key=partition,
        asset_selection=selection,
        tags=tags,
        run_config=config,
        raise_on_error=False,
    )
    failures = [
        _explain(e.event_specific_data.error) for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ]
    assert result.success, failures
    return result


def _explain(error) -> str:
    while error.cause is not None:
        error = error.cause
    ours = [frame for frame in error.stack if "/site-packages/" not in frame]
    return error.message + "".join(ours[-4:])


def tick(defs, instance, cursor: str | None):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        result = defs.get_repository_def().get_sensor_def(LATE_SENSOR)(context)
        return result, (context.cursor if result is None else result.cursor)


def execute(defs, instance, request: dg.RunRequest):
    tags = dict(request.tags)
    return run(
        defs,
        instance,
        job=request.job_name,
        selection=request.asset_selection,
        partition=request.partition_key,
        tags=tags,
    )


def settle(defs, instance, cursor: str | None, max_ticks: int = 8) -> tuple[str | None, list[dg.RunRequest]]:
    """Tick the sensor and run what it asks until it asks nothing; returns the cursor and every request."""
    done = []
    for _ in range(max_ticks):
        result, cursor = tick(defs, instance, cursor)
        if not result.run_requests:
            return cursor, done
        for request in result.run_requests:
            execute(defs, instance, request)
        done += result.run_requests
    raise AssertionError(f"the sensor still asks for runs after {max_ticks} ticks: {done[-3:]}")


def nights(demo, home: Path, timezone: str, first: date, last: date, inject=None, **extra: str):
    """Night after night from `first` to `last`: the sources as of that night (then `inject(night, sources)`),
    the nightly partition, the sensor settled. Returns (settings, defs, instance, requests per night)."""
    sources = sources_as_of(demo, first, home / "sources", timezone)
    settings = settings_for(home, sources, **extra)
    defs = definitions_for(settings)
    instance = dg.DagsterInstance.ephemeral()
    cursor, requested = None, {}
    for night in pd.date_range(first, last).date:
        sources_as_of(demo, night, home / "sources", timezone)
        if inject is not None:
            inject(night, sources)
        run(defs, instance, partition=str(night))
        cursor, requested[night] = settle(defs, instance, cursor)
    run(defs, instance, job=SNAPSHOTS_JOB)
    return settings, defs, instance, requested


def published(url: str) -> dict[str, pd.DataFrame]:
    """Every published table (less who wrote it and when) in a stable order, and the facts as streamed."""
    from chatsales.reporting.store import ReportingDb

    with ReportingDb(url) as db:
        tables = {
            name: db.read_table(name).drop(columns=VOLATILE, errors="ignore").sort_values(key).reset_index(drop=True)
            for name, key in PUBLISHED.items()
        }
        facts = db.read_facts()
    tables["pipeline_days"] = tables["pipeline_days"].drop(columns="lake_seq")
    for name, frame in facts.items():
        key = [c for c in ORDER[name] if c in frame.columns]
        coded = {c: "str" for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)}
        tables[f"facts.{name}"] = frame.astype(coded).sort_values(key, kind="stable").reset_index(drop=True)
    return tables
