"""The nightly schedule: yesterday's partition, after the sources' cut-off."""
from __future__ import annotations

import dagster as dg


def nightly_schedule(job: dg.UnresolvedAssetJobDefinition, hour: int = 3) -> dg.ScheduleDefinition:
    """Materialise the day that just ended, at `hour` local time (reporting timezone)."""
    return dg.build_schedule_from_partitioned_job(
        job, hour_of_day=hour, name="nightly",
        description=f"Every night at {hour:02d}:00 (reporting timezone): the day that just ended.")
