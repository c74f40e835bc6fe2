"""The daily partitions: reporting days in the reporting time zone, from CHATSALES_START_DATE (or the demo's
first day), up to the last complete day."""

from __future__ import annotations

from datetime import date

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from pipelines.config import SETTINGS

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=SETTINGS.partition_start.isoformat(), timezone=SETTINGS.timezone
)


def range_tags(first: date | str, last: date | str) -> dict[str, str]:
    """Run tags that make one run cover a range of partitions (a single-run backfill)."""
    return {ASSET_PARTITION_RANGE_START_TAG: str(first), ASSET_PARTITION_RANGE_END_TAG: str(last)}
