"""The insights tables in the reporting database, on SQLite and PostgreSQL: product_daily replaces days, the
nightly snapshots replace whole tables, each in one transaction; values read back as written."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis.insights import product_daily
from chatsales.publication import attributed_order_rows
from resources.insights_db import INSIGHT_TABLES, InsightsStore
from resources.reporting_db import ReportingStore
from tests import test_campaigns, test_insights, test_segments


def _store(url):
    store = ReportingStore(url)
    return store, InsightsStore(store)


def test_product_daily_replaces_the_run_days(reporting_url):
    chat, orders, lines = test_insights.world()
    rows = attributed_order_rows(orders, attribute(orders, chat, 14), timezone="Europe/Paris", pii_key="k")
    facts = build_facts(chat, rows, "Europe/Paris", order_lines=lines)
    days = [date(2026, 3, 1), date(2026, 3, 10)]
    table = product_daily(facts, days, "Europe/Paris")
    store, insights = _store(reporting_url)
    assert insights.publish_product_days(days, table, run_id="r1") == 3
    assert insights.publish_product_days(days, table, run_id="r2") == 3         # replaced, not added
    back = store.read_table("product_daily").sort_values("product_id")
    assert back[["day", "product_id", "shown", "units_sold", "sales", "units_sold_after_shown"]].values.tolist() == [
        [date(2026, 3, 10), "p-1", 3, 3.0, 80.0, 2.0], [date(2026, 3, 10), "p-2", 2, 1.0, 50.0, 0.0],
        [date(2026, 3, 10), "p-3", 0, 1.0, 40.0, 0.0]]
    assert set(back["run_id"]) == {"r2"}
    with pytest.raises(ValueError, match="product_daily: 3 rows are for days outside the publication"):
        insights.publish_product_days([date(2026, 3, 1)], table, run_id="r3")
    assert len(store.read_table("product_daily")) == 3
    store.dispose()


def test_snapshots_replace_whole_tables_in_one_transaction(reporting_url):
    campaigns = test_campaigns.run()
    customers = test_segments.tables()          # segments: ann 7, cat 6, eve 10
    store, insights = _store(reporting_url)
    assert insights.customers_as_of() is None
    written = insights.publish_snapshots({**campaigns, **customers}, run_id="r1")
    assert written == {"campaign_orders": 6, "campaign_stats": 5, "customer_segments": 23, "customer_trends": 5,
                       "product_mix": 5}
    assert insights.publish_snapshots({**campaigns, **customers}, run_id="r2") == written
    assert all(name in store.table_names() for name in INSIGHT_TABLES)
    stats = store.read_table("campaign_stats").set_index(["level", "kind", "campaign_id"]).sort_index()
    assert stats.loc[("campaign", "automation", "cp-2"), ["orders", "sales_sum", "overlap_orders"]].tolist() == [
        3, 130.0, 1]
    assert stats.loc[("campaign", "automation", "cp-2"), "conversion"] == pytest.approx(5 / 6)
    orders = store.read_table("campaign_orders").set_index("order_id")
    assert orders.loc["o-4", "clicked_at"] == pd.Timestamp("2026-03-10T10:00", tz="UTC")
    assert bool(orders.loc["R-7", "chat_attributed"]) and orders.loc["R-7", "day"] == date(2026, 3, 13)
    assert insights.customers_as_of() == test_segments.AS_OF_JUNE
    trends = store.read_table("customer_trends").set_index("customer_hash")
    assert trends.loc[test_segments.h("ann"), "trend"] == "stable"
    assert set(store.read_table("customer_segments")["run_id"]) == {"r2"}
    # Smgo-3/4 are counted by the database: the same numbers as counting the rows read back
    per_segment, per_trend, as_of = insights.customer_counts()
    segments = store.read_table("customer_segments")
    expected = segments.groupby(["segment_type", "segment"])["customer_hash"].nunique()
    assert per_segment.set_index(["segment_type", "segment"])["customers"].sort_index().to_dict() == expected.to_dict()
    assert per_trend.set_index("trend")["customers"].to_dict() == \
        store.read_table("customer_trends")["trend"].value_counts().to_dict()
    assert as_of == test_segments.AS_OF_JUNE and int(per_trend["customers"].sum()) == 5
    # a failing publication leaves the previous snapshot whole: the second table breaks mid-transaction
    broken = {"campaign_orders": campaigns["campaign_orders"].iloc[:1],
              "customer_trends": customers["customer_trends"].drop(columns="trend")}
    with pytest.raises(ValueError, match=r"customer_trends: the frame lacks columns \['trend'\]"):
        insights.publish_snapshots(broken, run_id="r3")
    assert len(store.read_table("campaign_orders")) == 6
    store.dispose()
