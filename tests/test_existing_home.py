"""A home written by chatsales before the day-local pipeline: its reporting database is migrated (Alembic,
from the first revision), its lake (whole snapshots, no catalog) is moved aside and rebuilt from the
sources, the run's log says which, and what is then published equals what a fresh home publishes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic import command

from chatsales.reporting.schema import BASELINE, VERSION_TABLE, _config, head
from tests.nights import published

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str], home: Path, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env.update(CHATSALES_HOME=str(home), CHATSALES_REPORTING_DB_URL=url)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _age(home: Path, url: str) -> None:
    """Make the home what the previous version left: the database at the first revision, the old lake."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(_config(conn), BASELINE)
    engine.dispose()
    shutil.rmtree(home / "lake")
    for asset, folder in (("chat_platform", "current"), ("order_attribution", "day=2026-01-05")):
        (home / "lake" / asset / folder).mkdir(parents=True)
        pd.DataFrame({"email": ["shopper@example.org"]}).to_parquet(home / "lake" / asset / folder / "x.parquet")


def test_an_old_home_is_migrated_and_its_lake_rebuilt(tmp_path, reporting_url):
    home = tmp_path / "home"
    demo = _cli(["demo", "--days", "4", "--scale", "0.02"], home, reporting_url)
    assert demo.returncode == 0, demo.stderr[-3000:]
    fresh = published(reporting_url)
    days = sorted(fresh["kpi_daily"]["day"].unique())
    _age(home, reporting_url)

    again = _cli(["backfill", "--from", str(days[0]), "--to", str(days[-1])], home, reporting_url)
    assert again.returncode == 0, again.stderr[-3000:]
    log = again.stdout + again.stderr
    assert "rebuilding the lake from the sources" in log, log[-3000:]
    assert f"schema upgraded from {BASELINE} to {head()}" in log
    aside = [p.name for p in tmp_path.joinpath("home").iterdir() if p.name.startswith("lake.before-day-local.")]
    assert len(aside) == 1 and (home / aside[0] / "chat_platform" / "current" / "x.parquet").exists()
    assert (home / "lake" / "catalog.sqlite").exists() and not (home / "lake" / "chat_platform").exists()
    engine = sa.create_engine(reporting_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == head()
    engine.dispose()
    migrated = published(reporting_url)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(migrated[name], frame, check_dtype=False, obj=name)


def test_a_state_kept_before_reads_by_key_is_rewritten_once_and_publishes_the_same(tmp_path, reporting_url):
    """A lake from before the state was read by key kept the products shown in one whole file and no layout
    mark: the next run splits it by month (same rows), says so in its log, and publishes what a fresh home
    publishes; the run after that rewrites nothing."""
    from chatsales.conversation_state import ROOM_PRODUCT, WHOLE_PRODUCTS
    from chatsales.extract.run import STATE_LAYOUT
    from chatsales.lake.catalog import Catalog
    from chatsales.lake.store import Lake
    from chatsales.settings import load_settings

    home = tmp_path / "home"
    demo = _cli(["demo", "--days", "4", "--scale", "0.02"], home, reporting_url)
    assert demo.returncode == 0, demo.stderr[-3000:]
    fresh = published(reporting_url)
    days = sorted(fresh["kpi_daily"]["day"].unique())
    lake = Lake(home / "lake", load_settings({"CHATSALES_HOME": str(home)}).timezone)
    shown = lake.read(ROOM_PRODUCT)
    assert len(shown) > 0 and lake.partitions(WHOLE_PRODUCTS) == []
    lake.write(WHOLE_PRODUCTS, "whole", shown)  # as the previous version kept it
    for folder in lake.folder(ROOM_PRODUCT).glob("month=*"):
        shutil.rmtree(folder)
    catalog = Catalog(home / "lake" / "catalog.sqlite")
    with catalog.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (STATE_LAYOUT,))

    again = _cli(["backfill", "--from", str(days[0]), "--to", str(days[-1])], home, reporting_url)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "products shown split by month" in again.stdout + again.stderr
    assert lake.partitions(WHOLE_PRODUCTS) == [] and len(lake.partitions(ROOM_PRODUCT)) >= 1
    pd.testing.assert_frame_equal(
        lake.read(ROOM_PRODUCT).sort_values(["chatroom_id", "product_id"]).reset_index(drop=True),
        shown.sort_values(["chatroom_id", "product_id"]).reset_index(drop=True),
    )
    for name, frame in published(reporting_url).items():
        pd.testing.assert_frame_equal(frame, fresh[name], check_dtype=False, obj=name)
    third = _cli(["backfill", "--from", str(days[-1]), "--to", str(days[-1])], home, reporting_url)
    assert third.returncode == 0 and "state files rewritten" not in third.stdout + third.stderr
