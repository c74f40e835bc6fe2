"""Daily partitions in the reporting timezone, from CHATSALES_START_DATE (or the demo's first day)."""
from __future__ import annotations

import json
from datetime import date

import dagster as dg

from chatsales.settings import Settings

FALLBACK_START = date(2026, 1, 1)


def partition_start(settings: Settings) -> date:
    """CHATSALES_START_DATE, else the first day of the demo dataset if one was generated, else 2026-01-01."""
    if settings.start_date:
        return settings.start_date
    manifest = settings.demo_dir / "manifest.json"
    if manifest.exists():
        return date.fromisoformat(json.loads(manifest.read_text())["first_day"])
    return FALLBACK_START


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=partition_start(settings).isoformat(),
                                        timezone=settings.timezone)


def range_tags(first: date | str, last: date | str) -> dict[str, str]:
    """Run tags that make one run cover a range of partitions (single-run backfill)."""
    return {"dagster/asset_partition_range_start": str(first),
            "dagster/asset_partition_range_end": str(last)}
