"""A period query reads only the days of history it needs (facts.PERIOD_BOUND): for any period, filters,
time slot or weekdays it gives exactly what the whole history gives, KPIs, charts and Insi-7's products."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest

from chatsales.demo import generate_demo
from chatsales.kpis.insights import product_table
from chatsales.period import Periods
from chatsales.query import period_charts, period_kpis, stored_facts
from chatsales.settings import load_settings
from pipelines.definitions import definitions_for
from pipelines.jobs import DAILY_JOB
from pipelines.partitions import range_tags

FIRST, DAYS, TZ = date(2026, 10, 20), 10, "Europe/Paris"  # the autumn DST change is 2026-10-25
LAST = FIRST + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    home = tmp_path_factory.mktemp("periods")
    demo = generate_demo(home / "demo", FIRST, days=DAYS, scale=0.05, seed=11)
    settings = load_settings(
        {
            "CHATSALES_HOME": str(home),
            "CHATSALES_START_DATE": str(FIRST),
            "CHATSALES_TIMEZONE": TZ,
            "CHATSALES_CHAT_DB_URL": f"sqlite:///{demo.chat_db_path}",
            "CHATSALES_ORDERS_DIR": str(demo.orders_dir),
            "CHATSALES_STORE_SALES_DIR": str(demo.store_sales_dir),
            "CHATSALES_CAMPAIGNS_DIR": str(demo.campaigns_dir),
            "CHATSALES_REPORTING_DB_URL": f"sqlite:///{home / 'reporting.db'}",
        }
    )
    job = definitions_for(settings).resolve_job_def(DAILY_JOB)
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=range_tags(FIRST, LAST)).success
    return settings.reporting_db_url


DST_DAY = date(2026, 10, 25)
OPTIONS = (
    {},
    {"filters": {"source": "direct"}, "time_slot": "09:00-19:00"},
    {"filters": {"channel": "web"}, "weekdays": "mon,tue,sun"},
)
PERIODS = [(FIRST + timedelta(days=n), FIRST + timedelta(days=n)) for n in range(DAYS)] + [
    (FIRST, FIRST + timedelta(days=1)),
    (date(2026, 10, 24), date(2026, 10, 26)),
    (LAST - timedelta(days=2), LAST),
    (FIRST, LAST),
]


def test_a_period_read_from_its_days_equals_the_whole_history(url):
    history = stored_facts(url)
    bounded = stored_facts(url, FIRST + timedelta(days=4), FIRST + timedelta(days=4))
    assert len(bounded.messages) < len(history.messages) and len(bounded.chatrooms) == len(history.chatrooms)
    for first, last in PERIODS:  # every day as it is; filters, a time slot and weekdays on the DST day and ranges
        for options in OPTIONS if first != last or first == DST_DAY else OPTIONS[:1]:
            got = period_kpis(url, first, last, TZ, **options)
            want = period_kpis(url, first, last, TZ, facts=history, **options)
            pd.testing.assert_frame_equal(got, want, check_exact=True, obj=f"{first}..{last} {options}")
        pd.testing.assert_frame_equal(
            period_charts(url, first, last, TZ), period_charts(url, first, last, TZ, facts=history), check_exact=True
        )
        periods = Periods.range(first, last, TZ)
        pd.testing.assert_frame_equal(
            product_table(stored_facts(url, first, last), periods), product_table(history, periods), check_exact=True
        )
    whole = period_kpis(url, FIRST, LAST, TZ).set_index("kpi")
    assert whole.loc["Chat-Card-1", "value"] > 0 and whole.loc["Chat-Card-81", "value"] > 0
