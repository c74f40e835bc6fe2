"""The nightly schedule: the day that just ended, after the sources' cut-off. On by default: this is a nightly
pipeline (stop it in the UI under Automation)."""

import dagster as dg

from pipelines.config import SETTINGS
from pipelines.jobs import customer_snapshots, daily_pipeline

NIGHTLY_HOUR = 3

nightly = dg.build_schedule_from_partitioned_job(
    daily_pipeline,
    hour_of_day=NIGHTLY_HOUR,
    name="nightly",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"Every night at {NIGHTLY_HOUR:02d}:00 (reporting time zone): the day that just ended.",
)

snapshots_schedule = dg.ScheduleDefinition(
    name="snapshots",
    job=customer_snapshots,
    cron_schedule="30 4 * * *",
    execution_timezone=SETTINGS.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every morning at 04:30 (reporting time zone), after the nightly run: campaign statistics and "
    "customer segments recomputed from everything published.",
)
