"""What the Dagster UI shows on a day's partition: that day's own figures, never its run's totals, so the
Plots tab of an asset charts one honest point per day."""

from __future__ import annotations

import re
from datetime import date, timedelta

import dagster as dg
import pytest

from chatsales.demo import generate_demo
from chatsales.reporting.store import ReportingDb
from pipelines.definitions import definitions_for
from tests.nights import demo_sources, run, settings_for

FIRST, DAYS = date(2026, 4, 6), 8
BACKFILL = [FIRST + timedelta(days=n) for n in (3, 4, 5)]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    """A demo whose first days are published one by one, then three days as one single-run backfill."""
    home = tmp_path_factory.mktemp("partition_metadata")
    demo = generate_demo(home / "demo", FIRST, days=DAYS, scale=0.03, seed=21)
    settings = settings_for(home, demo_sources(demo))
    defs = definitions_for(settings)
    instance = dg.DagsterInstance.ephemeral()
    run(defs, instance, partition=str(FIRST))
    run(defs, instance, first=BACKFILL[0], last=BACKFILL[-1])
    return settings, instance


def _latest(instance, asset: str, day: date) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[str(day)]), limit=1
    ).records
    assert records, (asset, day)
    return records[0].asset_materialization.metadata


def test_each_partition_of_a_backfill_shows_its_own_day(backfilled):
    settings, instance = backfilled
    db = ReportingDb(settings.reporting_db_url)
    orders = db.read_table("attributed_orders")
    kpis = db.read_table("kpi_daily")
    cards = kpis[kpis["dimension"] == "all"].set_index(["day", "kpi"])["value"]
    shown = {}
    for day in [FIRST, *BACKFILL]:
        mine = orders[orders["day"] == day]
        figures = _latest(instance, "reporting_db", day)
        assert figures["orders"] == dg.IntMetadataValue(len(mine))  # a number, so the Plots tab charts it
        sales = mine[~mine["is_cancelled"] & (mine["total"] > 0)]  # a sale, as attribution.md defines it
        assert figures["sales"].value == len(sales)
        assert figures["attributed_share"].value == round(sales["attributed"].sum() / len(sales), 4)
        assert figures["total_sales_amount"].value == round(sales["total"].sum(), 2)
        assert figures["conversations"].value == cards[(day, "Chat-Card-1")]
        assert figures["dialogues"].value == cards[(day, "Chat-Card-10")]
        assert figures["attributed_sales"].value == cards[(day, "Chat-Card-81")]
        assert figures["attributed_sales_amount"].value == round(cards[(day, "Chat-Card-80")], 2)
        assert figures["conversion_rate"].value == round(cards[(day, "Chat-Card-85")], 4)
        assert isinstance(figures["conversations"], dg.IntMetadataValue)
        assert figures["web_orders"].value == int((mine["sales_channel"] == "web").sum())
        # the attribution's own partition: its rows are the day's, not the run's
        attribution = _latest(instance, "order_attribution", day)
        assert attribution["dagster/row_count"].value == attribution["orders"].value == len(mine)
        assert _latest(instance, "customer_identities", day)["orders"].value == len(mine)
        assert _latest(instance, "kpi_daily", day)["conversations"].value == cards[(day, "Chat-Card-1")]
        shown[day] = figures["orders"].value
    assert len(set(shown.values())) > 1, shown  # days differ: no run total copied onto each day
    assert sum(shown[d] for d in BACKFILL) == len(orders[orders["day"].isin(BACKFILL)])
    db.dispose()


def test_descriptions_render_as_written_in_markdown():
    """The UI renders descriptions as markdown: a `*` or a word wrapped in `_` outside a code span would turn
    into italics (as `Chat-Donut-*, Chat-Bar-*` once did)."""
    from pipelines.definitions import defs

    repository = defs.get_repository_def()
    texts = {f"asset {s.key.to_user_string()}": s.description for s in defs.resolve_all_asset_specs()}
    texts.update({f"job {j.name}": j.description for j in repository.get_all_jobs()})
    texts.update({f"schedule {s.name}": s.description for s in repository.schedule_defs})
    texts.update({f"sensor {s.name}": s.description for s in repository.sensor_defs})
    texts.update(
        {
            f"check {c.name}": c.description
            for c in defs.resolve_asset_graph().asset_check_keys
            for c in [defs.resolve_asset_graph().get_check_spec(c)]
        }
    )
    assert len(texts) > 20
    for where, text in texts.items():
        plain = re.sub(r"`[^`]*`", "", text or "")
        assert "*" not in plain and not re.search(r"(^|\W)_\w.*?\w_(\W|$)", plain), (where, text)
