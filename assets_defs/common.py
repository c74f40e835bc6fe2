"""What every chatsales asset shares: daily partitions run as one run per range, outputs in the lake."""

from datetime import date

import dagster as dg


def partitioned(partitions: dg.PartitionsDefinition, group: str, layout: str = "snapshot") -> dict:
    """Keyword arguments of a chatsales asset: its group, the daily partitions, single-run backfills."""
    return dict(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(),
                io_manager_key="lake", group_name=group, owners=["team:data"],
                metadata={"lake_layout": layout})


def run_days(context: dg.AssetExecutionContext) -> list[date]:
    """The reporting days this run covers (one partition, or a whole range in a single-run backfill)."""
    return [date.fromisoformat(key) for key in context.partition_keys]


def days_label(days: list[date]) -> str:
    return str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"
