"""Jobs: the nightly pipeline (the sources since their watermarks, then the partition's days), the extraction
alone and the day chain alone (what the late-data sensor runs), and the whole-history snapshots."""

import dagster as dg

DAILY_JOB = "daily_pipeline"
EXTRACT_JOB = "extract_sources"
SNAPSHOTS_JOB = "customer_snapshots"
SOURCES = dg.AssetSelection.groups("sources", "state")
SNAPSHOTS = dg.AssetSelection.assets("campaign_stats", "customer_segments")
DAYS = dg.AssetSelection.all() - SOURCES - SNAPSHOTS

daily_pipeline = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all() - SNAPSHOTS,
    description="The night: every source read since its watermark into the lake, the state updated, then the "
    "partition's day (or a range of days, as one run) attributed, its facts and KPIs computed and "
    "published in one transaction.",
)

extract_sources = dg.define_asset_job(
    EXTRACT_JOB,
    selection=SOURCES,
    description="Reads every source since its watermark into the lake and updates the conversation state; "
    "publishes nothing. The late-data sensor runs it when a source changed, then re-runs the days "
    "the changes affect.",
)

customer_snapshots = dg.define_asset_job(
    SNAPSHOTS_JOB,
    selection=SNAPSHOTS,
    description="The whole-history snapshots: campaign statistics (Smgo-1/2) and customer segments, trends and "
    "product mix (Smgo-3/4/5), as of the last published day. Their cost grows with the history, so "
    "they run on their own, after the nightly run, not inside it.",
)
