"""The lake IO manager: snapshots, per-day folders, loading any subset of days, clear errors."""
from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import pytest

from pipelines.partitions import range_tags
from resources.lake import LakeIOManager

DAILY = dg.DailyPartitionsDefinition(start_date="2026-03-27", timezone="Europe/Paris")
POLICY = dg.BackfillPolicy.single_run()


@dg.asset(partitions_def=DAILY, backfill_policy=POLICY, io_manager_key="lake",
          metadata={"lake_layout": "snapshot"})
def snap(context) -> dict:
    return {"a": pd.DataFrame({"x": [1, 2]}), "b": pd.DataFrame({"y": ["z"]})}


@dg.asset(partitions_def=DAILY, backfill_policy=POLICY, io_manager_key="lake",
          metadata={"lake_layout": "daily"})
def per_day(context, snap: dict) -> pd.DataFrame:
    days = [date.fromisoformat(k) for k in context.partition_keys]
    return pd.DataFrame({"day": days, "n": [len(snap["a"]) * (i + 1) for i in range(len(days))]})


@dg.asset(partitions_def=DAILY, backfill_policy=POLICY)
def reader(context, per_day: pd.DataFrame) -> None:
    context.add_output_metadata({"days": ",".join(map(str, per_day["day"])), "n": int(per_day["n"].sum())})


def _run(tmp_path, first, last, selection=None):
    return dg.materialize([snap, per_day, reader], resources={"lake": LakeIOManager(base_dir=str(tmp_path))},
                          tags=range_tags(first, last), selection=selection)


def test_daily_outputs_load_by_day_whichever_run_wrote_them(tmp_path):
    assert _run(tmp_path, "2026-03-27", "2026-03-29").success
    assert sorted(p.name for p in (tmp_path / "per_day").iterdir()) == [
        "day=2026-03-27", "day=2026-03-28", "day=2026-03-29"]
    assert pd.read_parquet(tmp_path / "snap" / "current" / "a.parquet")["x"].tolist() == [1, 2]
    # only the reader, for one day of the earlier range: it reads that day's file
    result = _run(tmp_path, "2026-03-28", "2026-03-28", selection=[reader])
    md = result.asset_materializations_for_node("reader")[0].metadata
    assert md["days"].value == "2026-03-28" and md["n"].value == 4


def test_missing_day_is_a_clear_error(tmp_path):
    _run(tmp_path, "2026-03-27", "2026-03-27")
    with pytest.raises(FileNotFoundError, match="per_day has no data for day 2026-03-28"):
        _run(tmp_path, "2026-03-28", "2026-03-28", selection=[reader])


def test_rows_outside_the_run_days_are_refused(tmp_path):
    @dg.asset(partitions_def=DAILY, backfill_policy=POLICY, io_manager_key="lake", name="per_day",
              metadata={"lake_layout": "daily"})
    def stray(context) -> pd.DataFrame:
        return pd.DataFrame({"day": [date(2026, 4, 1)], "n": [1]})

    with pytest.raises(ValueError, match="outside the run's partitions"):
        dg.materialize([stray], resources={"lake": LakeIOManager(base_dir=str(tmp_path))}, partition_key="2026-03-27")
    assert not (tmp_path / "per_day").exists()
