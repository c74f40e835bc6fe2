"""The SQL examples of docs/reporting-tables.md are what a BI user would copy: each ```sql block runs on a small
demo published through the pipeline, on SQLite and on PostgreSQL, returns the columns it promises and figures
that agree with the published tables (read back through ReportingStore, not through the example's SQL).

A block starts with `-- <title>`; `-- <title> (PostgreSQL)` / `(SQLite)` marks one of the two spellings of a
query the engines write differently (the week), which then runs on its own engine only and must agree with
the same check. Every title has a check here, so an example added to the doc without one fails.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from chatsales.demo import generate_demo
from chatsales.reporting.store import ReportingDb as ReportingStore
from chatsales.schema import REASONS
from chatsales.settings import load_settings
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB
from pipelines.partitions import range_tags

DOC = Path(__file__).resolve().parents[1] / "docs" / "reporting-tables.md"
FIRST, DAYS = date(2026, 3, 22), 8  # inside the doc's example month; 03-29 is the spring DST day
LAST = FIRST + timedelta(days=DAYS - 1)
DIALECTS = {"PostgreSQL": "postgresql", "SQLite": "sqlite"}


@dataclass(frozen=True)
class Example:
    title: str
    dialect: str | None  # None: runs on both engines
    sql: str


def sql_examples(text: str) -> list[Example]:
    examples = []
    for block in re.findall(r"^```sql\n(.*?)^```", text, re.S | re.M):
        first = block.splitlines()[0].strip()
        found = re.fullmatch(r"-- (.+?)(?: \((PostgreSQL|SQLite)\))?", first)
        assert found, f"a SQL example of {DOC.name} starts with `-- <title>`: {first!r}"
        examples.append(Example(found.group(1), DIALECTS.get(found.group(2)), block))
    return examples


# --- what each example must return, checked against the tables ----------------------------------------------


def _day(value) -> str:
    return str(value)[:10]


def _num(value) -> float | None:
    return None if value is None else float(value)


def _sales(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[~orders["is_cancelled"] & (orders["total"] > 0)]


def check_member_weeks(rows: pd.DataFrame, t: dict, params: dict) -> None:
    credited = t["orders"][t["orders"]["attributed"] & ~t["orders"]["is_cancelled"]]
    day = pd.to_datetime(credited["day"])
    week = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).dt.date.astype(str)  # ISO weeks start on Monday
    positive = credited["total"] > 0
    expected = (
        credited.assign(week=week, sale=positive.astype(int), gross=credited["total"].where(positive, 0.0))
        .groupby(["member_id", "week"])
        .agg(sales=("sale", "sum"), gross=("gross", "sum"), net=("net_total", "sum"))
    )
    got = {
        (r.member_id, _day(r.week_start)): (int(r.sales), round(_num(r.gross_sales), 2), round(_num(r.net_sales), 2))
        for r in rows.itertuples()
    }
    assert got == {key: (int(r.sales), round(r.gross, 2), round(r.net, 2)) for key, r in expected.iterrows()}
    assert {week for _, week in got} <= {
        "2026-03-16",
        "2026-03-23",
    }  # weeks start on Monday: Sunday 03-22 is in 03-16's
    # the weeks add up to the daily KPIs: gross is Chat-Card-80, net is Chat-Card-80-net
    kpis = t["kpis"][t["kpis"]["dimension"] == "all"]
    for column, ref in (("gross_sales", "Chat-Card-80"), ("net_sales", "Chat-Card-80-net")):
        assert round(sum(_num(v) for v in rows[column]), 2) == round(kpis.loc[kpis["kpi"] == ref, "value"].sum(), 2)
    assert round(sum(_num(v) for v in rows["gross_sales"]), 2) > 0


def check_share_per_day(rows: pd.DataFrame, t: dict, params: dict) -> None:
    sales = _sales(t["orders"])
    per_day = sales.groupby(sales["day"].astype(str)).agg(
        sales=("total", "size"), attributed=("attributed", "sum"), amount=("total", "sum")
    )
    c81 = t["kpis"][(t["kpis"]["kpi"] == "Chat-Card-81") & (t["kpis"]["dimension"] == "all")]
    c81 = dict(zip(c81["day"].astype(str), c81["value"]))
    assert [_day(d) for d in rows["day"]] == list(per_day.index)
    for r in rows.itertuples():
        want = per_day.loc[_day(r.day)]
        assert (int(r.sales), int(r.attributed_sales)) == (want["sales"], want["attributed"])
        assert int(r.attributed_sales) == c81[_day(r.day)]  # = the day's Chat-Card-81
        assert abs(_num(r.attributed_share) - want["attributed"] / want["sales"]) <= 0.00005 + 1e-12  # ROUND(…, 4)
        assert round(_num(r.total_amount), 2) == round(want["amount"], 2)
    assert sum(int(v) for v in rows["attributed_sales"]) > 0


def check_reasons(rows: pd.DataFrame, t: dict, params: dict) -> None:
    orders = t["orders"]
    outcome = orders["reason"].where(~orders["attributed"], "attributed")
    expected = orders.assign(outcome=outcome).groupby(["sales_channel", "outcome"]).size().to_dict()
    got = {(r.sales_channel, r.outcome): int(r.orders) for r in rows.itertuples()}
    assert got == expected and set(rows["outcome"]) <= {"attributed", *REASONS}
    assert {"attributed", "no_identity", "no_conversation"} <= set(rows["outcome"])
    sold = _sales(orders)
    attributed_amount = sum(_num(r.sales_amount) for r in rows.itertuples() if r.outcome == "attributed")
    assert round(attributed_amount, 2) == round(sold.loc[sold["attributed"], "total"].sum(), 2)


def check_kpi_series(rows: pd.DataFrame, t: dict, params: dict) -> None:
    assert [_day(d) for d in rows["day"]] == [str(FIRST + timedelta(days=i)) for i in range(DAYS)]
    sales = _sales(t["orders"])
    credited = sales[sales["attributed"]].groupby(sales["day"].astype(str)).size()
    for r in rows.itertuples():
        assert _num(r.attributed_sales) == credited.get(_day(r.day), 0)  # numerator = attributed sales
        if _num(r.active_dialogues):
            assert math.isclose(_num(r.conversion), _num(r.attributed_sales) / _num(r.active_dialogues))
        else:
            assert r.conversion is None or math.isnan(_num(r.conversion))
    assert sum(_num(v) for v in rows["active_dialogues"]) > 0


def check_ledger(rows: pd.DataFrame, t: dict, params: dict) -> None:
    ledger = t["ledger"]
    mine = ledger[(ledger["order_id"] == params["order_id"]) & (ledger["sales_channel"] == params["sales_channel"])]
    assert len(rows) == len(mine) >= 2
    assert rows["change"].iloc[0] == "first" and rows["change"].iloc[-1] != "first"
    now = t["orders"].set_index(["sales_channel", "order_id"]).loc[(params["sales_channel"], params["order_id"])]
    last = rows.iloc[-1]
    if now["attributed"]:
        assert (last["new_chatroom_id"], last["new_member_id"]) == (now["chatroom_id"], now["member_id"])
    else:
        assert (last["new_chatroom_id"], last["new_reason"]) == (None, now["reason"])
    assert int(last["window_days"]) == int(now["window_days"]) == 1


CHECKS = {
    "Attributed sales per member and week": (
        ["member_id", "week_start", "sales", "gross_sales", "net_sales"],
        check_member_weeks,
    ),
    "Attribution share per day": (
        ["day", "sales", "attributed_sales", "attributed_share", "attributed_amount", "total_amount"],
        check_share_per_day,
    ),
    "Reasons breakdown": (["sales_channel", "outcome", "orders", "sales_amount"], check_reasons),
    "KPI series": (["day", "conversion", "attributed_sales", "active_dialogues"], check_kpi_series),
    "Ledger of one order": (
        [
            "changed_at",
            "change",
            "old_member_id",
            "new_member_id",
            "old_chatroom_id",
            "new_chatroom_id",
            "old_reason",
            "new_reason",
            "window_days",
            "run_id",
        ],
        check_ledger,
    ),
}


def test_the_doc_has_five_checked_examples_each_for_both_engines():
    examples = sql_examples(DOC.read_text())
    titles = {e.title for e in examples}
    assert titles == set(CHECKS) and len(titles) >= 5
    for title in titles:
        dialects = sorted(e.dialect or "both" for e in examples if e.title == title)
        assert dialects in (["both"], ["postgresql", "sqlite"]), (title, dialects)


# --- a demo published through the pipeline ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return generate_demo(tmp_path_factory.mktemp("sql_demo") / "data", FIRST, days=DAYS, scale=0.04, seed=11)


def _publish(home: Path, demo, reporting_url: str, window_days: int) -> None:
    settings = load_settings(
        {
            "CHATSALES_HOME": str(home),
            "CHATSALES_START_DATE": str(demo.first_day),
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
            "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
            "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir),
            "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
            "CHATSALES_REPORTING_DB_URL": reporting_url,
            "CHATSALES_WINDOW_DAYS": str(window_days),
        }
    )
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, tags=range_tags(FIRST, LAST)).success


def test_every_sql_example_runs_on_a_published_demo(reporting_url, demo, tmp_path):
    """Published with a 14-day window, then again with a 1-day one, so the ledger holds real changes."""
    _publish(tmp_path / "home", demo, reporting_url, 14)
    _publish(tmp_path / "home", demo, reporting_url, 1)
    store = ReportingStore(reporting_url)
    tables = {
        "orders": store.read_table("attributed_orders"),
        "kpis": store.read_table("kpi_daily"),
        "ledger": store.read_table("attribution_ledger"),
    }
    changed = tables["ledger"][tables["ledger"]["change"] != "first"].sort_values(["sales_channel", "order_id"])
    assert len(changed) > 0
    params = {"sales_channel": changed["sales_channel"].iloc[0], "order_id": changed["order_id"].iloc[0]}
    engine = store.engine.dialect.name
    ran = set()
    with store.engine.connect() as conn:
        for example in sql_examples(DOC.read_text()):
            if example.dialect not in (None, engine):
                continue
            result = conn.execute(sa.text(example.sql), {k: v for k, v in params.items() if f":{k}" in example.sql})
            rows = pd.DataFrame(result.fetchall(), columns=list(result.keys())).astype(object)
            rows = rows.where(rows.notna(), None)
            columns, check = CHECKS[example.title]
            assert list(rows.columns) == columns, example.title
            assert len(rows) > 0, example.title
            check(rows, tables, params)
            ran.add(example.title)
    store.dispose()
    assert ran == set(CHECKS)
