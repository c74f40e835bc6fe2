"""A backfill spread over several runs (one per chunk of days, in any order, as Dagster's backfill daemon
may launch them) ends, once the late-data sensor has settled, with exactly the tables of one single-run
backfill of the same days."""

from __future__ import annotations

import shutil
from datetime import timedelta

import dagster as dg
import pandas as pd

from chatsales.demo import generate_demo
from chatsales.demo.arrivals import sources_as_of
from chatsales.settings import today_in
from pipelines.definitions import definitions_for
from pipelines.jobs import SNAPSHOTS_JOB
from tests.nights import published, run, settings_for, settle

TZ = "Europe/Paris"
DAYS = 9
LAST = today_in(TZ) - timedelta(days=1)
FIRST = LAST - timedelta(days=DAYS - 1)
CHUNKS = [(FIRST + timedelta(days=n), FIRST + timedelta(days=min(n + 2, DAYS - 1))) for n in range(0, DAYS, 3)]


def _home(root, name, sources):
    home = root / name
    shutil.copytree(sources, home / "sources")
    paths = {
        "chat_db": home / "sources" / "chat.db",
        **{k: home / "sources" / k for k in ("orders", "store_sales", "campaigns")},
    }
    return settings_for(home, paths)


def test_chunks_in_reverse_order_then_the_sensor_equal_one_run(tmp_path):
    demo = generate_demo(tmp_path / "demo", FIRST, days=DAYS, scale=0.03, seed=34)
    sources = tmp_path / "sources"
    sources_as_of(demo, LAST, sources, TZ)

    single = _home(tmp_path, "single", sources)
    defs, instance = definitions_for(single), dg.DagsterInstance.ephemeral()
    run(defs, instance, first=FIRST, last=LAST)
    run(defs, instance, job=SNAPSHOTS_JOB)

    chunked = _home(tmp_path, "chunked", sources)
    defs, instance = definitions_for(chunked), dg.DagsterInstance.ephemeral()
    for first, last in (CHUNKS[1], CHUNKS[0], CHUNKS[2]):  # earlier days published before later sales exist
        run(defs, instance, first=first, last=last)
    _, requested = settle(defs, instance, None)
    run(defs, instance, job=SNAPSHOTS_JOB)

    got, want = published(chunked.reporting_db_url), published(single.reporting_db_url)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_dtype=False, obj=name)
    # the runs published in the wrong order were repaired by the sensor, for the reason the order caused
    assert requested and all(r.job_name == "daily_pipeline" for r in requested)
    assert any("sale_on_older_dialogue" in r.tags.get("chatsales/late_data", "") for r in requested), [
        r.tags for r in requested
    ]
