"""The insights tables in the reporting database, on SQLite and PostgreSQL: product_daily and campaign_orders
are day tables replaced with their days, the snapshots replace whole tables, each in one transaction; values
read back as written."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from chatsales.attribution import attribute
from chatsales.facts import build_facts
from chatsales.kpis.insights import product_daily
from chatsales.publication import attributed_order_rows
from chatsales.reporting.store import ReportingDb
from tests import test_campaigns, test_insights, test_segments


def test_product_daily_replaces_the_run_days(reporting_url):
    chat, orders, lines = test_insights.world()
    rows = attributed_order_rows(orders, attribute(orders, chat, 14), timezone="Europe/Paris", pii_key="k")
    facts = build_facts(chat, rows, "Europe/Paris", order_lines=lines)
    days = [date(2026, 3, 1), date(2026, 3, 10)]
    table = product_daily(facts, days, "Europe/Paris")
    with ReportingDb(reporting_url) as db:
        assert db.publish_days(days, run_id="r1", tables={"product_daily": table})["product_daily"] == 3
        assert db.publish_days(days, run_id="r2", tables={"product_daily": table})["product_daily"] == 3
        back = db.read_table("product_daily").sort_values("product_id")
        assert back[
            ["day", "product_id", "shown", "units_sold", "sales", "units_sold_after_shown"]
        ].values.tolist() == [
            [date(2026, 3, 10), "p-1", 3, 3.0, 80.0, 2.0],
            [date(2026, 3, 10), "p-2", 2, 1.0, 50.0, 0.0],
            [date(2026, 3, 10), "p-3", 0, 1.0, 40.0, 0.0],
        ]
        assert set(back["run_id"]) == {"r2"}
        with pytest.raises(ValueError, match="product_daily: 3 rows are for days outside the publication"):
            db.publish_days([date(2026, 3, 1)], run_id="r3", tables={"product_daily": table})
        assert len(db.read_table("product_daily")) == 3


def test_campaign_orders_are_published_with_their_days(reporting_url):
    credited = test_campaigns.run()["campaign_orders"]
    days = sorted(set(credited["day"]))
    with ReportingDb(reporting_url) as db:
        db.publish_days(days, run_id="r1", tables={"campaign_orders": credited})
        db.publish_days([days[0]], run_id="r2", tables={"campaign_orders": credited[credited["day"] == days[0]]})
        orders = db.read_table("campaign_orders").set_index("order_id")
    assert len(orders) == 6
    assert orders.loc["o-4", "clicked_at"] == pd.Timestamp("2026-03-10T10:00", tz="UTC")
    assert bool(orders.loc["R-7", "chat_attributed"]) and orders.loc["R-7", "day"] == date(2026, 3, 13)
    assert set(orders.loc[orders["day"] == days[0], "run_id"]) == {"r2"}


def test_snapshots_replace_whole_tables_in_one_transaction(reporting_url):
    campaigns = test_campaigns.run()
    customers = test_segments.tables()  # segments: ann 7, cat 6, eve 10
    snapshots = {"campaign_stats": campaigns["campaign_stats"], **customers}
    with ReportingDb(reporting_url) as db:
        written = db.publish_snapshots(snapshots, run_id="r1")
        assert written == {"campaign_stats": 5, "customer_segments": 23, "customer_trends": 5, "product_mix": 5}
        assert db.publish_snapshots(snapshots, run_id="r2") == written
        stats = db.read_table("campaign_stats").set_index(["level", "kind", "campaign_id"]).sort_index()
        assert stats.loc[("campaign", "automation", "cp-2"), ["orders", "sales_sum", "overlap_orders"]].tolist() == [
            3,
            130.0,
            1,
        ]
        assert stats.loc[("campaign", "automation", "cp-2"), "conversion"] == pytest.approx(5 / 6)
        trends = db.read_table("customer_trends").set_index("customer_hash")
        assert trends.loc[test_segments.h("ann"), "trend"] == "stable"
        assert set(db.read_table("customer_segments")["run_id"]) == {"r2"}
        # Smgo-3/4 are counted by the database: the same numbers as counting the rows read back
        per_segment, per_trend, as_of = db.customer_counts()
        segments = db.read_table("customer_segments")
        expected = segments.groupby(["segment_type", "segment"])["customer_hash"].nunique()
        assert (
            per_segment.set_index(["segment_type", "segment"])["customers"].sort_index().to_dict() == expected.to_dict()
        )
        assert (
            per_trend.set_index("trend")["customers"].to_dict()
            == db.read_table("customer_trends")["trend"].value_counts().to_dict()
        )
        assert as_of == test_segments.AS_OF_JUNE and int(per_trend["customers"].sum()) == 5
        # a failing publication leaves the previous snapshot whole: the second table breaks mid-transaction
        broken = {
            "campaign_stats": campaigns["campaign_stats"].iloc[:1],
            "customer_trends": customers["customer_trends"].drop(columns="trend"),
        }
        with pytest.raises(KeyError, match="trend"):
            db.publish_snapshots(broken, run_id="r3")
        assert len(db.read_table("campaign_stats")) == 5
