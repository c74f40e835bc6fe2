"""The whole pipeline through Dagster on a small demo dataset: SQLite and PostgreSQL, as reporting database
and as Dagster instance storage. Values are cross-checked against the raw source files read independently."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import yaml

from chatsales.attribution import attribute
from chatsales.customer_keys import all_orders
from chatsales.demo import generate_demo
from chatsales.kpis.catalog import period_catalog
from chatsales.kpis.charts import CHARTS, LINE_SERIES
from chatsales.period import Periods
from chatsales.query import catalog_of_period, stored_facts
from chatsales.reporting.store import ReportingDb as ReportingStore
from chatsales.settings import load_settings
from chatsales.sources.chat_db import read_chat_db
from chatsales.sources.orders import read_orders_dir
from chatsales.sources.store_sales import read_store_sales_dir
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB, SNAPSHOTS_JOB
from pipelines.partitions import range_tags

FIRST = date(2026, 3, 22)  # covers the spring DST change (2026-03-29, 23 hours in Europe/Paris)
DAYS = 12
LAST = date(2026, 4, 2)
REQUIRED_REFS = {
    "Chat-Card-0",
    "Chat-Card-1",
    "Chat-Card-10",
    "Chat-Card-20",
    "Chat-Card-80",
    "Chat-Card-81",
    "Chat-Card-82",
    "Chat-Card-85",
    "Chat-Card-86",
    *(f"Iadv-{i}" for i in range(1, 11)),
}
VOLATILE = ["run_id", "computed_at"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return generate_demo(out / "data", FIRST, days=DAYS, scale=0.04, seed=11)


def _settings(home: Path, demo, reporting_url: str):
    return load_settings(
        {
            "CHATSALES_HOME": str(home),
            "CHATSALES_START_DATE": str(demo.first_day),
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
            "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
            "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir),
            "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
            "CHATSALES_REPORTING_DB_URL": reporting_url,
        }
    )


def _run(settings, instance, first, last):
    """The days as one run, then the snapshots job (what `chatsales backfill` does)."""
    defs = definitions_for(settings)
    result = defs.resolve_job_def(DAILY_JOB).execute_in_process(instance=instance, tags=range_tags(first, last))
    assert result.success
    assert defs.resolve_job_def(SNAPSHOTS_JOB).execute_in_process(instance=instance).success
    return result


def _raw_order_ids(demo) -> set[tuple[str, str]]:
    """Every order and receipt id in the raw files, read without the pipeline's readers."""
    web = {
        ("web", json.loads(line)["order_id"])
        for f in sorted(Path(demo.orders_dir).glob("*.jsonl"))
        for line in f.read_text().splitlines()
        if line.strip()
    }
    store = {
        ("store", r)
        for f in sorted(Path(demo.store_sales_dir).glob("*.csv"))
        for r in pd.read_csv(f, dtype=str)["receipt_id"]
    }
    return web | store


def _check_publication(store: ReportingStore, demo, result):
    orders = store.read_table("attributed_orders")
    assert set(orders["day"]) <= {d.date() for d in pd.date_range(FIRST, LAST)}
    # one row per order, and every raw order placed in the range is there
    assert not orders.duplicated(["sales_channel", "order_id"]).any()
    published = set(zip(orders["sales_channel"], orders["order_id"]))
    assert published <= _raw_order_ids(demo)
    assert len(published) > 100
    hashes = orders["customer_hash"].dropna()
    assert len(hashes) > 50 and hashes.str.fullmatch(r"[0-9a-f]{64}").all()
    reasons = set(orders.loc[~orders["attributed"], "reason"])
    assert {"no_identity", "no_conversation", "outside_window"} <= reasons
    assert orders["attributed"].any() and (~orders["attributed"]).any()
    assert orders["run_id"].eq(result.run_id).all()

    kpis = store.read_table("kpi_daily")
    assert REQUIRED_REFS <= set(kpis["kpi"])
    assert set(kpis["day"]) == {d.date() for d in pd.date_range(FIRST, LAST)}
    assert {"all", "source", "channel", "member"} <= set(kpis["dimension"])
    # Chat-Card-81 (attributed sales, all) per day equals the published attributed sales of that day
    sales = orders[~orders["is_cancelled"] & (orders["total"] > 0) & orders["attributed"]]
    expected = sales.groupby("day").size()
    c81 = kpis[(kpis["kpi"] == "Chat-Card-81") & (kpis["dimension"] == "all")].set_index("day")["value"]
    assert c81.reindex(expected.index).tolist() == expected.astype(float).tolist()
    c80 = kpis[(kpis["kpi"] == "Chat-Card-80") & (kpis["dimension"] == "all")].set_index("day")["value"]
    assert c80.reindex(expected.index).round(2).tolist() == sales.groupby("day")["total"].sum().round(2).tolist()
    # Chat-Card-1 (new conversations, all) per day equals the chat DB's non-internal chatrooms of that day
    with sqlite3.connect(demo.chat_db_path) as conn:
        rooms = pd.read_sql("select started_at from chatrooms where not is_internal", conn)
    local = pd.to_datetime(rooms["started_at"], utc=True).dt.tz_convert("Europe/Paris").dt.date
    per_day = local[local.between(FIRST, LAST)].value_counts()
    c1 = kpis[(kpis["kpi"] == "Chat-Card-1") & (kpis["dimension"] == "all")].set_index("day")["value"]
    assert c1.reindex(per_day.index).tolist() == per_day.astype(float).tolist()
    # chart buckets: every chart with the same full grid each day; the donut of new conversations by source
    # adds up to Chat-Card-1, the establishment-time bars to Chat-Card-10
    buckets = store.read_table("kpi_buckets_daily")
    assert set(buckets["chart"]) == set(CHARTS)
    assert set(buckets["day"]) == set(kpis["day"]) and buckets.groupby("day").size().nunique() == 1
    assert buckets["run_id"].eq(result.run_id).all()
    total = buckets[buckets["dimension"] == "all"].groupby(["chart", "day"])["count"].sum().astype(float)
    assert total["Chat-Donut-1"].tolist() == c1.reindex(total["Chat-Donut-1"].index).tolist()
    c10 = kpis[(kpis["kpi"] == "Chat-Card-10") & (kpis["dimension"] == "all")].set_index("day")["value"]
    assert total["Chat-Bar-11"].tolist() == c10.reindex(total["Chat-Bar-11"].index).tolist()
    assert total["Chat-Bar-11"].sum() > 10
    # the members list agrees with the member breakdown of kpi_daily
    members = store.read_table("member_daily")
    by_member = kpis[(kpis["kpi"] == "Chat-Card-80") & (kpis["dimension"] == "member")]
    merged = members.merge(by_member, left_on=["day", "member_id"], right_on=["day", "dimension_value"])
    assert len(merged) == len(by_member) > 10
    assert (merged["sales_total"].round(6) == merged["value"].round(6)).all()
    assert members["last_name"].notna().all()
    _check_insights(store, kpis, result)
    return kpis


def _check_insights(store: ReportingStore, kpis, result):
    """The insights tables are filled and agree with kpi_daily: Insi-7 per day adds up product_daily."""
    products = store.read_table("product_daily")
    assert set(products["day"]) <= {d.date() for d in pd.date_range(FIRST, LAST)} and len(products) > 20
    insi7 = kpis[(kpis["kpi"] == "Insi-7") & (kpis["dimension"] == "all")].set_index("day")
    per_day = products.groupby("day")[["units_sold", "units_sold_after_shown"]].sum()
    for column, part in (("units_sold", "denominator"), ("units_sold_after_shown", "numerator")):
        assert per_day[column].round(6).tolist() == insi7[part].reindex(per_day.index).round(6).tolist()
    assert products["shown"].sum() > 0 and products["units_sold_after_shown"].sum() > 0
    credited = store.read_table("campaign_orders")
    assert len(credited) > 5 and (credited["seconds_after_click"].between(0, 7 * 86_400)).all()
    stats = store.read_table("campaign_stats")
    assert set(stats.loc[stats["level"] == "kind", "kind"]) == {"mailing", "automation"}
    assert stats.loc[stats["level"] == "campaign", "orders"].sum() == len(credited)
    segments = store.read_table("customer_segments")
    assert set(segments["segment_type"]) == {"product", "category", "price_band", "location", "store", "city"}
    assert segments["customer_hash"].str.fullmatch(r"[0-9a-f]{64}").all()
    trends = store.read_table("customer_trends")
    # 12 days of orders against two trend spans of 90 days: the window reaches back before the data, so no
    # customer is said to buy more or less (they all were, `buying_more`, before Smgo-4 knew the data start)
    assert len(trends) > 20 and set(trends["trend"]) == {"insufficient_history"}
    mix = store.read_table("product_mix")
    assert {"web", "store"} == set(mix["sales_channel"]) and (mix["rank"] >= 1).all()
    assert credited["run_id"].eq(result.run_id).all()
    snapshot_runs = {run for table in (stats, segments, trends, mix) for run in table["run_id"]}
    assert len(snapshot_runs) == 1 and result.run_id not in snapshot_runs  # the customer_snapshots run


def _every_day_equals_its_period_query(store: ReportingStore) -> None:
    """The period query of each published day, from the facts stored in the reporting database, equals
    exactly what that day published: every card, the members list, the chart buckets and the line points.
    Checked by removal: with the request and chatroom facts published per day instead of as one snapshot,
    chatrooms started in the demo's three weeks of history before the first day are missing from the stored
    facts, and the first day's Chat-Card-20 (active dialogues) is 10 instead of 11."""
    published = {name: store.read_table(name) for name in ("kpi_daily", "member_daily", "kpi_buckets_daily")}
    members = store.member_names()
    assert len(members) == 5 and members["last_name"].notna().all()  # the small demo's five members
    days = sorted(set(published["kpi_daily"]["day"]))
    assert days == [d.date() for d in pd.date_range(FIRST, LAST)]
    for day in days:
        catalog = period_catalog(
            stored_facts(store.url, day, day), Periods.range(day, day, "Europe/Paris"), members=members
        )
        daily = {name: frame[frame["day"] == day].drop(columns=["day", *VOLATILE]) for name, frame in published.items()}
        cards = daily["kpi_daily"][daily["kpi_daily"]["dimension"] == "all"].set_index("kpi")
        assert set(cards.index) <= set(catalog) and len(cards) > 60
        got = {ref: tuple(catalog[ref][c] for c in ("value", "numerator", "denominator")) for ref in cards.index}
        want = {
            ref: tuple(None if pd.isna(x) else float(x) for x in row)
            for ref, row in cards[["value", "numerator", "denominator"]].iterrows()
        }
        assert got == want, (day, {k: (got[k], want[k]) for k in got if got[k] != want[k]})
        people = daily["member_daily"].astype(object).where(daily["member_daily"].notna(), None)
        assert sorted(catalog["Chat-List-1"]["members"], key=lambda m: m["member_id"]) == [
            {k: (float(v) if isinstance(v, (int, float)) and k != "role" else v) for k, v in m.items()}
            for m in people.sort_values("member_id").to_dict("records")
        ], day
        buckets = daily["kpi_buckets_daily"][daily["kpi_buckets_daily"]["dimension"] == "all"]
        for chart, rows in buckets.groupby("chart"):
            assert catalog[chart]["buckets"] == dict(zip(rows["bucket"], rows["count"].astype(int))), (day, chart)
        point = catalog["Chat-Line-2"]["days"]  # lines: that day's kpi_daily source breakdown
        direct = published["kpi_daily"].query("day == @day and dimension == 'source' and dimension_value == 'direct'")
        assert point == [
            {
                "day": str(day),
                **{
                    label: float(direct.set_index("kpi")["value"].get(ref, 0.0))
                    for label, ref in (
                        ("Total new conversations", "Chat-Card-1"),
                        ("Empty conversations", "Chat-Card-2"),
                        ("Established dialogues", "Chat-Card-10"),
                    )
                },
            }
        ]
    # the line charts of the whole run read from kpi_daily (what chatsales kpis does without filters) are the
    # ones computed day by day from the stored facts
    whole = Periods.range(days[0], days[-1], "Europe/Paris")
    computed = period_catalog(stored_facts(store.url, days[0], days[-1]), whole)
    published = catalog_of_period(store.url, whole, {})
    assert {ref: published[ref] for ref in LINE_SERIES} == {ref: computed[ref] for ref in LINE_SERIES}
    assert len(published["Chat-Line-3"]["days"]) == len(days)


def _equals_the_whole_history_rule(store: ReportingStore, settings) -> None:
    """The day-local chain (the days' orders, the window's chat, the state, lookups in the catalog) credits
    every order as the rule applied at once to the whole history in memory does."""
    chat = read_chat_db(settings.chat_db_url).frames
    web = read_orders_dir(Path(settings.orders_dir), settings.currency).frames["orders"]
    pos = read_store_sales_dir(Path(settings.store_sales_dir), settings.timezone, settings.currency).frames["orders"]
    every = all_orders(web, pos)
    whole = attribute(every, chat, settings.window_days).assign(
        sales_channel=every["sales_channel"].astype("str"), order_id=every["order_id"].astype("str")
    )
    key, compared = ["sales_channel", "order_id"], ["attributed", "chatroom_id", "reason"]
    published = store.read_table("attributed_orders")[key + compared].astype({"reason": "str", "chatroom_id": "str"})
    expected = published[key].merge(whole[key + compared], on=key, how="left")
    pd.testing.assert_frame_equal(
        published.sort_values(key).reset_index(drop=True),
        expected.astype({"reason": "str", "chatroom_id": "str"}).sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    assert published["attributed"].sum() > 20


def test_pipeline_end_to_end_on_sqlite_is_idempotent(tmp_path, demo):
    settings = _settings(tmp_path / "home", demo, f"sqlite:///{tmp_path / 'reporting.db'}")
    store = ReportingStore(settings.reporting_db_url)
    with dg.DagsterInstance.ephemeral() as instance:
        first = _run(settings, instance, FIRST, LAST)
        kpis = _check_publication(store, demo, first)
        _equals_the_whole_history_rule(store, settings)
        ledger_rows = len(store.read_table("attribution_ledger"))
        _every_day_equals_its_period_query(store)
        # the same days again, and one day alone: identical KPI rows, nothing new in the ledger
        _run(settings, instance, FIRST, LAST)
        _run(settings, instance, date(2026, 3, 29), date(2026, 3, 29))
        # that one-day run did not rewind the customer snapshot to 03-29
        assert set(store.read_table("customer_trends")["as_of"]) == {pd.Timestamp("2026-04-02T22:00", tz="UTC")}
        # the Dagster UI shows the night's numbers on each materialisation of the attribution
        record = instance.fetch_materializations(dg.AssetKey("order_attribution"), limit=1).records[0]
        metadata = record.asset_materialization.metadata
        assert metadata["orders"].value == len(store.read_table("attributed_orders", days=[date(2026, 3, 29)]))
    again = store.read_table("kpi_daily")
    key = ["day", "kpi", "dimension", "dimension_value"]
    pd.testing.assert_frame_equal(
        kpis.drop(columns=VOLATILE).sort_values(key).reset_index(drop=True),
        again.drop(columns=VOLATILE).sort_values(key).reset_index(drop=True),
    )
    assert len(store.read_table("attribution_ledger")) == ledger_rows


def test_pipeline_on_postgresql_reporting_and_instance(tmp_path, demo, pg_url):
    """PostgreSQL as the reporting database AND as Dagster's run/event storage (dagster-postgres)."""
    settings = _settings(tmp_path / "home", demo, pg_url)
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    config = yaml.safe_load((Path(__file__).parents[1] / "dagster-postgres.yaml").read_text())
    config["storage"]["postgres"]["postgres_url"] = pg_url
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.instance_for_test(temp_dir=str(dagster_home), overrides=config) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = _run(settings, instance, FIRST, LAST)
        store = ReportingStore(pg_url)
        _check_publication(store, demo, result)
        _every_day_equals_its_period_query(store)
        events = instance.fetch_materializations(dg.AssetKey("order_attribution"), limit=1).records
        metadata = events[0].asset_materialization.metadata
        assert {"orders", "attributed_share", "attributed_sales_amount", "total_sales_amount"} <= set(metadata)
        store.dispose()
