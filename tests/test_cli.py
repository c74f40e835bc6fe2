"""The commands a user types, in real subprocesses: `chatsales demo`, `chatsales backfill`."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from chatsales.kpis import REGISTRY
from chatsales.kpis.charts import CHARTS, LINE_SERIES
from chatsales.reporting.store import ReportingDb as ReportingStore

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "pipelines.cli"]


def _run(args, home: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env["CHATSALES_HOME"] = str(home)
    return subprocess.run(CLI + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_demo_then_backfill(tmp_path):
    demo = _run(["demo", "--days", "6", "--scale", "0.02"], tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    out = demo.stdout
    for expected in ("orders and receipts:", "attributed share:", "sales after a conversation:", "top members:",
                     f"reporting database: sqlite:///{tmp_path / 'reporting.db'}",
                     f"DAGSTER_HOME={tmp_path / 'dagster'}"):
        assert expected in out
    assert (tmp_path / "dagster" / "dagster.yaml").read_text() == (ROOT / "dagster.yaml").read_text()
    store = ReportingStore(f"sqlite:///{tmp_path / 'reporting.db'}")
    days = sorted(set(store.read_table("kpi_daily")["day"]))
    assert len(days) == 6
    before = store.read_table("kpi_daily").drop(columns=["run_id", "computed_at"])

    backfill = _run(["backfill", "--from", str(days[1]), "--to", str(days[2])], tmp_path)
    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert f"succeeded for {days[1]}..{days[2]}" in backfill.stdout
    after = store.read_table("kpi_daily")
    assert after.groupby("day")["run_id"].nunique().max() == 1
    assert after[after["day"].isin(days[1:3])]["run_id"].nunique() == 1
    assert after[~after["day"].isin(days[1:3])]["run_id"].nunique() == 1
    key = ["day", "kpi", "dimension", "dimension_value"]
    assert before.sort_values(key).reset_index(drop=True).equals(
        after.drop(columns=["run_id", "computed_at"]).sort_values(key).reset_index(drop=True))

    period = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--json"], tmp_path)
    assert period.returncode == 0, period.stderr[-3000:]
    values = json.loads(period.stdout)
    # every ref of the project's own KPI reference, by its own name: cards, charts, the members list, Insi-6,
    # Smgo-1..5 (docs/kpi-reference.md, generated from the registry and kept fresh by test_readme)
    spec_refs = set(re.findall(r"\b((?:Wlst|Hook|Chat|Amb)-(?:Card|Line|Bar|Donut|List)-\d+(?:-net)?|Iadv-\d+|Insi-\d+"
                               r"|Smgo-\d+)\b", (ROOT / "docs" / "kpi-reference.md").read_text()))
    assert len(spec_refs) == 88 and spec_refs <= set(values), spec_refs - set(values)
    smgo = {f"Smgo-{n}" for n in range(1, 6)}
    assert set(values) == set(REGISTRY) | smgo | set(CHARTS) | set(LINE_SERIES) | {"Chat-List-1", "Insi-6"}
    assert {h: values["Insi-6"][h]["orders"] for h in ("new", "existing")} == {
        h: values[f"Insi-6-{h}-orders"]["value"] for h in ("new", "existing")}
    members = {m["member_id"]: m for m in values["Chat-List-1"]["members"]}
    assert round(sum(m["sales_total"] for m in members.values()), 2) == round(values["Chat-Card-80"]["value"], 2)
    assert all(m["last_name"] and m["role"] is not None for m in members.values())
    line = values["Wlst-Line-1"]["days"]         # a point per day of the period, each that day's kpi_daily value
    assert [p["day"] for p in line] == [str(d) for d in days]
    handled = after[(after["kpi"] == "Wlst-Card-10") & (after["dimension"] == "all")].set_index("day")["value"]
    assert [p["Requests handled"] for p in line] == [handled[d] for d in days]
    # campaign sales of the period, per kind, equal the campaign_orders rows placed in it
    credited = store.read_table("campaign_orders")
    by_kind = {r["kind"]: r for r in values["Smgo-1"]["by_kind"]}
    assert sum(r["orders"] for r in by_kind.values()) == len(credited) > 0
    assert round(sum(r["sales_sum"] for r in by_kind.values()), 2) == round(credited["total"].sum(), 2)
    trends = store.read_table("customer_trends")["trend"].value_counts().to_dict()
    assert values["Smgo-4"]["customers"] == trends
    segments = store.read_table("customer_segments")
    per_band = segments[segments["segment_type"] == "price_band"].groupby("segment")["customer_hash"].nunique()
    assert values["Smgo-3"]["customers"]["price_band"] == per_band.to_dict() and per_band.sum() > 0
    assert values["Smgo-3"]["as_of"] == str(segments["as_of"].max())
    daily_sales = after[(after["kpi"] == "Chat-Card-81") & (after["dimension"] == "all")]["value"].sum()
    assert values["Chat-Card-81"]["value"] == daily_sales          # a count of sales does add up over days
    # Insi-7's product table comes with the catalog; its units add up to the recommendation conversion's
    products = values["Insi-7"]["products"]
    assert products and set(products[0]) == {"product_id", "shown", "units_sold", "sales", "units_sold_after_shown"}
    assert round(sum(p["units_sold"] for p in products), 6) == round(values["Insi-7"]["denominator"], 6)
    assert {"product_daily", "campaign_orders", "campaign_stats", "customer_segments", "customer_trends",
            "product_mix"} <= set(store.table_names())
    assert len(store.read_table("campaign_stats")) > 0 and len(store.read_table("customer_segments")) > 0
    web = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--json", "--channel", "web",
                "--time-slot", "09:00-19:00", "--days", "mon,tue,wed,thu,fri"], tmp_path)
    assert web.returncode == 0 and json.loads(web.stdout)["Chat-Card-81"]["value"] <= daily_sales

    assert list(values["Chat-Bar-10"]["buckets"]) == list(CHARTS["Chat-Bar-10"].buckets)
    assert sum(values["Chat-Donut-1"]["buckets"].values()) == values["Chat-Card-1"]["value"]
    assert sum(values["Chat-Bar-11"]["buckets"].values()) == values["Chat-Card-10"]["value"]
    published = store.read_table("kpi_buckets_daily")       # new conversations by start day: days add up
    donut = published[(published["chart"] == "Chat-Donut-1") & (published["dimension"] == "all")]
    assert values["Chat-Donut-1"]["buckets"] == donut.groupby("bucket")["count"].sum().to_dict()

    text = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--charts"], tmp_path)
    assert text.returncode == 0, text.stderr[-3000:]
    for expected in ("Chat-Card-81", "Insi-6 (orders, revenue)", "Chat-List-1 members", "Chat-Bar-10",
                     f"Wlst-Line-1\n  day: {days[0]}", "Campaign sales in the period"):
        assert expected in text.stdout, expected
    bad_slot = _run(["kpis", "--from", str(days[0]), "--to", str(days[-1]), "--time-slot", "9-17"], tmp_path)
    assert bad_slot.returncode == 2 and "time slot '9-17' is not HH:MM-HH:MM" in bad_slot.stderr

    wrong = _run(["backfill", "--from", str(days[2]), "--to", str(days[1])], tmp_path)
    assert wrong.returncode == 2 and "is before --from" in wrong.stderr


def test_backfill_outside_the_partitions_is_refused_with_the_range(tmp_path, monkeypatch, capsys):
    """Partitions end with the last complete day: a range into the future cannot run, and says why."""
    from pipelines.cli import main

    for name in [k for k in os.environ if k.startswith(("CHATSALES_", "DAGSTER_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CHATSALES_HOME", str(tmp_path))
    monkeypatch.setenv("CHATSALES_START_DATE", "2026-01-01")
    assert main(["backfill", "--from", "2026-01-01", "--to", "2999-01-01"]) == 2
    message = capsys.readouterr().err
    assert "outside the daily partitions 2026-01-01.." in message and "2999-01-01" in message
