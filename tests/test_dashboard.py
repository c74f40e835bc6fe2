"""The dashboard over a published demo: its numbers are `chatsales kpis --json`'s for the same period and
filters (the same query function, formatted by kpis.presentation), on every page, in Streamlit's AppTest and
in a real browser (headless Chromium driven by selenium) against `chatsales dashboard`. The attribution
explorer's answers are the published rows; its order id never reaches SQL text."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from chatsales import explorer
from chatsales.dashboard.periods import preset_range, previous_range
from chatsales.kpis import REGISTRY
from chatsales.kpis import presentation as fmt
from chatsales.kpis.charts import CHARTS, LINE_SERIES
from chatsales.reporting.store import ReportingDb

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "chatsales" / "dashboard" / "app.py"
CLI = [sys.executable, "-m", "pipelines.cli"]
CARD_PAGES = {
    "views/popsell.py": ("Wlst-", "Hook-", "Chat-", "Amb-"),
    "views/iadvize.py": ("Iadv-",),
    "views/insights.py": ("Insi-",),
}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATSALES_", "DAGSTER_"))}
    env["CHATSALES_HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small published demo (6 days): its home, reporting URL and published days."""
    home = tmp_path_factory.mktemp("dashboard")
    run = subprocess.run(
        CLI + ["demo", "--days", "6", "--scale", "0.02"],
        cwd=ROOT,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "open the dashboard: CHATSALES_HOME=" in run.stdout and "chatsales dashboard" in run.stdout
    url = f"sqlite:///{home / 'reporting.db'}"
    with ReportingDb(url) as db:
        days = sorted(db.published_days())
    return home, url, days


def kpis_json(home: Path, first: date, last: date, *options: str) -> dict:
    run = subprocess.run(
        CLI + ["kpis", "--from", str(first), "--to", str(last), "--json", *options],
        cwd=ROOT,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def shown_cards(values: dict, prefixes: tuple[str, ...]) -> dict[str, str]:
    """What the card of each registry ref with these prefixes must display: the text `chatsales kpis --json`
    gives it, which is its value formatted."""
    for ref in REGISTRY:
        entry = values[ref]
        assert entry["text"] == fmt.format_value(fmt.shown_value(ref, entry["value"]), fmt.unit_of(ref))
    return {ref: values[ref]["text"] for ref in REGISTRY if ref.startswith(prefixes)}


# --- pure parts ---------------------------------------------------------------------------------------


def test_presets_count_back_from_the_last_published_day():
    first, last = date(2026, 9, 5), date(2026, 12, 3)
    assert preset_range("yesterday", last, first) == (last, last)
    assert preset_range("last_7_days", last, first) == (date(2026, 11, 27), last)
    assert preset_range("last_30_days", last, first) == (date(2026, 11, 4), last)
    assert preset_range("month_to_date", last, first) == (date(2026, 12, 1), last)
    assert preset_range("custom", last, first, (date(2026, 10, 1), date(2026, 10, 3))) == (
        date(2026, 10, 1),
        date(2026, 10, 3),
    )
    assert preset_range("last_30_days", date(2026, 9, 10), first) == (first, date(2026, 9, 10))  # clipped
    assert previous_range(date(2026, 11, 27), last) == (date(2026, 11, 20), date(2026, 11, 26))
    assert previous_range(last, last) == (last - timedelta(days=1), last - timedelta(days=1))
    with pytest.raises(ValueError, match="ends .* before it starts"):
        preset_range("custom", last, first, (date(2026, 10, 3), date(2026, 10, 1)))
    with pytest.raises(ValueError, match="use one of yesterday"):
        preset_range("last_week", last, first)


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_bad_port_is_refused_in_one_line(port, capsys):
    from pipelines.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["dashboard", "--port", port])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"chatsales dashboard: argument --port: '{port}' is not a TCP port (1..65535)")


# --- the attribution explorer -------------------------------------------------------------------------


def test_the_explorer_explains_every_outcome_with_the_published_row_and_its_ledger(demo):
    _, url, _ = demo
    with ReportingDb(url) as db:
        orders = db.read_table("attributed_orders")
        ledger = db.read_table("attribution_ledger")
    samples = explorer.sample_orders(url)
    outcomes = set(orders["reason"].fillna("attributed"))
    assert set(samples) == outcomes and "attributed" in outcomes and len(outcomes) >= 4
    for outcome, order_id in samples.items():
        found = explorer.explain_order(url, f"  {order_id} ")
        want = orders[orders["order_id"] == order_id].sort_values("sales_channel")
        assert found.found and len(found.orders) == len(want)
        row, published = found.orders.iloc[0], want.iloc[0]
        assert (row["reason"] if not row["attributed"] else "attributed") == outcome
        for column in ("chatroom_id", "member_id", "match_key", "window_days", "sales_channel"):
            assert row[column] == published[column] or (pd.isna(row[column]) and pd.isna(published[column]))
        assert row["last_message_at"] == published["last_message_at"] or pd.isna(published["last_message_at"])
        history = ledger[ledger["order_id"] == order_id]
        assert list(found.history["change"]) == list(history.sort_values("changed_at")["change"])
        assert found.history["change"].iloc[0] == "first"
        assert (
            explorer.why(None if outcome == "attributed" else outcome)
            == explorer.REASONS[None if outcome == "attributed" else outcome]
        )


def test_what_a_person_types_never_reaches_the_sql_text(demo):
    _, url, _ = demo
    assert not explorer.explain_order(url, "x' OR '1'='1").found
    assert not explorer.explain_order(url, "1; DROP TABLE attributed_orders; --").found
    assert explorer.order_ids_like(url, "%") == [] and explorer.order_ids_like(url, "_") == []
    some = explorer.sample_orders(url)["attributed"]
    assert some in explorer.order_ids_like(url, some[:3], limit=1000)
    with ReportingDb(url) as db:
        assert len(db.read_table("attributed_orders")) > 0  # still there
    with pytest.raises(ValueError, match="order id: give 1 to 200 characters"):
        explorer.explain_order(url, "   ")


def test_the_dashboard_connection_cannot_write(demo):
    _, url, _ = demo
    with (
        ReportingDb(url, read_only=True) as db,
        db.engine.connect() as conn,
        pytest.raises(sa.exc.OperationalError, match="readonly"),
    ):
        conn.execute(sa.text("DELETE FROM kpi_daily"))


# --- Streamlit AppTest: every page, quickly -------------------------------------------------------------


@pytest.fixture
def app(demo, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home, url, _ = demo
    monkeypatch.setenv("CHATSALES_HOME", str(home))
    monkeypatch.setenv("CHATSALES_REPORTING_DB_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_before_anything_is_published_the_dashboard_says_what_to_run(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CHATSALES_HOME", str(tmp_path))
    monkeypatch.setenv("CHATSALES_REPORTING_DB_URL", f"sqlite:///{tmp_path / 'reporting.db'}")
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception and [w.value for w in at.warning] == [
        "Nothing is published yet: run `chatsales demo`, or the pipeline, then reload this page."
    ]
    assert not (tmp_path / "reporting.db").exists()  # asking created nothing


def app_cards(at) -> dict[str, str]:
    """ref → displayed value, from the cards' HTML."""
    import re

    html = "".join(m.value for m in at.markdown)
    return dict(re.findall(r'data-ref="([^"]+)">.*?<div class="cs-value">([^<]*)</div>', html))


def test_every_page_shows_the_catalog_of_the_chosen_period(demo, app):
    home, _, days = demo
    first, last = max(days[0], days[-1] - timedelta(days=6)), days[-1]  # the default: last 7 days
    values = kpis_json(home, first, last)
    seen: dict[str, str] = {}
    for page, prefixes in CARD_PAGES.items():
        app.switch_page(page).run()
        assert not app.exception, (page, app.exception)
        shown = app_cards(app)
        assert shown == shown_cards(values, prefixes), page
        seen.update(shown)
    assert set(seen) == set(REGISTRY)  # every card of the catalog is on a page
    app.switch_page("views/popsell.py").run()
    charts = app.get("vega_lite_chart")
    assert len(charts) == len(CHARTS) + len(LINE_SERIES) == 12
    app.switch_page("views/insights.py").run()
    products = app.dataframe[0].value
    assert round(products["units_sold"].sum(), 6) == round(values["Insi-7"]["denominator"], 6)

    app.switch_page("views/members.py").run()
    board = app.dataframe[0].value
    assert list(board["rank"]) == list(range(1, len(board) + 1))
    assert list(board["sales_total"]) == sorted(board["sales_total"], reverse=True)
    assert round(board["sales_total"].sum(), 2) == round(values["Chat-Card-80"]["value"], 2)
    app.selectbox(key="members_sort").select("active_dialogues").run()
    board = app.dataframe[0].value
    assert list(board["active_dialogues"]) == sorted(board["active_dialogues"], reverse=True)

    app.switch_page("views/campaigns.py").run()
    assert not app.exception
    by_kind = app.dataframe[0].value
    assert by_kind["orders"].sum() == sum(r["orders"] for r in values["Smgo-1"]["by_kind"])


def test_a_card_shows_its_parts_its_change_and_whether_it_fluctuates(demo, app):
    """Yesterday against the day before: each card's numerator / denominator and change are the CLI's
    figures for the two days, formatted; the fluctuating KPIs, and only they, carry the mark."""
    import re

    home, _, days = demo
    app.sidebar.selectbox(key="period").select("yesterday").run()
    now, before = kpis_json(home, days[-1], days[-1]), kpis_json(home, days[-2], days[-2])
    html = "".join(m.value for m in app.markdown)
    cards = dict(re.findall(r'data-ref="([^"]+)">(.*?)(?=<div class="cs-card"|$)', html))
    assert set(cards) == {r for r in REGISTRY if r.startswith(CARD_PAGES["views/popsell.py"])}
    changed = 0
    for ref, body in cards.items():
        entry, unit = now[ref], fmt.unit_of(ref)
        num_unit, den_unit = fmt.parts_units(ref)
        ratio = re.search(r'<div class="cs-ratio">(.*?) / (.*?)</div>', body)
        if entry["denominator"] is None:
            assert ratio is None, ref
        else:
            assert ratio.groups() == (
                fmt.format_value(entry["numerator"], num_unit),
                fmt.format_value(entry["denominator"], den_unit),
            ), ref
        change = fmt.format_change(
            fmt.shown_value(ref, entry["value"]), fmt.shown_value(ref, before[ref]["value"]), unit
        )
        shown = re.search(r'<div class="cs-change [^"]+">(.*?) vs previous</div>', body)
        assert (shown.group(1) if shown else fmt.MISSING) == change, ref
        changed += shown is not None
        assert ('class="cs-f"' in body) == REGISTRY[ref].fluctuating, ref
    assert changed > 20


def test_filters_and_the_period_follow_the_cli(demo, app):
    home, _, days = demo
    app.sidebar.selectbox(key="channel").select("web").run()
    app.sidebar.selectbox(key="period").select("yesterday").run()
    app.sidebar.text_input(key="slot").input("09:00-19:00").run()
    app.sidebar.multiselect(key="days").select("mon").select("tue").select("wed").select("thu").select("fri").select(
        "sat"
    ).run()
    assert not app.exception
    last = days[-1]
    values = kpis_json(
        home, last, last, "--channel", "web", "--time-slot", "09:00-19:00", "--days", "mon,tue,wed,thu,fri,sat"
    )
    assert app_cards(app) == shown_cards(values, CARD_PAGES["views/popsell.py"])
    assert dict(app.query_params) == {
        "period": "yesterday",
        "channel": "web",
        "slot": "09:00-19:00",
        "days": "mon,tue,wed,thu,fri,sat",
    }
    app.sidebar.text_input(key="slot").input("9-17").run()
    assert [e.value for e in app.sidebar.error] == ["time slot '9-17' is not HH:MM-HH:MM"]

    app.sidebar.text_input(key="slot").input("").run()
    app.sidebar.multiselect(key="days").set_value([]).run()
    app.sidebar.selectbox(key="channel").select("").run()
    app.sidebar.selectbox(key="period").select("custom").run()
    app.sidebar.date_input(key="custom_range").set_value((days[1], days[3])).run()
    assert app_cards(app) == shown_cards(kpis_json(home, days[1], days[3]), CARD_PAGES["views/popsell.py"])
    assert dict(app.query_params) == {"period": "custom", "from": str(days[1]), "to": str(days[3])}


def test_the_explorer_page_answers_an_order_id(demo, app):
    _, url, _ = demo
    samples = explorer.sample_orders(url)
    app.switch_page("views/explorer.py").run()
    for outcome in ("attributed", "outside_window"):
        if outcome not in samples:
            continue
        app.text_input(key="explorer_order").input(samples[outcome]).run()
        heading = app.subheader[0].value
        assert heading.endswith("attributed" if outcome == "attributed" else f"not attributed — {outcome}")
        assert app.subheader[-1].value == "History in the ledger" and app.dataframe[0].value["change"][0] == "first"
    app.text_input(key="explorer_order").input("no-such-order").run()
    assert "no published order or receipt has the id 'no-such-order'" in app.warning[0].value


# --- a real browser against `chatsales dashboard` ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(demo, tmp_path):
    """`chatsales dashboard` on a free port; stopped as a person's `kill` would, which stops Streamlit too."""
    home, _, _ = demo
    port = free_port()
    log = (tmp_path / "dashboard.log").open("w")
    process = subprocess.Popen(
        CLI + ["dashboard", "--port", str(port)],
        cwd=ROOT,
        env=_env(home),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "dashboard.log").read_text()
                time.sleep(0.3)
        else:
            raise AssertionError("the dashboard did not listen within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        with pytest.raises(OSError):  # Streamlit stopped with the command
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    yield driver
    driver.quit()


def page_cards(driver) -> dict[str, str]:
    from selenium.webdriver.common.by import By

    return {
        c.get_attribute("data-ref"): c.find_element(By.CLASS_NAME, "cs-value").text
        for c in driver.find_elements(By.CSS_SELECTOR, ".cs-card")
    }


def wait_for(driver, condition, what: str, timeout: float = 90):
    """Poll until `condition(driver)` is truthy; on timeout say what was awaited and what was last seen."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = condition(driver)
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - an element replaced while reading it: read again
            last = error
        time.sleep(0.25)
    raise AssertionError(f"waited {timeout} s for {what}; last saw {last!r}")


def pick(driver, label: str, option: str) -> None:
    """Choose `option` in the sidebar's selectbox `label`, as a person does: open it, click the option."""
    from selenium.webdriver.common.by import By

    driver.find_element(
        By.CSS_SELECTOR, f"[data-testid='stSidebar'] [data-testid='stSelectbox'] input[aria-label='{label}']"
    ).click()
    choice = wait_for(
        driver,
        lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, "[role='option']") if o.text.strip() == option],
        f"option {option!r} of {label}",
        20,
    )
    choice[0].click()


@pytest.mark.slow
def test_a_browser_sees_the_cli_numbers_on_every_page_and_follows_the_filters(demo, server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    home, url, days = demo
    first, last = max(days[0], days[-1] - timedelta(days=6)), days[-1]
    values = kpis_json(home, first, last)
    pages = {"": "views/popsell.py", "iadvize": "views/iadvize.py", "insights": "views/insights.py"}
    for path, page in pages.items():
        browser.get(f"{server}/{path}")
        want = shown_cards(values, CARD_PAGES[page])
        wait_for(browser, lambda d, want=want: page_cards(d) == want, f"the cards of /{path} = chatsales kpis")
        browser.save_screenshot(str(tmp_path / f"page-{path or 'home'}.png"))
    for path, title in (
        ("campaigns", "Campaigns and segments"),
        ("members", "Members leaderboard (Chat-List-1)"),
        ("explorer", "Attribution explorer"),
    ):
        browser.get(f"{server}/{path}")
        wait_for(
            browser,
            lambda d, title=title: [h for h in d.find_elements(By.TAG_NAME, "h1") if h.text.strip() == title],
            f"the title of /{path}",
        )
        wait_for(
            browser,
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame'], [data-testid='stTextInput']"),
            f"the content of /{path}",
        )
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
        browser.save_screenshot(str(tmp_path / f"page-{path}.png"))

    order_id = explorer.sample_orders(url)["attributed"]  # the explorer, typed in
    field = browser.find_element(By.CSS_SELECTOR, "input[aria-label='Order id']")
    field.send_keys(order_id, Keys.ENTER)
    wait_for(
        browser,
        lambda d: [h for h in d.find_elements(By.TAG_NAME, "h3") if h.text.endswith(": attributed")],
        "the explorer's verdict",
    )
    browser.save_screenshot(str(tmp_path / "page-explorer-order.png"))

    browser.get(server)  # a filter, then the period, changed through the sidebar
    wait_for(browser, lambda d: page_cards(d) == shown_cards(values, CARD_PAGES["views/popsell.py"]), "the cards")
    pick(browser, "Channel", "web")
    web = kpis_json(home, first, last, "--channel", "web")
    assert shown_cards(web, ("Chat-Card-81",)) != shown_cards(values, ("Chat-Card-81",))  # the filter matters
    wait_for(
        browser,
        lambda d: page_cards(d) == shown_cards(web, CARD_PAGES["views/popsell.py"]),
        "the cards with channel web",
    )
    pick(browser, "Period", "Yesterday")
    yesterday = kpis_json(home, last, last, "--channel", "web")
    wait_for(
        browser,
        lambda d: page_cards(d) == shown_cards(yesterday, CARD_PAGES["views/popsell.py"]),
        "the cards of yesterday with channel web",
    )
    assert "period=yesterday" in browser.current_url and "channel=web" in browser.current_url
    browser.save_screenshot(str(tmp_path / "page-yesterday-web.png"))


@pytest.mark.postgres
def test_the_documented_postgres_role_reads_and_cannot_write(pg_url):
    """docs/dashboard.md's SQL, run as written (another role name, this test's database), gives a role that
    reads the reporting tables and is refused any write; the dashboard's own sessions are read-only too."""
    import re
    import uuid

    with ReportingDb(pg_url) as db:
        db.ensure_schema()
    url = sa.engine.make_url(pg_url)
    role = f"chatsales_dash_{uuid.uuid4().hex[:8]}"
    block = re.search(r"```sql\n(.*?)```", (ROOT / "docs" / "dashboard.md").read_text(), re.DOTALL).group(1)
    statements = [
        s.strip()
        for s in block.replace("chatsales_dashboard", role)
        .replace("DATABASE reporting", f'DATABASE "{url.database}"')
        .split(";")
        if s.strip()
    ]
    assert len(statements) == 6
    owner = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with owner.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
        reader_url = url.set(username=role, password="change-me").render_as_string(hide_password=False)
        assert query_published_range(reader_url) is None  # it reads (nothing is published here)
        assert not explorer.explain_order(reader_url, "100001").found
        reader = sa.create_engine(reader_url)
        with reader.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            conn.execute(sa.text("DELETE FROM kpi_daily"))
        with reader.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            conn.execute(sa.text("SET TRANSACTION READ WRITE"))  # past the read-only default: no grant
            conn.execute(sa.text("DELETE FROM kpi_daily"))
        reader.dispose()
        with (
            ReportingDb(pg_url, read_only=True) as db,
            db.engine.connect() as conn,
            pytest.raises(sa.exc.DBAPIError, match="read-only transaction"),
        ):
            conn.execute(sa.text("DELETE FROM kpi_daily"))  # the owner too, through the dashboard's session
    finally:
        with owner.connect() as conn:
            conn.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"))
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        owner.dispose()


def query_published_range(url: str):
    from chatsales.query import published_range

    return published_range(url)


def test_an_address_opens_its_view(demo, monkeypatch):
    """A bookmarked address (?period=…&channel=…) opens with those choices; values it cannot take fall back."""
    from streamlit.testing.v1 import AppTest

    home, url, days = demo
    monkeypatch.setenv("CHATSALES_HOME", str(home))
    monkeypatch.setenv("CHATSALES_REPORTING_DB_URL", url)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update({"period": "yesterday", "channel": "store", "member": "m-nobody"})
    at.run()
    assert not at.exception
    assert (
        at.sidebar.selectbox(key="period").value,
        at.sidebar.selectbox(key="channel").value,
        at.sidebar.selectbox(key="member").value,
    ) == ("yesterday", "store", "")
    want = kpis_json(home, days[-1], days[-1], "--channel", "store")
    assert app_cards(at) == shown_cards(want, CARD_PAGES["views/popsell.py"])
