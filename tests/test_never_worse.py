"""Never worse than yesterday (issue 17), through the real `chatsales backfill` over a small published demo.

Each test copies the published demo home, breaks one thing as a bad day would (a setting, a source file, the
chat database), runs `chatsales backfill` over the published days in a real subprocess, and checks: the
exit code is not 0, the last line is `run …: FAILED at <step>: <one line>` naming the source, the count and
the setting that allows it, and every published table is byte for byte what it was (same rows, same run ids).

Seen failing before the fix (issue 17, "Why" 1): CHATSALES_CURRENCY=XXX crashed store_sales with `KeyError: 0`
(no source, no count); a POS file rejected whole counted as one reject; and the reporting DB was the only
guard of a collapsed day.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "pipelines.cli"]
KEPT = (
    "attributed_orders",
    "attribution_ledger",
    "kpi_daily",
    "kpi_buckets_daily",
    "member_daily",
    "product_daily",
    "campaign_orders",
    "fact_streams",
    "pipeline_days",
)


def run_cli(args: list[str], home: Path, **env_changes: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env.update(CHATSALES_HOME=str(home), **env_changes)
    return subprocess.run(CLI + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory) -> tuple[Path, list[str]]:
    """A 4-day demo, published once for every test of the session; returns its home and its days."""
    home = tmp_path_factory.mktemp("published") / "home"
    demo = run_cli(["demo", "--days", "4", "--scale", "0.02"], home)
    assert demo.returncode == 0, demo.stderr[-3000:]
    days = (
        pd.read_sql(
            "select distinct day from kpi_daily order by day", sa.create_engine(f"sqlite:///{home / 'reporting.db'}")
        )["day"]
        .astype(str)
        .tolist()
    )
    assert len(days) == 4
    return home, days


@pytest.fixture
def demo_home(published_demo, tmp_path) -> tuple[Path, list[str]]:
    """A private copy of the published demo home."""
    home, days = published_demo
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy, days


def published(home: Path) -> dict[str, pd.DataFrame]:
    """Every published table, rows sorted, run ids and timestamps included."""
    engine = sa.create_engine(f"sqlite:///{home / 'reporting.db'}")
    try:
        out = {}
        for name in KEPT:
            frame = pd.read_sql(f"select * from {name}", engine)
            out[name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        return out
    finally:
        engine.dispose()


def assert_unchanged(before: dict[str, pd.DataFrame], home: Path) -> None:
    after = published(home)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(after[name], frame, obj=name)


def backfill(home: Path, days: list[str], *extra: str, **env: str) -> subprocess.CompletedProcess:
    return run_cli(["backfill", "--from", days[0], "--to", days[-1], *extra], home, **env)


def failed_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("run ") and ": FAILED at " in last, last
    return last


def fresh_lake(home: Path) -> None:
    """Every source is read again from scratch, as on the first night of a new lake."""
    shutil.rmtree(home / "lake")


def test_a_wrong_currency_rejecting_every_order_fails_and_replaces_nothing(demo_home):
    home, days = demo_home
    before = published(home)
    fresh_lake(home)
    line = failed_line(backfill(home, days, CHATSALES_CURRENCY="XXX"))
    assert ": FAILED at web_orders: web_orders: " in line or ": FAILED at store_sales: store_sales: " in line, line
    assert "rows rejected (100.0%), above CHATSALES_REJECT_THRESHOLD=0.01" in line
    assert_unchanged(before, home)


def test_integer_sent_at_on_every_message_fails_and_replaces_nothing(demo_home):
    home, days = demo_home
    before = published(home)
    fresh_lake(home)
    with sqlite3.connect(home / "demo" / "chat.db") as conn:
        messages = conn.execute("select count(*) from messages").fetchone()[0]
        conn.execute("update messages set sent_at = 1764000000")
    line = failed_line(backfill(home, days))
    assert f"FAILED at chat_platform: chat_platform: {messages:,} of " in line, line
    assert "above CHATSALES_REJECT_THRESHOLD=0.01" in line
    assert_unchanged(before, home)


@pytest.mark.parametrize("fault", ["semicolons", "empty clicks"])
def test_a_broken_campaign_file_fails_and_replaces_nothing(demo_home, fault):
    home, days = demo_home
    before = published(home)
    folder = home / "demo" / "campaigns"
    if fault == "semicolons":
        text = (folder / "campaigns.csv").read_text()
        (folder / "campaigns.csv").write_text(text.replace(",", ";"))
    else:
        (folder / "campaign_clicks.csv").write_text("")
    line = failed_line(backfill(home, days))
    assert "FAILED at marketing_touchpoints: marketing_touchpoints: " in line, line
    assert "rows rejected" in line and "CHATSALES_REJECT_THRESHOLD=0.01" in line
    assert_unchanged(before, home)


def test_pos_rejects_over_the_threshold_counting_a_rejected_file_by_its_rows_fail(demo_home):
    """One POS file of the day loses its currency column: rejected whole, it counts by its rows."""
    home, days = demo_home
    before = published(home)
    file = sorted((home / "demo" / "store_sales").glob("*.csv"))[-1]
    frame = pd.read_csv(file, dtype=str)
    frame.drop(columns="currency").to_csv(file, index=False)
    line = failed_line(backfill(home, days))
    assert f"FAILED at store_sales: store_sales: {len(frame):,} of " in line, line
    assert "above CHATSALES_REJECT_THRESHOLD=0.01" in line
    assert_unchanged(before, home)


def test_a_source_that_collapses_against_the_published_day_stops_the_publication_unless_forced(demo_home):
    """The orders export of one day vanished (a fresh lake, the file gone): that day would drop to no web
    orders. The run fails naming the source, the day, the counts and CHATSALES_MAX_DAY_DROP_PCT; --force
    publishes it and says so in the ledger."""
    home, days = demo_home
    before = published(home)
    fresh_lake(home)
    gone = home / "demo" / "orders" / f"orders-{days[1]}.jsonl"
    expected = int(
        before["pipeline_days"].set_index(before["pipeline_days"]["day"].astype(str)).loc[days[1], "web_orders"]
    )
    gone.unlink()
    line = failed_line(backfill(home, days))
    assert (
        f"FAILED at reporting_db: reporting_db: web_orders: {days[1]} would go from {expected:,} web orders to 0, "
        "a fall of more than CHATSALES_MAX_DAY_DROP_PCT=50%"
    ) in line, line
    assert_unchanged(before, home)

    forced = backfill(home, days, "--force")
    assert forced.returncode == 0, forced.stderr[-3000:]
    after = published(home)
    day_rows = after["pipeline_days"].set_index(after["pipeline_days"]["day"].astype(str))
    assert day_rows.loc[days[1], "web_orders"] == 0
    ledger = after["attribution_ledger"]
    removed = ledger[ledger["change"] == "removed"]
    assert len(removed) == expected and removed["forced"].astype(bool).all()
    assert set(removed["day"].astype(str)) == {days[1]} and set(removed["sales_channel"]) == {"web"}
    assert not ledger.loc[ledger["change"] != "removed", "forced"].astype(bool).any()


def test_another_pii_key_on_a_kept_lake_fails_and_replaces_nothing_until_the_lake_is_moved_aside(demo_home):
    """The lake's email hashes were made with one key: a night with another would hash new emails that never
    match the kept ones. Rotating the key means moving the lake aside (docs/operations.md)."""
    home, days = demo_home
    before = published(home)
    line = failed_line(backfill(home, days, CHATSALES_PII_KEY="a-rotated-key"))
    assert "CHATSALES_PII_KEY is not the key the lake at " in line and "move the lake aside" in line, line
    assert "a-rotated-key" not in line
    assert_unchanged(before, home)
    fresh_lake(home)
    again = backfill(home, days, CHATSALES_PII_KEY="a-rotated-key")
    assert again.returncode == 0, (again.stdout[-2000:], again.stderr[-3000:])
    hashes = published(home)["attributed_orders"]["customer_hash"].dropna()
    assert len(hashes) and not set(hashes) & set(before["attributed_orders"]["customer_hash"].dropna())
