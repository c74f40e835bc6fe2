"""Jobs: the nightly pipeline (every asset, from sources to the reporting database)."""
from __future__ import annotations

import dagster as dg

DAILY_JOB = "daily_pipeline"


def daily_pipeline_job(partitions: dg.PartitionsDefinition) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        DAILY_JOB, selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="Reads the sources, attributes every order, builds the facts and KPIs and publishes the "
                    "run's days to the reporting database. A date range runs as ONE run (single-run backfill).")
