"""What the daily assets share: the partitions, a range in one run, the hand-over through the lake, owners."""

from datetime import date

import dagster as dg
from dagster._core.execution.context.invocation import DirectAssetExecutionContext

from chatsales.days import DayRange
from pipelines.config import SETTINGS
from pipelines.partitions import daily_partitions

OWNERS = ["team:data"]
FORCE_TAG = "chatsales/force"
DAILY = dict(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    io_manager_key="lake_io_manager",
    owners=OWNERS,
)
# the chat activity an attribution reads: the window before its days (one more day: a window of exact
# seconds reaches into the local day before), and what a day's KPIs read: two days after it (24 h answers)
WINDOW_BEFORE = dg.TimeWindowPartitionMapping(
    start_offset=-(SETTINGS.window_days + 1), allow_nonexistent_upstream_partitions=True
)
ANSWERS_AFTER = dg.TimeWindowPartitionMapping(end_offset=2, allow_nonexistent_upstream_partitions=True)


def run_days(context: dg.AssetExecutionContext) -> DayRange:
    """The reporting days this run covers (one partition, or a range in a single-run backfill)."""
    return DayRange.of([date.fromisoformat(key) for key in context.partition_keys], daily_partitions.timezone)


def forced(context: dg.AssetExecutionContext) -> bool:
    """The run publishes past the never-worse checks (tag chatsales/force=true, set by --force)."""
    return context.run.tags.get(FORCE_TAG, "").lower() == "true"


def state_rebuilt(context: dg.AssetExecutionContext) -> bool:
    """The run derives the conversation state again from the whole lake (`chatsales rebuild`, or the rebuild
    field in the Launchpad): its publication then rebuilds every month of the state facts too."""
    ops = (context.run.run_config or {}).get("ops", {})
    return bool(ops.get("conversation_state", {}).get("config", {}).get("rebuild", False))


def per_day(context: dg.AssetExecutionContext, figures) -> None:
    """Each partition's own figures as its materialization's metadata (`figures`: day → {name: number}), so
    a day's page and the Plots tab show that day, never the run's totals. An asset called directly (a test)
    records nothing: Dagster's direct-invocation context cannot hold per-partition metadata."""
    if isinstance(context, DirectAssetExecutionContext):
        return
    for day, values in figures.items():
        context.add_asset_metadata(
            {k: (float(v) if isinstance(v, float) else int(v)) for k, v in values.items()}, partition_key=str(day)
        )
