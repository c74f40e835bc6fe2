"""Jobs: the nightly pipeline, the extraction alone (what the late-data sensor runs when sources change), and
the day chain alone (what it runs for the days late data changed)."""

import dagster as dg

DAILY_JOB = "daily_pipeline"
EXTRACT_JOB = "extract_sources"
SOURCES = dg.AssetSelection.groups("sources", "state")
DAYS = dg.AssetSelection.all() - SOURCES

daily_pipeline = dg.define_asset_job(
    DAILY_JOB, selection=dg.AssetSelection.all(), partitions_def=None,
    description="The night: every source read since its watermark into the lake, the state updated, then the "
                "partition's day (or a range of days, as one run) attributed, its facts and KPIs computed and "
                "published, and the snapshots (campaign statistics, customer segments) recomputed.")

extract_sources = dg.define_asset_job(
    EXTRACT_JOB, selection=SOURCES,
    description="Reads every source since its watermark into the lake and updates the conversation state; "
                "publishes nothing. The late-data sensor runs it when a source changed, then re-runs the days "
                "the changes affect.")
